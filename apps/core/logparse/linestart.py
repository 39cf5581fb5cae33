"""A line's start cut into typed tokens, and the timestamp shapes a header may begin with.

Token kinds: T timestamp (in one of SHAPES), L level word, LL level letter, N number or id,
B bracketed field, C `name:` component, S a source location closing the header (`file.go:12]`),
SRC a source location word (`server/server.go:123`), K a `key=value` field, W word, and
punctuation as itself. header.py learns a
file's header from the tokens of a sample of its lines; `ts_string` turns a matched shape back
into a string timestamps.py reads.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from .levels import REDIS_MARKS, WORDS
from .timestamps import MONTHS, ZONES

MAX_TOKENS = 16
MAX_HEAD = 256  # chars of a line start that are tokenized

# -- timestamp shapes ---------------------------------------------------------------------
# Named groups: y (4 or 2 digits), mon (number or name), d, H, M, S, frac, zone, lvl (klog).
_T = r"(?P<H>[ \d]?\d):(?P<M>\d\d):(?P<S>\d\d)(?:[.,:](?P<frac>\d{1,9}))?"
# Zone names honoured after a time: timestamps.ZONES plus these fixed offsets.
_EXTRA_ZONES = {
    "SGT": "+08:00",
    "HKT": "+08:00",
    "KST": "+09:00",
    "AEST": "+10:00",
    "AEDT": "+11:00",
    "ACST": "+09:30",
    "AWST": "+08:00",
    "NZST": "+12:00",
    "NZDT": "+13:00",
    "MSK": "+03:00",
    "WET": "+00:00",
    "WEST": "+01:00",
    "BST": "+01:00",
    "AKST": "-09:00",
    "AKDT": "-08:00",
    "HST": "-10:00",
}
_ZONE_NAMES = sorted(({*ZONES, *_EXTRA_ZONES} - {"Z"}), key=len, reverse=True)
_ZONE = r"(?P<zone>Z|[ ]?[+-]\d\d(?::?\d\d)?|[ ](?:" + "|".join(_ZONE_NAMES) + r"))?(?!\w|:\d)"
_MON = r"(?P<mon>" + "|".join(MONTHS) + r")"

SHAPES: tuple[tuple[str, str], ...] = (
    # ISO 8601 and its spellings (`T`, one or two spaces, `,` fractions, zone names)
    ("iso", r"(?P<y>\d{4})-(?P<mon>\d\d)-(?P<d>\d\d)(?:T|,? {1,2})" + _T + _ZONE),
    ("ymd-slash", r"(?P<y>\d{4})/(?P<mon>\d\d)/(?P<d>\d\d)[ T:]" + _T + _ZONE),
    ("ymd-dot", r"(?P<y>\d{4})\.(?P<mon>\d\d)\.(?P<d>\d\d)[ T]" + _T + _ZONE),
    ("ymd-compact", r"(?P<y>\d{4})(?P<mon>\d\d)(?P<d>\d\d)[-T ]" + _T + _ZONE),
    (
        "clf",
        r"(?P<d>\d\d)/" + _MON + r"/(?P<y>\d{4})[: ]" + _T + _ZONE,
    ),  # Django's `[15/Jan/2024 14:02:11]`
    # .NET's and Windows' en-US default: `3/5/2020 6:12:48 PM`
    (
        "mdy-us",
        r"(?P<mon>1[0-2]|0?[1-9])/(?P<d>[12]\d|3[01]|0?[1-9])/(?P<y>\d{4}) "
        + _T
        + r" (?P<ampm>[AaPp][Mm])(?!\w)",
    ),
    ("mdy-slash", r"(?P<mon>\d\d)/(?P<d>\d\d)/(?P<y>\d{4})[ ,T]\s?" + _T + _ZONE),
    ("yy-slash", r"(?P<y>\d\d)/(?P<mon>\d\d)/(?P<d>\d\d)[ T]" + _T + _ZONE),
    # never matched first (mdy-slash is): the header chooses it when the sample's values say
    # the first number is the day (header.py `_day_first`)
    ("dmy-slash", r"(?P<d>\d\d)/(?P<mon>\d\d)/(?P<y>\d{4})[ ,T]\s?" + _T + _ZONE),
    # likewise never first (yy-slash is): `dd/MM/yy` when the sample says so (`_yy_day_first`)
    ("dmy-yy", r"(?P<d>\d\d)/(?P<mon>\d\d)/(?P<y>\d\d)[ T]" + _T + _ZONE),
    (
        "yymmdd",
        r"(?P<y>\d\d)(?P<mon>[01]\d)(?P<d>[0-3]\d) {1,2}(?:" + _T + r"|"
        r"(?P<H2>\d\d)(?P<M2>\d\d)(?P<S2>\d\d))(?!\d)",
    ),
    ("klog", r"(?P<lvl>[DIWEF])(?P<mon>[01]\d)(?P<d>[0-3]\d) " + _T),
    # glog with the year (CockroachDB `E240115 14:02:11.123456`)
    ("klog-y", r"(?P<lvl>[DIWEF])(?P<y>\d\d)(?P<mon>[01]\d)(?P<d>[0-3]\d) " + _T),
    ("md-dash", r"(?P<mon>[01]\d)-(?P<d>[0-3]\d) " + _T + _ZONE),
    # dotted dates: `27.09.2016 20:30:31` (day first, as written in Europe), `10.30 16:49:06`
    ("dmy-dot", r"(?P<d>[0-3]\d)\.(?P<mon>[01]\d)\.(?P<y>\d{4})[ T]" + _T + _ZONE),
    ("md-dot", r"(?P<mon>[01]\d)\.(?P<d>[0-3]\d) " + _T + _ZONE),
    (
        "ctime",
        r"(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun),? "
        + _MON
        + r" {1,2}(?P<d>\d{1,2}) "
        + _T
        + r"(?: (?P<y>\d{4}))?"
        + _ZONE,
    ),
    # java.util.logging's SimpleFormatter and US locales: `Jan 26, 2014 6:09:51 PM`
    (
        "mdy-words",
        _MON + r" (?P<d>\d{1,2}), (?P<y>\d{4}),? " + _T + r" (?P<ampm>[AaPp][Mm])(?!\w)",
    ),
    ("syslog", _MON + r" {1,2}(?P<d>\d{1,2})(?: (?P<y>\d{4}))? " + _T + _ZONE),
    ("day-mon", r"(?P<d>\d{1,2})[ -]" + _MON + r"(?:[ -](?P<y>\d{4}))?[ :]" + _T + _ZONE),
    ("cjk", r"(?P<mon>\d{1,2})月 {1,2}(?P<d>\d{1,2})日? " + _T),
    ("time", _T + r"(?![\d/-])"),
    ("epoch", r"(?P<epoch>1\d{9}(?:\.\d{1,9})?|1\d{12}|1\d{15}|1\d{18})(?!\d|:\d)"),
)
_SHAPE_RX = tuple((name, re.compile(rx)) for name, rx in SHAPES)
SHAPE_BY_NAME = dict(SHAPES)
# The same shapes without the zone names: a learnt header whose sample wrote none is matched
# without trying forty names after every time.
_NUMERIC_ZONE = r"(?P<zone>Z|[ ]?[+-]\d\d(?::?\d\d)?)?(?!\w|:\d)"
SHAPE_NUMERIC_ZONE = {name: rx.replace(_ZONE, _NUMERIC_ZONE) for name, rx in SHAPES}


def named_zone(shape: str, stamp: str) -> bool:
    """Whether a stamp of `shape` ends in a zone name (`UTC`, `CEST`)."""
    m = re.match(SHAPE_BY_NAME[shape], stamp)
    zone = m.groupdict().get("zone") if m is not None else None
    return bool(zone and zone.strip().isalpha() and zone.strip() != "Z")


_FIRST_OK = frozenset("0123456789JFMASONDTWE" + "IV")  # cheap pre-check before the shapes


def _match_ts(text: str, pos: int) -> tuple[str, re.Match[str]] | None:
    c = text[pos : pos + 1]
    if not c or c not in _FIRST_OK:
        return None
    for name, rx in _SHAPE_RX:
        m = rx.match(text, pos)
        if m is not None:
            return name, m
    return None


# -- tokens of a line start ---------------------------------------------------------------
# kinds: T timestamp, L level word, LL level letter, N number/id, B bracketed field, C `name:`,
# W word, and punctuation as itself (`[`, `]`, `-`, `|`, `:`, ...).
CLOSE = {"[": "]", "(": ")", "<": ">", "{": "}"}
_WORD = re.compile(r"[^\s\[\](){}<>|,]+")
_NUM = re.compile(r"[#*]?\d+(?:[#:.\-/]\d+)*(?![\w])")
_PUNCT = re.compile(r"[|:\-,;*#.~=>]+")
_LEVEL_KEYS = frozenset(w for w in WORDS if len(w) > 1)
_KV = re.compile(r"[A-Za-z_][\w.\-]{0,63}=\S*")
# A source location `file.ext:line` (glog/klog's `reflector.go:138] `, Android's `runtime.cc:675]`)
_PADDED_COLON = re.compile(r" {1,64}:(?=[ \t]|$)")
_PID = re.compile(r"\d{1,10}(?::\d{1,10})?")  # `name[pid]:`, unbound's `name[pid:thread]:`
_NAME = re.compile(r"[A-Za-z][\w.\-]{0,63}")  # a program's name before `:level`
_SOURCE_FUNC = re.compile(r"[\w.\-/]*\.\w{1,8}:\d{1,6}:[\w.$]{1,128}")
_TAG_TAIL = re.compile(r"(?:\[\d{1,10}\])?:(?=[ \t]|$)")
# (one dot in its last part: `proxy.cse.cuhk.edu.hk:5070` is a host and its port)
_SOURCE = re.compile(r"(?:[\w.\-]*/)*[\w\-]+\.\w{1,8}:\d{1,6}")


@dataclass(slots=True)
class Token:
    kind: str
    value: str
    space: bool  # whitespace before it
    shape: str = ""  # the timestamp shape of a T
    wide: bool = False  # two or more blanks before it: a column padded to its width


def _is_level_word(word: str) -> bool:
    w = word.lower()
    if w in _LEVEL_KEYS:
        return word.isupper() or word.islower() or word.istitle()
    head, dot, tail = w.rpartition(".")  # syslog facility.severity (`daemon.debug`)
    return bool(dot) and head.isalpha() and tail in _LEVEL_KEYS


def _closing(text: str, pos: int) -> int:
    """Where the bracket opened at `pos` closes, one nested pair allowed (ZooKeeper's
    `[QuorumPeer[myid=1]/...:FastLeaderElection@774]`); -1 past 200 characters."""
    o, c = text[pos], CLOSE[text[pos]]
    close = text.find(c, pos + 1, pos + 200)
    inner = text.find(o, pos + 1, close) if close > 0 else -1
    if inner > 0 and text.find(o, inner + 1, close) < 0:
        close = text.find(c, close + 1, pos + 200)
    return close


def tokenize(text: str) -> list[Token]:
    """The typed tokens of a line's start (at most MAX_TOKENS, within MAX_HEAD chars)."""
    out: list[Token] = []
    n = min(len(text), MAX_HEAD)
    pos = 0
    closers: list[str] = []
    wide_at = -1  # the token after two or more blanks: flagged once it is appended
    while pos < n and len(out) < MAX_TOKENS:
        if 0 <= wide_at < len(out):
            out[wide_at].wide = True
            wide_at = -1
        start = pos
        while pos < n and text[pos] in " \t":
            pos += 1
        if pos >= n:
            break
        space = pos > start
        if pos - start > 1:
            wide_at = len(out)
        c = text[pos]
        ts = _match_ts(text, pos)
        if ts is not None:
            out.append(Token("T", ts[1].group(), space, ts[0]))
            pos = ts[1].end()
            continue
        if c in CLOSE:
            close = _closing(text, pos)
            inner = text[pos + 1 : close].strip() if close > 0 else ""
            first = _WORD.match(inner)
            opens_fields = (
                _match_ts(inner, 0) is not None
                # a bracket that holds a level alone (`[WARN ]`); `(default task-1)` is a field
                or (first is not None and first.group() == inner and _is_level_word(inner))
                or (first is not None and first.group().isdigit() and inner != first.group())
                # Tornado's `[D 2024-04-04 10:45:35.687 ServerApp]`: a short word, then a time
                or (
                    first is not None
                    and len(first.group()) <= 8
                    and _match_ts(inner, first.end() + 1) is not None
                )
            )
            if close > 0 and not opens_fields and "\n" not in inner:
                out.append(Token("B" + c, inner, space))
                pos = close + 1
                continue
            out.append(Token(c, c, space))
            closers.append(CLOSE[c])
            pos += 1
            continue
        if c in "])}>" and c in closers:
            closers.remove(c)
            out.append(Token(c, c, space))
            pos += 1
            continue
        m = _NUM.match(text, pos)
        if m is not None:
            out.append(Token("N", m.group(), space))
            pos = m.end()
            continue
        m = _PUNCT.match(text, pos)
        if m is not None and m.group() == "..." and _WORD.match(text, m.end()) is not None:
            m = None  # `...xer/stats/indexer.go:41`: a path cut short on the left is one word
        if m is not None:
            value = m.group()
            if value == ":" and space and text[m.end() : m.end() + 1] in (" ", "\t"):
                out.append(Token("C", "", space))  # `-- : msg`: a component left empty
                pos = m.end()
                continue
            kind = "MARK" if value in REDIS_MARKS and value != "-" else value
            out.append(Token(kind, value, space))
            pos = m.end()
            continue
        m = _KV.match(text, pos)
        if m is not None:  # `user=app,db=shop,app=[unknown]`: one key=value field
            end = m.end()
            eq = text.find("=", pos, end)
            while eq > 0:  # `…,time=2017-04-11 11:49:12 CEST`: the time is a column of its own
                if _match_ts(text, eq + 1) is not None:
                    end = eq + 1
                    break
                if text[eq + 1 : eq + 2] == '"' and _match_ts(text, eq + 2) is not None:
                    end = eq + 2  # `time="2019-04-26T10:53:30Z"`: the quote stays with the key
                    break
                eq = text.find("=", eq + 1, end)
            out.append(Token("K", text[pos:end], space))
            pos = end
            continue
        m = _WORD.match(text, pos)
        if m is None:
            out.append(Token(c, c, space))
            pos += 1
            continue
        word = m.group()
        end = m.end()
        if end < len(text) and text[end] == "]" and "]" not in closers and _SOURCE.fullmatch(word):
            out.append(Token("S", word, space))  # `file.go:138]`: the header ends here
            end += 1
        elif (
            len(word) > 3
            and word[-1].isalpha()
            and (cut := max(word.rfind(":"), word.rfind("/"))) > 0
            and _is_level_word(word[cut + 1 :])
            and _NAME.fullmatch(word, 0, cut) is not None
        ):
            out.append(Token("W", word[: cut + 1], space))  # `Zigbee2MQTT:info`: a name
            out.append(Token("L", word[cut + 1 :], False))  # and its level
        elif "/" in word and _is_level_word(head := word.partition("/")[0]):
            end = pos + len(head)  # `INFO/MainProcess`: a level, then its process
            out.append(Token("L", head, space))
        elif word[1:2] == "/" and word[0] in "VDIWEFA":
            end = pos + 1  # logcat's brief `E/AndroidRuntime(342):`: a level letter, its tag
            out.append(Token("LL", word[0], space))
        elif (
            word.endswith(":")
            and len(word) > 1
            and (end >= len(text) or text[end] in " \t")
            and not _SOURCE.fullmatch(word[:-1])  # `factory.go:134:` starts the message
        ):
            if _is_level_word(word[:-1]):  # `ERROR:`, `production.ERROR:`, `daemon.debug:`
                out.append(Token("L", word[:-1], space))
                out.append(Token(":", ":", False))
            else:
                out.append(Token("C", word[:-1], space))
        elif text[end : end + 1] == " " and (pad := _PADDED_COLON.match(text, end)) is not None:
            out.append(Token("C", word, space))  # padded names: `I Process : msg`, logback's
            end = pad.end()  # `o.s.b.SpringApplication          : msg`
        elif (
            end < len(text)
            and text[end] == "["
            and (close := text.find("]:", end)) > 0
            and _PID.fullmatch(text, end + 1, close) is not None
        ):
            out.append(Token("C", text[pos:close], space))  # `name[pid]:`
            end = close + 2
        elif (
            end < len(text)
            and text[end] == "("
            and (close := text.find(")", end, end + 64)) > 0
            and (tail := _TAG_TAIL.match(text, close + 1)) is not None
        ):
            out.append(Token("C", text[pos : close + 1], space))  # `crond(pam_unix)[2915]:`
            end = tail.end()
        elif text[end : end + 2] == "()" and _SOURCE_FUNC.fullmatch(word):
            out.append(Token("SRC", word + "()", space))  # Gitea's `cmd/web.go:308:listen()`
            end += 2
        elif _SOURCE.fullmatch(word) and (end >= len(text) or text[end] in " \t"):
            out.append(Token("SRC", word, space))  # `server/server.go:123 `, `Foo.java:42 `
        elif _is_level_word(word):
            out.append(Token("L", word, space))
        elif len(word) == 1 and word.isalpha():
            out.append(Token("LL", word, space))
        else:
            out.append(Token("W", word, space))
        pos = end
    if 0 <= wide_at < len(out):
        out[wide_at].wide = True
    return out


def ts_string(d: dict, shape: str, p: str, year: str | None = None) -> str | None:
    """The matched groups as a string timestamps.py reads: ISO when the year is known,
    `Mon dd HH:MM:SS.frac` (the syslog form, year inferred) when it is not."""
    if shape == "epoch":
        return d[p + "epoch"]
    hh = d.get(p + "H") or d.get(p + "H2")
    if hh is None:
        return None
    mm = d.get(p + "M") or d[p + "M2"]
    ss = d.get(p + "S") or d[p + "S2"]
    frac = d.get(p + "frac")
    hour = int(hh)
    ampm = d.get(p + "ampm")
    if ampm:
        hour = hour % 12 + (12 if ampm[0] in "Pp" else 0)
    clock = f"{hour:02d}:{mm}:{ss}" + (f".{frac}" if frac else "")
    if shape == "time":
        return clock
    y = d.get(p + "y") or year
    mon = d[p + "mon"]
    month = MONTHS.get(mon) if mon.isalpha() else int(mon)
    if not month:
        return None
    if y is not None and len(y) == 2:
        y = f"20{y}" if int(y) < 70 else f"19{y}"
    zone = (d.get(p + "zone") or "").strip()
    if zone and zone[0] not in "+-Z":
        zone = _EXTRA_ZONES.get(zone, "")
    elif zone and zone[0] in "+-":
        digits = zone[1:].replace(":", "")
        zone = f"{zone[0]}{digits[:2]}:{(digits[2:4] or '00')}"
    if y is None:
        name = next(k for k, v in MONTHS.items() if v == month)
        return f"{name} {int(d[p + 'd']):02d} {clock}"
    return f"{y}-{month:02d}-{int(d[p + 'd']):02d}T{clock}{zone}"


def _zone_offsets() -> dict[str, str]:
    out = dict(_EXTRA_ZONES)
    for name, tz in ZONES.items():
        off = tz.utcoffset(None)
        if off is None:
            continue
        minutes = int(off.total_seconds() // 60)
        sign = "+" if minutes >= 0 else "-"
        minutes = abs(minutes)
        out[name] = f"{sign}{minutes // 60:02d}:{minutes % 60:02d}"
    return out


_EXTRA_ZONES = _zone_offsets()


_MONTH_NAMES: dict[int, str] = {}
for _name, _number in MONTHS.items():
    _MONTH_NAMES.setdefault(_number, _name)


def ts_builder(shape: str, prefix: str, groupindex: Mapping[str, int]):
    """`ts_string` for one compiled pattern, reading a match's `groups()` by position: the
    hot path of a learnt header (one call per line) without a dict per match."""

    def at(name: str) -> int | None:
        i = groupindex.get(prefix + name)
        return None if i is None else i - 1

    if shape == "epoch":
        i_epoch = at("epoch")
        return lambda g, year=None: g[i_epoch]
    i_h, i_h2, i_m, i_m2, i_s, i_s2 = at("H"), at("H2"), at("M"), at("M2"), at("S"), at("S2")
    i_frac, i_y, i_mon, i_d, i_zone = at("frac"), at("y"), at("mon"), at("d"), at("zone")
    i_ampm = at("ampm")
    months = MONTHS
    zones = _EXTRA_ZONES

    dates: dict[tuple, str | None] = {}  # (y, mon, d, zone, year) → the clock's surroundings

    def date_of(key: tuple) -> str | None:
        y, mon, d, zone, year = key
        y = y or year
        month = months.get(mon) if mon.isalpha() else int(mon)
        if not month:
            return None
        day = int(d)
        if y is None:
            return f"{_MONTH_NAMES[month]} {day:02d} \0"
        if len(y) == 2:
            y = f"20{y}" if int(y) < 70 else f"19{y}"
        zone = zone.strip() if zone else ""
        if zone and zone[0] not in "+-Z":
            zone = zones.get(zone, "")
        elif zone and zone[0] in "+-":
            digits = zone[1:].replace(":", "")
            zone = f"{zone[0]}{digits[:2]}:{(digits[2:4] or '00')}"
        return f"{y}-{month:02d}-{day:02d}T\0{zone}"

    def build(g: tuple, year: str | None = None) -> str | None:
        hh = g[i_h] if i_h is not None else None
        if hh is None and i_h2 is not None:
            hh, mm, ss = g[i_h2], g[i_m2], g[i_s2]  # type: ignore[index]
        else:
            mm, ss = g[i_m], g[i_s]  # type: ignore[index]
        if hh is None:
            return None
        if i_ampm is not None and g[i_ampm]:
            hh = f"{int(hh) % 12 + (12 if g[i_ampm][0] in 'Pp' else 0):02d}"
        elif len(hh) != 2 or hh[0] == " ":
            hh = f"{int(hh):02d}"
        frac = g[i_frac] if i_frac is not None else None
        clock = f"{hh}:{mm}:{ss}.{frac}" if frac else f"{hh}:{mm}:{ss}"
        if i_mon is None:
            return clock
        key = (
            g[i_y] if i_y is not None else None,
            g[i_mon],
            g[i_d],  # type: ignore[index]
            g[i_zone] if i_zone is not None else None,
            year,
        )
        around = dates.get(key, "")
        if around == "":
            if len(dates) > 4096:
                dates.clear()
            around = dates[key] = date_of(key)
        return None if around is None else around.replace("\0", clock)

    return build
