"""Bytes → physical lines: streamed, bounded, never losing a line.

`iter_lines` reads a binary stream in chunks and yields one `Line` per physical line:

- newlines: `\\n`, `\\r\\n` and a lone `\\r` each end one line (also across chunk borders);
- encoding: UTF-8 (BOM stripped), or UTF-16 LE/BE recognised by BOM or, without one, by the
  pattern of NUL bytes that ASCII text leaves in UTF-16; invalid UTF-8 becomes U+FFFD and is
  counted, never an exception;
- sanitising: NUL bytes removed, ANSI escape sequences (CSI, OSC, two-byte escapes) removed;
- bounds: a line keeps its first `limits.max_line_bytes` bytes (cut on a character boundary)
  and is flagged `truncated`; the rest is counted and skipped, so a 50 MB line costs one chunk
  of memory, not 50 MB.

Invariant (tested with hypothesis): lines yielded == line terminators, plus one when the data
after the last terminator is not empty. An empty file yields nothing, with a warning.

Binary input is not an error here: `DecodeReport.looks_binary` says so and the caller decides
(the ingestion service rejects it with `sniff(...).detail` as the reason).
"""

from __future__ import annotations

import codecs
import re
import threading
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Literal, NamedTuple, Protocol

from .limits import DEFAULT_LIMITS, Limits, human_bytes
from .record import Line

SNIFF_BYTES = 64 * 1024  # how much of the head `sniff` and `iter_lines` look at
BINARY_THRESHOLD = 0.30  # share of control bytes / invalid UTF-8 above which data is binary
BINARY_MIN_SAMPLE = 64  # characters needed before that share means anything

SniffKind = Literal["text", "gzip", "zip", "tar", "binary", "empty"]
Encoding = Literal["utf-8", "utf-16-le", "utf-16-be"]


class Sniff(NamedTuple):
    kind: SniffKind
    encoding: Encoding  # what iter_lines would decode with (meaningful for "text")
    detail: str = ""  # for messages: "UTF-16 LE (byte-order mark)", "an ELF executable", …


# Magic numbers of formats that are certainly not logs, with the phrase a user reads.
_BINARY_MAGIC: tuple[tuple[re.Pattern[bytes], str], ...] = tuple(
    (re.compile(pattern, re.DOTALL), what)
    for pattern, what in (
        (rb"\x7fELF", "an ELF executable"),
        (rb"MZ[\x00-\xff]{58}", "a Windows executable"),  # DOS header is 64 bytes
        (rb"\xca\xfe\xba\xbe|\xcf\xfa\xed\xfe|\xce\xfa\xed\xfe", "a Mach-O executable"),
        (rb"\x89PNG\r\n\x1a\n", "a PNG image"),
        (rb"\xff\xd8\xff", "a JPEG image"),
        (rb"GIF8[79]a", "a GIF image"),
        (rb"%PDF-", "a PDF document"),
        (rb"SQLite format 3\x00", "an SQLite database"),
        (rb"BZh[1-9]1AY&SY", "bzip2 data (not supported: upload .gz, .zip or .tar.gz)"),
        (rb"\xfd7zXZ\x00", "xz data (not supported: upload .gz, .zip or .tar.gz)"),
        (rb"\x28\xb5\x2f\xfd", "zstd data (not supported: upload .gz, .zip or .tar.gz)"),
        (rb"7z\xbc\xaf\x27\x1c", "a 7-Zip archive (not supported: upload .zip or .tar.gz)"),
        (rb"Rar!\x1a\x07", "a RAR archive (not supported: upload .zip or .tar.gz)"),
    )
)

# ECMA-48 escape sequences as terminals and `ls --color`, `less`, loggers print them.
# Each alternative uses disjoint character classes: linear time, no backtracking blow-up.
_ANSI = re.compile(
    r"""
      (?:\x1b\[|\x9b) [0-?]* [ -/]* [@-~]                     # CSI: colours, cursor moves
    | (?:\x1b\]|\x9d) [^\x07\x1b\x9c]* (?:\x07|\x1b\\|\x9c)   # OSC: titles, hyperlinks
    | \x1b [ -/]* [0-~]                                       # other escapes: ESC c, ESC ( B
    """,
    re.VERBOSE,
)

# A codecs error handler that behaves like "replace" and counts the bytes it replaced.
# Handlers are registered globally by name, so the count lives in a thread-local.
_replaced = threading.local()


def _replace_and_count(exc: UnicodeError) -> tuple[str, int]:
    if not isinstance(exc, UnicodeDecodeError):
        raise exc
    _replaced.n = getattr(_replaced, "n", 0) + (exc.end - exc.start)
    return "\ufffd", exc.end


codecs.register_error("aiops-replace", _replace_and_count)


def _decode_counting(data: bytes, encoding: str) -> tuple[str, int]:
    _replaced.n = 0
    text = data.decode(encoding, "aiops-replace")
    return text, _replaced.n


@dataclass(slots=True)
class DecodeReport:
    """What decoding one source changed or noticed; `warnings` is what the user reads."""

    kind: SniffKind = "empty"
    encoding: Encoding = "utf-8"
    bom: bool = False
    looks_binary: bool = False
    binary_detail: str = ""
    lines: int = 0
    bytes_read: int = 0
    truncated_lines: int = 0
    invalid_utf8_lines: int = 0  # lines where invalid UTF-8 was replaced by U+FFFD
    replaced_bytes: int = 0  # invalid bytes replaced (UTF-8 and UTF-16)
    nul_bytes: int = 0
    ansi_lines: int = 0  # lines from which escape sequences were removed
    max_line_bytes: int = DEFAULT_LIMITS.max_line_bytes
    notes: list[str] = field(default_factory=list)

    @property
    def warnings(self) -> list[str]:
        out: list[str] = []
        if self.looks_binary:
            out.append(f"this looks like {self.binary_detail}, not a text log")
        if self.encoding != "utf-8":
            how = "byte-order mark" if self.bom else "guessed from NUL bytes"
            out.append(f"decoded as {self.encoding.upper()} ({how})")
        if self.truncated_lines:
            out.append(
                f"{self.truncated_lines:,} line(s) longer than {human_bytes(self.max_line_bytes)}"
                " were truncated"
            )
        if self.replaced_bytes:
            where = f" in {self.invalid_utf8_lines:,} line(s)" if self.invalid_utf8_lines else ""
            out.append(
                f"{self.replaced_bytes:,} invalid byte(s){where} were replaced by U+FFFD"
                f" (the file is not valid {self.encoding.upper()})"
            )
        if self.nul_bytes:
            out.append(f"{self.nul_bytes:,} NUL byte(s) were removed")
        if self.ansi_lines:
            out.append(f"terminal escape codes were removed from {self.ansi_lines:,} line(s)")
        out.extend(self.notes)
        return out


def _detect_encoding(head: bytes) -> tuple[Encoding, int]:
    """(encoding, length of the byte-order mark) from the first bytes of a stream."""
    if head.startswith(codecs.BOM_UTF8):
        return "utf-8", 3
    if head.startswith(codecs.BOM_UTF16_LE):
        return "utf-16-le", 2
    if head.startswith(codecs.BOM_UTF16_BE):
        return "utf-16-be", 2
    # No BOM: ASCII text in UTF-16 has a NUL in every other byte (odd offsets in LE, even in
    # BE). A run of NULs (log rotated with copytruncate) has them at both and stays UTF-8.
    sample = head[:4096]
    pairs = len(sample) // 2
    if pairs >= 8:
        even, odd = sample[0 : pairs * 2 : 2].count(0), sample[1 : pairs * 2 : 2].count(0)
        if odd >= 0.6 * pairs and even <= 0.05 * pairs:
            return "utf-16-le", 0
        if even >= 0.6 * pairs and odd <= 0.05 * pairs:
            return "utf-16-be", 0
    return "utf-8", 0


_HARMLESS_CONTROLS = frozenset("\t\n\r\f\v\b\x1b")


def sniff(head: bytes) -> Sniff:
    """What the first bytes of a file are: text (and its encoding), a container, or binary.

    Pass up to `SNIFF_BYTES` of the head. Containers are told by magic number, never by name.
    """
    encoding, bom = _detect_encoding(head)
    if not head:
        return Sniff("empty", encoding, "an empty file")
    if head.startswith(b"\x1f\x8b"):
        return Sniff("gzip", encoding, "gzip data")
    if head[:4] in (b"PK\x03\x04", b"PK\x05\x06", b"PK\x07\x08"):
        return Sniff("zip", encoding, "a zip archive")
    if head[257:262] == b"ustar":  # POSIX and GNU tar headers
        return Sniff("tar", encoding, "a tar archive")
    for magic, what in _BINARY_MAGIC:
        if magic.match(head):
            return Sniff("binary", encoding, what)
    body = head[bom:]
    if encoding == "utf-8":
        body = _trim_partial_utf8(body.lstrip(b"\x00"))  # the head may end mid-character
    if not body:
        return Sniff("empty" if bom == len(head) else "text", encoding, "")
    text = body.decode(encoding, "replace")
    suspicious = text.count("\ufffd") + sum(
        1 for ch in text if ch < " " and ch not in _HARMLESS_CONTROLS
    )
    if len(text) >= BINARY_MIN_SAMPLE and suspicious > BINARY_THRESHOLD * len(text):
        return Sniff("binary", encoding, "binary data")
    detail = f"{encoding.upper()} text" + (" (byte-order mark)" if bom else "")
    return Sniff("text", encoding, detail)


def _trim_partial_utf8(data: bytes) -> bytes:
    """Drop an incomplete UTF-8 sequence at the very end (left by cutting at a byte limit)."""
    for back in range(1, min(4, len(data)) + 1):
        byte = data[-back]
        if byte < 0x80:  # ASCII: nothing open
            return data
        if byte >= 0xC0:  # lead byte: is its sequence complete?
            need = 2 if byte < 0xE0 else 3 if byte < 0xF0 else 4
            return data[:-back] if back < need else data
    return data


class ByteStream(Protocol):
    """What `iter_lines` reads: a binary stream whose `read(n)` returns b"" (or None) at the end.

    A file, an archive member, or a wrapper that counts or hashes what passes through it.
    """

    def read(self, size: int = -1, /) -> bytes | None: ...


def _read_head(stream: ByteStream, size: int) -> bytes:
    parts: list[bytes] = []
    got = 0
    while got < size:
        data = stream.read(size - got)
        if not data:
            break
        parts.append(data)
        got += len(data)
    return b"".join(parts)


def _chunks(head: bytes, stream: ByteStream, size: int, report: DecodeReport) -> Iterator[bytes]:
    for start in range(0, len(head), size):
        yield head[start : start + size]
    while data := stream.read(size):
        report.bytes_read += len(data)
        yield data


def _transcode(chunks: Iterable[bytes], encoding: str, report: DecodeReport) -> Iterator[bytes]:
    """UTF-16 → UTF-8, incrementally (a surrogate pair or a CR LF may span two chunks)."""
    decoder = codecs.getincrementaldecoder(encoding)(errors="aiops-replace")
    for final, chunk in _with_final(chunks):
        _replaced.n = 0
        text = decoder.decode(chunk, final=final)
        report.replaced_bytes += _replaced.n
        if text:
            yield text.encode("utf-8", "replace")


def _with_final(chunks: Iterable[bytes]) -> Iterator[tuple[bool, bytes]]:
    for chunk in chunks:
        yield False, chunk
    yield True, b""


def _make_line(number: int, raw: bytes, truncated: bool, report: DecodeReport) -> Line:
    report.lines += 1
    if truncated:
        report.truncated_lines += 1
        raw = _trim_partial_utf8(raw)
    if b"\x00" in raw:
        report.nul_bytes += raw.count(b"\x00")
        raw = raw.replace(b"\x00", b"")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        text, replaced = _decode_counting(raw, "utf-8")
        report.invalid_utf8_lines += 1
        report.replaced_bytes += replaced
    if "\x1b" in text or "\x9b" in text or "\x9d" in text:
        clean = _ANSI.sub("", text)
        if clean != text:
            report.ansi_lines += 1
            text = clean
    return Line(number, text, truncated)


def _split_lines(chunks: Iterable[bytes], max_bytes: int, report: DecodeReport) -> Iterator[Line]:
    number = 0
    kept = bytearray()  # the first max_bytes of the line being assembled across chunks
    seen = 0  # its length so far, including the bytes not kept
    after_cr = False  # the previous chunk ended with CR: a leading LF belongs to it
    for chunk in chunks:
        if after_cr:
            after_cr = False
            if chunk[:1] == b"\n":
                chunk = chunk[1:]
        if b"\r" in chunk:
            after_cr = chunk.endswith(b"\r")
            chunk = chunk.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
        pieces = chunk.split(b"\n")
        tail = pieces.pop()  # unterminated: continues in the next chunk
        start = 0
        if pieces and seen:  # the first piece ends the line carried over from earlier chunks
            number += 1
            kept += pieces[0][: max(0, max_bytes - len(kept))]
            total = seen + len(pieces[0])
            yield _make_line(number, bytes(kept), total > max_bytes, report)
            kept.clear()
            seen = 0
            start = 1
        # Fast path: nothing to strip in this chunk, so a line only needs decoding.
        plain = not (
            b"\x00" in chunk or b"\x1b" in chunk or b"\xc2\x9b" in chunk or b"\xc2\x9d" in chunk
        )
        for piece in pieces[start:] if start else pieces:
            number += 1
            if plain and len(piece) <= max_bytes:
                try:
                    text = piece.decode("utf-8")
                except UnicodeDecodeError:
                    pass
                else:
                    report.lines += 1
                    yield Line(number, text, False)
                    continue
            if len(piece) > max_bytes:
                yield _make_line(number, piece[:max_bytes], True, report)
            else:
                yield _make_line(number, piece, False, report)
        if tail:
            if len(kept) < max_bytes:
                kept += tail[: max_bytes - len(kept)]
            seen += len(tail)
    if seen:
        yield _make_line(number + 1, bytes(kept), seen > max_bytes, report)


def iter_lines(
    stream: ByteStream,
    *,
    limits: Limits = DEFAULT_LIMITS,
    report: DecodeReport | None = None,
) -> Iterator[Line]:
    """Yield every physical line of `stream`, numbered from 1, decoded and sanitised.

    Memory is bounded by `limits.read_chunk_bytes` + `limits.max_line_bytes` whatever the
    input. Exceptions raised by `stream.read` (e.g. `ArchiveRejected` from a decompression
    bomb guard) propagate; nothing in the data itself raises.
    """
    report = report if report is not None else DecodeReport()
    report.max_line_bytes = limits.max_line_bytes
    head = _read_head(stream, SNIFF_BYTES)
    report.bytes_read += len(head)
    found = sniff(head)
    encoding, bom = _detect_encoding(head)
    report.kind, report.encoding, report.bom = found.kind, encoding, bom > 0
    if found.kind not in ("text", "empty"):
        report.looks_binary, report.binary_detail = True, found.detail
    chunks: Iterable[bytes] = _chunks(head[bom:], stream, limits.read_chunk_bytes, report)
    if encoding != "utf-8":
        chunks = _transcode(chunks, encoding, report)
    yield from _split_lines(chunks, limits.max_line_bytes, report)
    if report.lines == 0:
        report.notes.append("the file is empty: no lines")
