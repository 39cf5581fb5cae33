"""Hostile and ordinary bytes → lines: never an exception, never a lost line."""

from __future__ import annotations

import codecs
import io
import random
import re
import tracemalloc

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from apps.core.logparse.decode import SNIFF_BYTES, DecodeReport, iter_lines, sniff
from apps.core.logparse.limits import DEFAULT_LIMITS, KiB, Limits, MiB
from apps.core.logparse.record import Line
from conftest import examples


def decode(data: bytes, limits: Limits = DEFAULT_LIMITS) -> tuple[list[Line], DecodeReport]:
    report = DecodeReport()
    return list(iter_lines(io.BytesIO(data), limits=limits, report=report)), report


def expected_line_count(data: bytes) -> int:
    """Terminators in the decoded text, plus one for a non-empty unterminated tail."""
    text = data.decode(sniff(data[:SNIFF_BYTES]).encoding, "replace").removeprefix("\ufeff")
    terminators = len(re.findall(r"\r\n|\r|\n", text))
    return terminators + (1 if text and not text.endswith(("\r", "\n")) else 0)


# (id, input, expected texts, substrings expected in the warnings; [] = no warnings)
CASES = [
    ("empty file", b"", [], ["empty"]),
    ("lf", b"a\nb\n", ["a", "b"], []),
    ("crlf", b"a\r\nb\r\n", ["a", "b"], []),
    ("cr only (old Mac, some serial consoles)", b"a\rb\rc", ["a", "b", "c"], []),
    ("mixed terminators", b"a\r\nb\rc\nd", ["a", "b", "c", "d"], []),
    ("cr then crlf is two lines", b"a\r\r\nb", ["a", "", "b"], []),
    ("blank lines are kept", b"\n\n\n", ["", "", ""], []),
    ("no final newline", b"last line", ["last line"], []),
    ("utf-8 bom", codecs.BOM_UTF8 + b"h\xc3\xa9\n", ["hé"], []),
    ("bom only", codecs.BOM_UTF8, [], ["empty"]),
    (
        "utf-16 le with bom",
        codecs.BOM_UTF16_LE + "héllo\r\nwörld\n".encode("utf-16-le"),
        ["héllo", "wörld"],
        ["UTF-16-LE (byte-order mark)"],
    ),
    (
        "utf-16 be with bom",
        codecs.BOM_UTF16_BE + "ERROR x\nINFO y".encode("utf-16-be"),
        ["ERROR x", "INFO y"],
        ["UTF-16-BE (byte-order mark)"],
    ),
    (
        "utf-16 le without bom (PowerShell redirection)",
        "2024-05-01 ERROR boom\r\n2024-05-01 INFO ok\r\n".encode("utf-16-le"),
        ["2024-05-01 ERROR boom", "2024-05-01 INFO ok"],
        ["guessed from NUL bytes"],
    ),
    (
        "utf-16 surrogate pair and lone surrogate",
        codecs.BOM_UTF16_LE + "a😀\n".encode("utf-16-le") + b"\x00\xd8b\x00\n\x00",
        ["a😀", "\ufffdb"],
        ["invalid byte"],
    ),
    (
        "invalid utf-8 (latin-1 and garbage)",
        b"caf\xe9 ok\n\xff\xfe\xfd\nfine\n",
        ["caf\ufffd ok", "\ufffd\ufffd\ufffd", "fine"],
        ["4 invalid byte(s) in 2 line(s)"],
    ),
    ("nul bytes", b"a\x00b\n\x00\x00\n", ["ab", ""], ["3 NUL byte(s)"]),
    (
        "copytruncate leaves a run of NULs before the text",
        b"\x00" * 5000 + b"INFO started\nINFO ready\n",
        ["INFO started", "INFO ready"],
        ["5,000 NUL byte(s)"],
    ),
    (
        "ansi colours, OSC title and hyperlink",
        b"\x1b[1;31mERROR\x1b[0m boom\n\x1b]0;title\x07\x1b]8;;http://x\x1b\\link\x1b]8;;\x1b\\\n",
        ["ERROR boom", "link"],
        ["escape codes were removed from 2 line(s)"],
    ),
    ("a lone ESC is kept", b"a\x1b\n", ["a\x1b"], []),
    (
        "unterminated OSC loses only its introducer",
        b"b\x1b]unterminated\n",
        ["bunterminated"],
        ["escape codes were removed from 1 line(s)"],
    ),
    ("tabs and form feeds are kept", b"a\tb\x0cc\n", ["a\tb\x0cc"], []),
]


@pytest.mark.parametrize(
    ("data", "expected", "warned"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_decode_cases(data: bytes, expected: list[str], warned: list[str]) -> None:
    lines, report = decode(data)
    assert [line.text for line in lines] == expected
    assert [line.number for line in lines] == list(range(1, len(expected) + 1))
    assert len(lines) == expected_line_count(data) == report.lines
    assert not report.looks_binary
    if warned:
        for needle in warned:
            assert any(needle in w for w in report.warnings), (needle, report.warnings)
    else:
        assert report.warnings == []
    # the same result whatever the chunk size
    small = [line.text for line in decode(data, Limits(read_chunk_bytes=1))[0]]
    assert small == expected


@pytest.mark.parametrize(
    ("head", "kind", "detail"),
    [
        (b"", "empty", "empty"),
        (b"INFO hello\n", "text", "UTF-8"),
        (b"\x1f\x8b\x08\x00" + bytes(20), "gzip", "gzip"),
        (b"PK\x03\x04" + bytes(40), "zip", "zip"),
        (b"PK\x05\x06" + bytes(18), "zip", "zip"),
        (bytes(257) + b"ustar\x0000" + bytes(240), "tar", "tar"),
        (b"\x7fELF\x02\x01\x01\x00" + bytes(56), "binary", "ELF"),
        (b"\x89PNG\r\n\x1a\n" + bytes(30), "binary", "PNG"),
        (b"\xfd7zXZ\x00\x00\x04", "binary", "xz"),
        (random.Random(1).randbytes(SNIFF_BYTES), "binary", "binary data"),
        (bytes(4096), "text", ""),  # all NULs so far: not enough to call it binary
        (codecs.BOM_UTF16_LE + "hi".encode("utf-16-le"), "text", "UTF-16-LE"),
    ],
)
def test_sniff(head: bytes, kind: str, detail: str) -> None:
    found = sniff(head)
    assert found.kind == kind
    assert detail in found.detail


@pytest.mark.parametrize(
    "data",
    [
        random.Random(7).randbytes(200_000),
        b"\x7fELF\x02\x01\x01\x00" + random.Random(8).randbytes(50_000),
        bytes(range(256)) * 100,
    ],
    ids=["random bytes", "elf executable", "every byte value"],
)
def test_binary_input_is_reported_not_raised(data: bytes) -> None:
    lines, report = decode(data)
    assert report.looks_binary
    assert any("not a text log" in w for w in report.warnings)
    assert len(lines) == expected_line_count(data)


def test_truncation_keeps_prefix_on_a_character_boundary() -> None:
    data = ("é" * 200_000).encode() + b"\nnext\n"  # 400 000 bytes: over the 256 KiB limit
    lines, report = decode(data)
    assert [line.truncated for line in lines] == [True, False]
    assert lines[0].text == "é" * (128 * KiB)  # 2 bytes each, no half character
    assert lines[1] == Line(2, "next", False)
    assert report.truncated_lines == 1
    assert report.replaced_bytes == 0
    assert report.warnings == ["1 line(s) longer than 256.0 KiB were truncated"]


def test_line_exactly_at_the_limit_is_not_truncated() -> None:
    limits = Limits(max_line_bytes=10, read_chunk_bytes=4)
    lines, _ = decode(b"0123456789\n01234567890\n", limits)
    assert [(line.text, line.truncated) for line in lines] == [
        ("0123456789", False),
        ("0123456789", True),
    ]


class _Endless(io.RawIOBase):
    """`size` bytes of one long line (then `tail`), produced on the fly: no 50 MB buffer."""

    def __init__(self, size: int, tail: bytes) -> None:
        self._left = size
        self._tail = tail
        self._block = b"0123456789abcdef" * 4096  # 64 KiB

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:  # type: ignore[override]
        if self._left > 0:
            data = self._block[: min(len(buffer), self._left, len(self._block))]
            self._left -= len(data)
        else:
            data, self._tail = self._tail[: len(buffer)], self._tail[len(buffer) :]
        buffer[: len(data)] = data
        return len(data)


def test_fifty_megabyte_line_streams_in_bounded_memory() -> None:
    stream = io.BufferedReader(_Endless(50 * MiB, b"\nafter\n"), buffer_size=64 * KiB)
    report = DecodeReport()
    tracemalloc.start()
    try:
        lines = [
            (line.number, len(line.text), line.truncated)
            for line in iter_lines(stream, report=report)
        ]
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert lines == [(1, 256 * KiB, True), (2, 5, False)]
    assert report.bytes_read == 50 * MiB + 7
    assert peak < 4 * MiB, f"peak {peak / MiB:.1f} MiB"


@pytest.mark.fuzz
@settings(max_examples=examples(400), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.binary(max_size=600), chunk=st.integers(1, 9), max_line=st.integers(1, 12))
def test_arbitrary_bytes_never_raise_and_keep_every_line(
    data: bytes, chunk: int, max_line: int
) -> None:
    limits = Limits(max_line_bytes=max_line, read_chunk_bytes=chunk)
    lines, report = decode(data, limits)
    assert len(lines) == expected_line_count(data) == report.lines
    assert [line.number for line in lines] == list(range(1, len(lines) + 1))
    assert all("\x00" not in line.text for line in lines)
    untruncated, _ = decode(data)  # default limits: same lines, only longer texts
    assert len(untruncated) == len(lines)
    assert not any(line.truncated for line in untruncated)


@pytest.mark.fuzz
@settings(max_examples=examples(300), deadline=None)
@given(text=st.text(alphabet="ab é😀\r\n\x00", max_size=80), chunk=st.integers(1, 7))
def test_text_lines_match_a_simple_reference(text: str, chunk: int) -> None:
    data = text.encode()
    assume(sniff(data).encoding == "utf-8")  # else it is UTF-16 by the NUL heuristic
    raw_lines = re.split(rb"\r\n|\r|\n", data)
    if raw_lines[-1] == b"":
        raw_lines.pop()
    expected = [
        (
            raw[:5].decode("utf-8", "ignore").replace("\x00", ""),  # cut, whole characters only
            len(raw) > 5,
        )
        for raw in raw_lines
    ]
    lines, report = decode(data, Limits(max_line_bytes=5, read_chunk_bytes=chunk))
    assert [(line.text, line.truncated) for line in lines] == expected
    assert report.replaced_bytes == 0


def test_report_warnings_read_well() -> None:
    data = b"\x1b[32mok\x1b[0m\n\xff\n\x00x\n" + b"y" * 20 + b"\n"
    _, report = decode(data, Limits(max_line_bytes=12))
    assert report.warnings == [
        "1 line(s) longer than 12 B were truncated",
        "1 invalid byte(s) in 1 line(s) were replaced by U+FFFD (the file is not valid UTF-8)",
        "1 NUL byte(s) were removed",
        "terminal escape codes were removed from 1 line(s)",
    ]
