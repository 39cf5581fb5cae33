"""The streams an archive walk reads through: non-seekable, bounded, forgiving of cut-off data.

Each wraps another stream: `Prefixed` replays a sniffed head, `Guarded` turns a corrupt member
into a warning, `Counted` and `Gunzip` count what they produce against the upload's `Budget`,
`TarData` reads one member of a one-pass tar.
"""

from __future__ import annotations

import io
import tarfile
import zipfile
import zlib
from typing import IO

from .budget import ArchiveReport, Budget
from .decode import SNIFF_BYTES
from .limits import human_bytes

# A stream inside the walk: the upload, a zip member, or one of the readers below.
Stream = IO[bytes] | io.RawIOBase
IO_CHUNK = 64 * 1024


class _Reader(io.RawIOBase):
    """Base for our non-seekable streams: subclasses implement `_read(n) -> bytes`."""

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        data = self._read(len(buffer))
        buffer[: len(data)] = data
        return len(data)

    def _read(self, n: int) -> bytes:
        raise NotImplementedError


class Prefixed(_Reader):
    """Replays the sniffed head, then continues with the rest of the source."""

    def __init__(self, head: bytes, source: Stream) -> None:
        self._head = head
        self._source = source

    def _read(self, n: int) -> bytes:
        if self._head:
            data, self._head = self._head[:n], self._head[n:]
            return data
        return self._source.read(n) or b""


class Guarded(_Reader):
    """Turns a corrupt or truncated member into a warning and an early end of data."""

    def __init__(self, source: Stream, name: str, report: ArchiveReport) -> None:
        self._source = source
        self._name = name
        self._report = report
        self.failed = False
        self._read_bytes = 0

    def _read(self, n: int) -> bytes:
        if self.failed:
            return b""
        try:
            data = self._source.read(n) or b""
        except (EOFError, zlib.error, zipfile.BadZipFile, tarfile.TarError, OSError) as exc:
            self.failed = True
            self._report.warn(
                f"'{self._name}' is truncated or corrupt ({reason(exc)}); kept the first"
                f" {human_bytes(self._read_bytes)}"
            )
            return b""
        self._read_bytes += len(data)
        return data


class Counted(_Reader):
    """Counts what a decompressing reader (a zip member) produces against the budget."""

    def __init__(self, source: Stream, budget: Budget, fmt: str) -> None:
        self._source = source
        self._budget = budget
        self._fmt = fmt

    def _read(self, n: int) -> bytes:
        data = self._source.read(n) or b""
        self._budget.produced(len(data), self._fmt)
        return data


class TarData(_Reader):
    """A tar member's data, read from the archive's one-pass stream.

    Unlike `TarFile.extractfile`, a cut-off member returns the bytes that are there before
    failing, so a truncated upload keeps its last lines.
    """

    def __init__(self, archive: tarfile.TarFile, info: tarfile.TarInfo) -> None:
        self._file = archive.fileobj
        self._position = info.offset_data
        self._left = info.size

    def _read(self, n: int) -> bytes:
        if self._left <= 0:
            return b""
        self._file.seek(self._position)  # no-op while in place; tarfile moves it between members
        data = self._file.read(min(n, self._left))
        if not data:
            raise EOFError("unexpected end of data")
        self._position += len(data)
        self._left -= len(data)
        return data


class Gunzip(_Reader):
    """Streaming gzip with zlib, bounded output per read, concatenated members supported.

    Truncated input keeps everything decoded so far (plus a warning) instead of raising, which
    `gzip.GzipFile` would do and lose the last buffer.
    """

    def __init__(self, source: Stream, name: str, budget: Budget) -> None:
        self._source = source
        self._name = name
        self._budget = budget
        self._inflater = zlib.decompressobj(wbits=31)
        self._pending = b""
        self._done = False
        self._out = 0

    def _warn(self, what: str) -> None:
        self._done = True
        self._budget.report.warn(
            f"'{self._name}': {what}; kept the first {human_bytes(self._out)} decompressed"
        )

    def _read(self, n: int) -> bytes:
        while not self._done:
            inflater = self._inflater
            if inflater.eof:  # end of one gzip member: another may follow
                rest = inflater.unused_data or self._source.read(IO_CHUNK) or b""
                if len(rest) == 1:
                    rest += self._source.read(1) or b""
                if not rest.strip(b"\x00"):  # end of file, or zero padding
                    self._done = True
                    break
                if not rest.startswith(b"\x1f\x8b"):
                    self._warn("ignored data after the end of the gzip stream")
                    break
                self._inflater = inflater = zlib.decompressobj(wbits=31)
                self._pending = rest
            data = self._pending or inflater.unconsumed_tail or self._source.read(IO_CHUNK)
            self._pending = b""
            if not data:
                self._warn("the gzip stream is truncated")
                break
            try:
                out = inflater.decompress(data, n)
            except zlib.error as exc:
                self._warn(f"corrupt gzip data ({exc})")
                break
            if out:
                self._out += len(out)
                self._budget.produced(len(out), "gzip")
                return out
        return b""


def reason(exc: BaseException) -> str:
    text = str(exc) or type(exc).__name__
    return text[:200]


def peek(stream: Stream) -> tuple[bytes, Stream]:
    """The first SNIFF_BYTES, and a stream that still starts at the beginning."""
    if stream.seekable():
        position = stream.tell()
        head = stream.read(SNIFF_BYTES) or b""
        stream.seek(position)
        return head, stream
    parts: list[bytes] = []
    got = 0
    while got < SNIFF_BYTES:
        data = stream.read(SNIFF_BYTES - got)
        if not data:
            break
        parts.append(data)
        got += len(data)
    head = b"".join(parts)
    return head, Prefixed(head, stream)
