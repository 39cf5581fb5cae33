"""The masking catalogue: which parts of a log message are variables before mining.

In the spirit of Sentry's `grouping/parameterization.py`: every mask is named data with a short
reason, a regex, examples it must rewrite and counter-examples it must leave alone (the tests run
all of them). ONE configuration for every system: nothing here is tuned to a single product's
tokens.

Masks work on one whitespace-separated token at a time (the miner tokenises on whitespace), so a
mask never spans a space; the only exception is quoted values, which `mask_message` rewrites on
the whole line first. Every match is replaced by `<*>` (`WILDCARD`), keeping the literal text
around it: `10.0.0.1:8080` → `<*>:<*>`, `uid=0` → `uid=<*>`, `[1.2.3.4]` → `[<*>]`.

All patterns are linear-time: no nested quantifiers over overlapping classes, lookarounds only
of fixed width or over a single character class, anchored at token or word boundaries.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

WILDCARD = "<*>"
DIGITS = "0123456789"  # in `Mask.needs`: any decimal digit (`\d`), not only these


@dataclass(frozen=True, slots=True)
class Mask:
    name: str
    pattern: str  # verbose regex, one token (no whitespace)
    why: str
    examples: list[tuple[str, str]] = field(default_factory=list)  # (token, masked token)
    counter_examples: list[str] = field(default_factory=list)  # tokens left unchanged
    # characters of which a token must hold one for the pattern to match anywhere in it
    # (`DIGITS`: any decimal digit, Unicode ones too); tokens without any skip the mask
    needs: str = ""


# Characters that may not touch a variable on its left / right for it to be a whole value.
_L = r"(?<![\w.])"  # not glued to a word or a dotted name on the left
_R = r"(?![\w])"  # not glued to a word on the right

# Top-level domains accepted as the last label of a host name. Generic ones are enough with two
# labels (`example.com`); a two-letter (country code) label needs three labels (`a.b.de`) so
# that file names (`setup.py`, `run.sh`) and attribute access (`obj.id`) are not taken for hosts.
_GTLDS = "com|net|org|edu|gov|mil|int|info|biz|io|dev|app|cloud|local|localdomain|internal|lan|home|corp|arpa"
_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"

MASKS: list[Mask] = [
    Mask(
        "url",
        r"\b[a-zA-Z][a-zA-Z0-9+.\-]{1,15}://[^\s\"'<>]+",
        "scheme://… up to the next space or quote: the whole URL is one value",
        [("https://example.com/a?b=1", "<*>"), ("jdbc:postgresql://db:5432/x", "jdbc:<*>")],
        ["http:", "mailto"],
        needs=":",
    ),
    Mask(
        "email",
        r"(?<![\w.+\-])[\w.+\-]{1,64}@" + _LABEL + r"(?:\." + _LABEL + r")+",
        "user@domain.tld (a Java object hash `Foo@1a2b` has no dot after the @)",
        [("alice@example.com", "<*>"), ("<bob.smith+x@mail.co.uk>", "<<*>>")],
        ["Foo@1a2b3c", "@home"],
        needs="@",
    ),
    Mask(
        "uuid",
        r"\b[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}\b",
        "RFC 4122 UUIDs, any version",
        [
            ("550e8400-e29b-41d4-a716-446655440000", "<*>"),
            ("id=550E8400-E29B-41D4-A716-446655440000,", "id=<*>,"),
        ],
        ["550e8400-e29b"],
        needs="-",
    ),
    Mask(
        "datetime",
        r"\b\d{4}-\d{2}-\d{2}(?:[T_]\d{2}:\d{2}(?::\d{2}(?:[.,]\d{1,9})?)?(?:Z|[+\-]\d{2}:?\d{2})?)?\b|"
        r"\b\d{1,2}/(?:\d{1,2}|[A-Z][a-z]{2})/\d{2,4}(?::\d{2}:\d{2}:\d{2})?\b",
        "ISO 8601 dates and timestamps; d/m/y and CLF `10/Oct/2000:13:55:36`",
        [
            ("2015-07-29", "<*>"),
            ("2024-01-02T03:04:05.123Z", "<*>"),
            ("[10/Oct/2000:13:55:36", "[<*>"),
        ],
        ["2015-07"],
        needs="-/",
    ),
    Mask(
        "time",
        r"\b\d{1,2}:\d{2}:\d{2}(?:[.,]\d{1,9})?\b",
        "clock times `17:41:44,747` (before IPv6, which would also match colon groups)",
        [("17:41:44,747", "<*>"), ("(04:47:44)", "(<*>)")],
        ["sshd:auth"],
        needs=":",
    ),
    Mask(
        "ipv4",
        r"(?:(?<![\w./])/)?" + _L + r"\d{1,3}(?:\.\d{1,3}){3}(?![\w.]|\.\d)",
        "dotted quads; a leading `/` (Java's InetAddress.toString) is part of the value; the port "
        "after `:` is a number on its own, so `1.2.3.4:80` becomes `<*>:<*>`",
        [
            ("10.251.73.220:50010", "<*>:<*>"),
            ("/10.10.34.11:3888", "<*>:<*>"),
            ("[173.234.31.186]", "[<*>]"),
            ("rhost=1.2.3.4", "rhost=<*>"),
        ],
        ["1.2.3.4.5.6"],
        needs=".",
    ),
    Mask(
        "ipv6",
        r"(?<![\w:.])(?:[0-9a-fA-F]{1,4}:){7}[0-9a-fA-F]{1,4}(?![\w:])|"
        r"(?<![\w:.])(?:[0-9a-fA-F]{1,4}:){0,6}[0-9a-fA-F]{0,4}::(?:[0-9a-fA-F]{1,4}:){0,6}[0-9a-fA-F]{0,4}(?![\w:])",
        "full eight-group form, or any `::` compressed form; `[::1]:8080` keeps its port apart",
        [
            ("fe80::1ff:fe23:4567:890a", "<*>"),
            ("[::1]:8080", "[<*>]:<*>"),
            ("2001:db8:0:0:0:0:2:1", "<*>"),
        ],
        ["std::vector", "a:b:c"],
        needs=":",
    ),
    Mask(
        "hostname",
        _L + r"(?:" + _LABEL + r"\.)+(?:" + _GTLDS + r")(?![\w\-]|\.\w)|"
        r"" + _L + r"(?:" + _LABEL + r"\.){2,}[a-z]{2}(?![\w\-]|\.\w)",
        "fully qualified host names, recognised by their top-level domain",
        [
            ("ns.example.com", "<*>"),
            ("195-154-37-122.rev.poneytelecom.eu", "<*>"),
            ("db-1.prod.internal:5432", "<*>:<*>"),
        ],
        ["java.io.IOException:", "setup.py", "n.leader", "com.jcraft.jsch.JSchException:"],
        needs=".",
    ),
    Mask(
        "path",
        r"(?:(?<![\w./\-])|(?<==))(?:[A-Za-z]:\\|~?/|\.{1,2}/)[\w.\-@+%~,\\]*(?:/[\w.\-@+%~,\\]*)*",
        "absolute, home and relative (`./x`) file paths and Windows drive paths; stops at `:`, so "
        "`/a/b.py:12` keeps its line number apart",
        [
            ("/etc/httpd/conf/workers2.properties", "<*>"),
            ("/var/www/html/", "<*>"),
            ("path=/tmp/x.log", "path=<*>"),
            ("C:\\Windows\\x.dll", "<*>"),
        ],
        ["n/a", "TCP/IP", "read/write"],
        needs="/\\",
    ),
    Mask(
        "block_id",
        r"\bblk_-?\d+\b",
        "HDFS-style block ids `blk_-123` (the sign is part of the id)",
        [("blk_-6952295868487656571", "<*>"), ("blk_38865049064139660.meta", "<*>.meta")],
        ["blk_"],
        needs="_",
    ),
    Mask(
        "prefixed_id",
        r"(?<![\w\-.])[A-Za-z]{1,20}[_\-](?=[\w\-]{0,64}?\d{3})[A-Za-z0-9]*\d[\w\-]*",
        "request/trace/job/container ids: a word, `_` or `-`, then an id with at least three "
        "digits in a row (`req-8f3a9120`, `job_201811101024_0010`, `http-nio-8080-exec-1`)",
        [
            ("req-8f3a9120", "<*>"),
            ("container_1445144423722_0020_01_000001", "<*>"),
            ("trace_id=abc-12345", "trace_id=<*>"),
        ],
        ["mod_jk", "jk2_init()", "utf-8", "x86_64"],
        needs="_-",
    ),
    Mask(
        "id_segment",
        r"(?<=[A-Za-z]{2}_)\d+(?:_\d+)*(?=_|(?![\w]))",
        "numbered parts of an identifier after a word and `_`: `broadcast_9_piece0`, `rdd_2_1` "
        "(a word of two letters or more before it, so `x86_64` stays a name)",
        [("broadcast_9_piece0", "broadcast_<*>_piece0"), ("rdd_2_1", "rdd_<*>")],
        ["x86_64", "jk2_init()", "piece0"],
        needs="_",
    ),
    Mask(
        "k8s_pod",
        r"(?<=[a-z0-9]-)(?=[a-z0-9]{0,9}\d)[a-z0-9]{6,10}-[a-z0-9]{5}\b",
        "Kubernetes pod name suffixes (replica-set hash + random suffix): `web-7d9f8b6c5-x2k4q`",
        [
            ("web-7d9f8b6c5-x2k4q", "web-<*>"),
            ("pod/api-server-5f6b7c8d9-abcde", "pod/api-server-<*>"),
        ],
        ["web-server", "x-forwarded-for"],
        needs="-",
    ),
    Mask(
        "java_hash",
        r"(?<=[\w$]@)[0-9a-fA-F]{4,16}\b",
        "identity hash after a class name: `QuorumServer@6d9d5b4` keeps the class",
        [
            ("QuorumPeer$QuorumServer@6d9d5b4", "QuorumPeer$QuorumServer@<*>"),
            ("Foo@1A2B3C", "Foo@<*>"),
        ],
        ["@1a2b3c"],
        needs="@",
    ),
    Mask(
        "hex",
        r"\b0[xX][0-9a-fA-F]+\b|"
        r"(?<![\w\-.])(?=[0-9a-fA-F]*\d)(?=[0-9a-fA-F]*[a-fA-F])[0-9a-fA-F]{6,}\b",
        "`0x…` and bare hex strings of 6+ digits mixing digits and letters (hashes, session ids)",
        [
            ("0x14ede63a5a70000", "<*>"),
            ("sessionid:0x2", "sessionid:<*>"),
            ("d41d8cd98f00b204e9800998ecf8427e", "<*>"),
        ],
        ["deadbeef", "facade", "12345"],
        needs=DIGITS,
    ),
    Mask(
        "token",
        r"(?<![\w\-.])(?=[A-Za-z0-9_\-]*\d)(?=[A-Za-z0-9_\-]*[a-z])(?=[A-Za-z0-9_\-]*[A-Z])[A-Za-z0-9_\-]{20,}\b",
        "long random-looking tokens (API keys, base64ish ids): 20+ chars mixing cases and digits",
        [("AbX9kLm2Qz8RtYp3Wv7N", "<*>")],
        ["AbstractBeanFactory", "QuorumCnxManager"],
        needs=DIGITS,
    ),
    Mask(
        "duration",
        r"(?<![\w.])[\-+]?\d+(?:\.\d+)?(?:ns|us|µs|ms|s|sec|secs|seconds?|m|min|mins|minutes?|h|hrs?|hours?|d|days?)\b",
        "a number with a time unit is one value: `30000ms`, `1.5s`, `10m`",
        [("30000ms", "<*>"), ("1.5s", "<*>"), ("(took=12ms)", "(took=<*>)")],
        ["ms", "2nd"],
        needs=DIGITS,
    ),
    Mask(
        "size",
        r"(?<![\w.])\d+(?:\.\d+)?(?:[KMGTPE]i?B|[kKMGTP]|B|b|bytes?|kb|mb|gb|KiB)\b",
        "a number with a size unit is one value: `512MB`, `4k`, `1.5GiB`, `100bytes`",
        [("512MB", "<*>"), ("4k", "<*>"), ("size=1.5GiB", "size=<*>")],
        ["MB", "4kids"],
        needs=DIGITS,
    ),
    Mask(
        "number",
        r"(?<![\w.])(?:[<>]=?|~)?[\-+]?\d+(?:[.,:]\d+)*(?:[eE][\-+]?\d+)?(?![\w])",
        "integers, decimals, versions (`1.2.3`), signed values and bounds (`<1`, `>=5`: one "
        "value printed as `<1 sec` or `12 sec`); digits glued to letters (`ssh2`, `jk2_init`, "
        "`log4j`) are part of a name, not a number",
        [
            ("3200", "<*>"),
            ("-2", "<*>"),
            ("(uid=0)", "(uid=<*>)"),
            ("11:", "<*>:"),
            ("1.7.0", "<*>"),
            ("worker-3", "worker-<*>"),
            ("<1", "<*>"),
        ],
        ["ssh2", "jk2_init()", "log4j", "v2", "x86_64"],
        needs=DIGITS,
    ),
]

_METHODS = "GET|POST|PUT|DELETE|HEAD|OPTIONS|PATCH|CONNECT|TRACE"

# An HTTP request line is the event of an access log: the method and the route stay, the
# variable segments of the path (ids, hashes) and the query string become `<*>`.
REQUEST = Mask(
    "request",
    r"(?<![\w\\])\"(?:" + _METHODS + r")\ [^\"\s]{0,2000}\ HTTP/\d(?:\.\d)?\"",
    "a quoted HTTP request line, kept as method + route shape",
    [
        ('"GET /api/users/123?x=1 HTTP/1.1"', '"GET /api/users/<*>?<*> HTTP/<*>"'),
        ('"POST /login HTTP/1.0"', '"POST /login HTTP/<*>"'),
    ],
    ['"hello world"'],
    needs='"',
)
_VARIABLE_SEGMENT = re.compile(r"\d+|.*\d.*|[0-9a-fA-F\-]{16,}")


def _route(path: str) -> str:
    """`/api/users/123?x=1` → `/api/users/<*>?<*>`: segments with digits are values, except
    short names like `v2` (digits glued to two letters or more)."""
    path, _, query = path.partition("?")
    parts = [
        WILDCARD
        if _VARIABLE_SEGMENT.fullmatch(p) and not re.fullmatch(r"[A-Za-z]{1,8}\d", p)
        else p
        for p in path.split("/")
    ]
    return "/".join(parts) + ("?" + WILDCARD if query else "")


# Quoted values may contain spaces: `tokenize` keeps a quoted value inside one token, and this
# mask runs first. A quoted string directly followed by `:` is a JSON key, and an HTTP request
# line (`"GET /x HTTP/1.1"`) is kept so the method and path stay visible to the miner.
QUOTED = Mask(
    "quoted",
    r"(?<![\w\\])\"(?!(?:GET|POST|PUT|DELETE|HEAD|OPTIONS|PATCH|CONNECT|TRACE)\ )[^\"\n]{0,200}\"(?!\s*:)|"
    r"(?<![\w\\])'[^'\n]{0,200}'(?![\w])",
    "single- or double-quoted values, including their spaces",
    [
        ('user "alice smith" logged in', 'user "<*>" logged in'),
        ("table 'orders' missing", "table '<*>' missing"),
        ('{"level": "info"}', '{"level": "<*>"}'),
    ],
    ["Can't find child 4 in scoreboard", '{"level": 3}', '"GET /index.html HTTP/1.1"'],
    needs="\"'",
)

ALL_MASKS: list[Mask] = [REQUEST, QUOTED, *MASKS]


def compile_masks(masks: list[Mask]) -> re.Pattern[str]:
    """One alternation with a named group per mask: a single left-to-right scan per token."""
    return re.compile("|".join(f"(?P<{m.name}>{m.pattern})" for m in masks), re.VERBOSE)


TOKEN_RE = compile_masks(ALL_MASKS)

# A token can only match the masks whose `needs` it meets: the catalogue narrowed to those
# rewrites it exactly as the whole one does (the masks left out match nowhere in it, so the
# same alternative wins at every position) in a fraction of the time. Narrowed catalogues
# are compiled on first use, one per set of needs met (a few dozen at most).
_NEED_CHARS = frozenset("".join(m.needs for m in ALL_MASKS if m.needs != DIGITS))
_ASCII_DIGITS = frozenset(DIGITS)
_narrowed: dict[tuple[bool, frozenset[str]], re.Pattern[str] | None] = {}


def _has_digit(token: str) -> bool:
    """Does `token` hold a decimal digit (any Unicode one, as the masks' digit class)?"""
    if not _ASCII_DIGITS.isdisjoint(token):
        return True
    return not token.isascii() and any(c.isdecimal() for c in token)


def catalogue_for(token: str) -> re.Pattern[str] | None:
    """The catalogue narrowed to the masks `token` meets the needs of (None: no mask can
    match it, the token masks to itself)."""
    key = (_has_digit(token), _NEED_CHARS.intersection(token))
    regex = _narrowed.get(key)
    if regex is None and key not in _narrowed:
        digit, chars = key
        masks = [
            m for m in ALL_MASKS if (digit if m.needs == DIGITS else not chars.isdisjoint(m.needs))
        ]
        regex = compile_masks(masks) if masks else None
        _narrowed[key] = regex
    return regex


# Whitespace splits tokens, except inside a quoted value (which `QUOTED` then masks whole).
_TOKEN_SPLIT_RE = re.compile(
    r"""(?:(?<![\w\\])"[^"\n]{0,200}"|(?<![\w\\])'[^'\n]{0,200}'(?![\w])|\S)+"""
)


def replacement(m: re.Match[str]) -> str:
    """What a match of the catalogue (`TOKEN_RE`) becomes."""
    if m.lastgroup == "request":
        method, path, _version = m.group(0)[1:-1].split(" ")
        return f'"{method} {_route(path)} HTTP/{WILDCARD}"'
    if m.lastgroup == "quoted":
        return m.group(0)[0] + WILDCARD + m.group(0)[0]
    return WILDCARD


def tokenize(message: str) -> list[str]:
    """Split on whitespace, keeping quoted values (which may contain spaces) in one token."""
    if '"' not in message and "'" not in message:
        return message.split()
    return _TOKEN_SPLIT_RE.findall(message)


# Every digit becomes "1": masks see digit *classes* only, so a token and its shape mask alike.
# Lets `10.1.2.3:80` and `10.7.7.9:443` share one cache entry. Text holding `0x` keeps its
# zeros (the hex mask needs `0x`), the only place a mask tells one digit from another.
SHAPE_TABLE = bytes.maketrans(b"0123456789", b"1111111111")  # on UTF-8 bytes: 5x faster than str
SHAPE_TABLE_0X = bytes.maketrans(b"23456789", b"11111111")


def digit_shape(text: str) -> str:
    """`text` with digits replaced by 1 (1-9 only when it holds `0x`): masks treat a text and
    its shape alike."""
    # `"0x" in text` on the str: on bytes, `in` first tries its operand as an int and raises
    table = SHAPE_TABLE_0X if "0x" in text or "0X" in text else SHAPE_TABLE
    return text.encode("utf-8", "surrogatepass").translate(table).decode("utf-8", "surrogatepass")


def mask_token(token: str) -> str:
    """Mask one token (as produced by `tokenize`)."""
    regex = catalogue_for(token)
    return token if regex is None else regex.sub(replacement, token)


def mask_message(message: str) -> str:
    """Mask a whole message; whitespace between tokens is normalised to single spaces."""
    return " ".join(mask_token(t) for t in tokenize(message))
