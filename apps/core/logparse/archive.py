"""One uploaded file → the log files inside it, streamed and bounded.

`open_members` accepts a plain file, gzip (`.gz`, concatenated members too), zip, tar and
tar.gz, nested up to `limits.max_nesting`, recognised by magic bytes (the name is never
trusted). Each member comes out as a readable binary stream for `decode.iter_lines`.

Hostile uploads are bounded while streaming:
- every decompression layer counts what it produces; past `max_decompressed_bytes`, or past
  `max_ratio` × the upload size, the whole upload is refused with `ArchiveRejected`;
- entries are counted across all archives (zip central directories before they are parsed);
- member names are display metadata only: `../`, absolute and drive prefixes, control and
  bidi characters are removed, and nothing here ever writes to the filesystem except an
  anonymous temporary file to hold a nested zip (zip needs random access);
- symlinks, hardlinks, devices, encrypted or unsupported members, and binary files inside an
  archive are skipped with a warning; a truncated or corrupt stream keeps what was read so far
  and adds a warning.

Members must be read in order: advancing the iterator invalidates the previous stream (tar is
read in one pass).
"""

from __future__ import annotations

import io
import stat
import struct
import tarfile
import tempfile
import unicodedata
import zipfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, BinaryIO, NamedTuple

from .decode import SNIFF_BYTES, sniff
from .limits import DEFAULT_LIMITS, Limits, human_bytes

# A stream inside the walk: the upload, a zip member, or one of the readers below.
_Stream = IO[bytes] | io.RawIOBase
_IO_CHUNK = 64 * 1024
_MAX_WARNINGS = 50


class ArchiveRejected(Exception):
    """The whole upload is refused; `reason` is written for the user who uploaded it."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class Member(NamedTuple):
    name: str  # display path, sanitised; never a filesystem path
    stream: BinaryIO


@dataclass(slots=True)
class ArchiveReport:
    members: int = 0  # yielded
    skipped: int = 0
    entries: int = 0  # archive entries seen (files, dirs, links), nested included
    decompressed_bytes: int = 0
    warnings: list[str] = field(default_factory=list)

    def warn(self, message: str) -> None:
        if len(self.warnings) < _MAX_WARNINGS:
            self.warnings.append(message)
        elif len(self.warnings) == _MAX_WARNINGS:
            self.warnings.append("… more warnings were left out")

    def add(self, other: ArchiveReport) -> None:
        """Count `other` (another upload's report) into this one."""
        self.members += other.members
        self.skipped += other.skipped
        self.entries += other.entries
        self.decompressed_bytes += other.decompressed_bytes
        for warning in other.warnings:
            self.warn(warning)


def clean_name(raw: str, *, fallback: str = "unnamed") -> str:
    """A member or upload name made safe to show: relative, no `..`, no control characters."""
    text = "".join(ch for ch in raw if unicodedata.category(ch) not in ("Cc", "Cf", "Cs"))
    parts = [p.strip() for p in text.replace("\\", "/").split("/")]
    parts = [p for p in parts if p not in ("", ".", "..")]
    if parts and len(parts[0]) == 2 and parts[0][1] == ":":  # C:
        parts = parts[1:]
    name = "/".join(parts)
    if len(name) > 255:
        name = "…" + name[-254:]
    return name or fallback


def _strip_suffix(name: str, *suffixes: str) -> str:
    lower = name.lower()
    for suffix in suffixes:
        if lower.endswith(suffix) and len(name) > len(suffix):
            return name[: -len(suffix)]
    return name


class _Budget:
    """Counts decompressed bytes and entries for one upload; raises when a bound is passed."""

    def __init__(self, limits: Limits, upload_size: int, report: ArchiveReport) -> None:
        self.limits = limits
        self.upload_size = max(upload_size, 1)
        self.report = report
        self.decompressed = 0
        self.entries = 0
        self.names: set[str] = set()

    def produced(self, n: int, fmt: str) -> None:
        self.decompressed += n
        self.report.decompressed_bytes = self.decompressed
        limits = self.limits
        if (
            self.decompressed > limits.ratio_grace_bytes
            and self.decompressed > limits.max_ratio * self.upload_size
        ):
            raise ArchiveRejected(
                f"{fmt} bomb: expands more than {limits.max_ratio}×"
                f" (stopped at {human_bytes(self.decompressed)})"
            )
        if self.decompressed > limits.max_decompressed_bytes:
            raise ArchiveRejected(
                f"the upload expands to more than {human_bytes(limits.max_decompressed_bytes)}"
                f" when decompressed (stopped at {human_bytes(self.decompressed)});"
                " upload fewer or smaller files"
            )

    def declared(self, total: int, fmt: str) -> None:
        """Sizes an archive announces before anything is read (zip central directory)."""
        limits = self.limits
        expected = self.decompressed + total
        if expected > limits.ratio_grace_bytes and expected > limits.max_ratio * self.upload_size:
            raise ArchiveRejected(
                f"{fmt} bomb: expands more than {limits.max_ratio}× (declares {human_bytes(total)})"
            )
        if expected > limits.max_decompressed_bytes:
            raise ArchiveRejected(
                f"the {fmt} archive declares {human_bytes(total)} of content, more than the"
                f" {human_bytes(limits.max_decompressed_bytes)} limit; upload fewer or smaller files"
            )

    def entry(self, count: int = 1) -> None:
        self.entries += count
        self.report.entries = self.entries
        if self.entries > self.limits.max_archive_entries:
            raise ArchiveRejected(
                f"the upload holds more than {self.limits.max_archive_entries:,} archive entries"
            )

    def unique(self, name: str) -> str:
        candidate, n = name, 1
        while candidate in self.names:
            n += 1
            candidate = f"{name} ({n})"
        self.names.add(candidate)
        return candidate


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


class _Prefixed(_Reader):
    """Replays the sniffed head, then continues with the rest of the source."""

    def __init__(self, head: bytes, source: _Stream) -> None:
        self._head = head
        self._source = source

    def _read(self, n: int) -> bytes:
        if self._head:
            data, self._head = self._head[:n], self._head[n:]
            return data
        return self._source.read(n) or b""


class _Guarded(_Reader):
    """Turns a corrupt or truncated member into a warning and an early end of data."""

    def __init__(self, source: _Stream, name: str, report: ArchiveReport) -> None:
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
                f"'{self._name}' is truncated or corrupt ({_reason(exc)}); kept the first"
                f" {human_bytes(self._read_bytes)}"
            )
            return b""
        self._read_bytes += len(data)
        return data


class _Counted(_Reader):
    """Counts what a decompressing reader (a zip member) produces against the budget."""

    def __init__(self, source: _Stream, budget: _Budget, fmt: str) -> None:
        self._source = source
        self._budget = budget
        self._fmt = fmt

    def _read(self, n: int) -> bytes:
        data = self._source.read(n) or b""
        self._budget.produced(len(data), self._fmt)
        return data


class _TarData(_Reader):
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


class _Gunzip(_Reader):
    """Streaming gzip with zlib, bounded output per read, concatenated members supported.

    Truncated input keeps everything decoded so far (plus a warning) instead of raising, which
    `gzip.GzipFile` would do and lose the last buffer.
    """

    def __init__(self, source: _Stream, name: str, budget: _Budget) -> None:
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
                rest = inflater.unused_data or self._source.read(_IO_CHUNK) or b""
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
            data = self._pending or inflater.unconsumed_tail or self._source.read(_IO_CHUNK)
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


def _reason(exc: BaseException) -> str:
    text = str(exc) or type(exc).__name__
    return text[:200]


def _peek(stream: _Stream) -> tuple[bytes, _Stream]:
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
    return head, _Prefixed(head, stream)


def _zip_declared_entries(file: IO[bytes]) -> int | None:
    """Entry count from the end-of-central-directory record, read before zipfile parses
    (and allocates for) every entry. None when the record is not found."""
    file.seek(0, io.SEEK_END)
    size = file.tell()
    tail_size = min(size, 22 + 65535)
    file.seek(size - tail_size)
    tail = file.read(tail_size)
    file.seek(0)
    at = tail.rfind(b"PK\x05\x06")
    if at < 0 or len(tail) < at + 22:
        return None
    entries, cd_size = struct.unpack_from("<HL", tail, at + 10)
    if entries != 0xFFFF and cd_size != 0xFFFFFFFF:
        return entries
    locator = at - 20  # Zip64: the locator sits just before the end record
    if locator < 0 or tail[locator : locator + 4] != b"PK\x06\x07":
        return None
    (record_offset,) = struct.unpack_from("<Q", tail, locator + 8)
    file.seek(record_offset)
    record = file.read(56)
    file.seek(0)
    if len(record) < 56 or record[:4] != b"PK\x06\x06":
        return None
    (total,) = struct.unpack_from("<Q", record, 32)
    return total


class _Walker:
    def __init__(self, limits: Limits, budget: _Budget, report: ArchiveReport) -> None:
        self.limits = limits
        self.budget = budget
        self.report = report

    def skip(self, name: str, why: str) -> None:
        self.report.skipped += 1
        self.report.warn(f"skipped '{name}': {why}")

    def nest(self, name: str, depth: int) -> int:
        if depth + 1 > self.limits.max_nesting:
            raise ArchiveRejected(
                f"'{name}' is nested more than {self.limits.max_nesting} archives deep;"
                " unpack the inner archives and upload their files"
            )
        return depth + 1

    def expand(
        self, stream: _Stream, name: str, depth: int, *, is_upload: bool
    ) -> Iterator[Member]:
        """Members of `stream`, `depth` containers deep; `name` is its display name."""
        head, stream = _peek(stream)
        found = sniff(head)
        prefix = "" if is_upload else name + "/"
        if found.kind == "gzip":
            inner_depth = self.nest(name, depth)
            inner: _Stream = _Gunzip(stream, name, self.budget)
            inner_head, inner = _peek(inner)
            inner_name = _strip_suffix(name, ".tgz", ".gz")
            if sniff(inner_head).kind == "tar":  # .tar.gz is one container, not two
                yield from self.tar(inner, name, prefix, inner_depth)
            else:
                yield from self.expand(inner, inner_name, inner_depth, is_upload=is_upload)
        elif found.kind == "zip":
            yield from self.zip(stream, name, prefix, self.nest(name, depth), is_upload)
        elif found.kind == "tar":
            yield from self.tar(stream, name, prefix, self.nest(name, depth))
        elif found.kind == "binary" and depth > 0:
            self.skip(name, f"{found.detail}, not a text log")
        else:  # text, empty, or a binary upload: iter_lines reports it, the caller decides
            self.report.members += 1
            yield Member(
                self.budget.unique(name), io.BufferedReader(_Guarded(stream, name, self.report))
            )

    def tar(self, stream: _Stream, name: str, prefix: str, depth: int) -> Iterator[Member]:
        try:
            archive = tarfile.open(fileobj=stream, mode="r|")  # noqa: SIM115 one pass
        except tarfile.TarError as exc:
            self.report.warn(f"'{name}' is not a readable tar archive ({_reason(exc)})")
            return
        last: _Guarded | None = None
        while True:
            try:
                info = archive.next()
            except (tarfile.TarError, EOFError, zlib.error, ValueError) as exc:
                if last is not None and last.failed:
                    return  # the cut-off member already said so
                self.report.warn(
                    f"'{name}' is truncated or corrupt ({_reason(exc)}); kept the members before"
                )
                return
            if info is None:
                return
            self.budget.entry()
            member_name = prefix + clean_name(info.name)
            if info.isdir():
                continue
            if not info.isfile():
                kind = (
                    "a symbolic link"
                    if info.issym()
                    else "a hard link"
                    if info.islnk()
                    else "a device or pipe"
                )
                self.skip(member_name, f"{kind}, not a regular file")
                continue
            if info.sparse is not None:
                self.skip(member_name, "a sparse file, not supported")
                continue
            last = _Guarded(_TarData(archive, info), member_name, self.report)
            yield from self.expand(last, member_name, depth, is_upload=False)

    def zip(
        self, stream: _Stream, name: str, prefix: str, depth: int, is_upload: bool
    ) -> Iterator[Member]:
        spool = None
        # nested (in one of the readers above, never seekable): zip needs random access
        if isinstance(stream, io.RawIOBase) or not stream.seekable():
            spool = tempfile.TemporaryFile()  # noqa: SIM115 closed below
            while data := stream.read(_IO_CHUNK):
                spool.write(data)
            spool.seek(0)
            stream = spool
        try:
            yield from self._zip_members(stream, name, prefix, depth, is_upload)
        finally:
            if spool is not None:
                spool.close()

    def _zip_members(
        self, file: IO[bytes], name: str, prefix: str, depth: int, is_upload: bool
    ) -> Iterator[Member]:
        declared = _zip_declared_entries(file)
        if declared is not None:
            self.budget.entry(declared)  # raises before zipfile allocates for each entry
        try:
            archive = zipfile.ZipFile(file)
        except (zipfile.BadZipFile, OSError, ValueError, EOFError, NotImplementedError) as exc:
            message = f"'{name}' is not a readable zip archive ({_reason(exc)})"
            if is_upload:
                raise ArchiveRejected(message) from None
            self.report.warn(message)
            return
        with archive:
            infos = archive.infolist()
            if len(infos) > (declared or 0):  # the end record may under-report
                self.budget.entry(len(infos) - (declared or 0))
            self.budget.declared(sum(i.file_size for i in infos if not i.is_dir()), "zip")
            for info in infos:
                member_name = prefix + clean_name(info.filename)
                if info.is_dir():
                    continue
                if stat.S_ISLNK(info.external_attr >> 16):
                    self.skip(member_name, "a symbolic link, not a regular file")
                    continue
                if info.flag_bits & 0x1:
                    self.skip(member_name, "encrypted")
                    continue
                try:
                    source = archive.open(info)
                except (zipfile.BadZipFile, NotImplementedError, OSError, ValueError) as exc:
                    self.skip(member_name, f"cannot be read ({_reason(exc)})")
                    continue
                with source:
                    counted = _Counted(source, self.budget, "zip")
                    yield from self.expand(
                        _Guarded(counted, member_name, self.report),
                        member_name,
                        depth,
                        is_upload=False,
                    )


def open_members(
    path: str | Path,
    *,
    display_name: str,
    limits: Limits = DEFAULT_LIMITS,
    report: ArchiveReport | None = None,
) -> Iterator[Member]:
    """Yield the log files inside the uploaded file at `path`, each as a binary stream.

    Raises `ArchiveRejected` (possibly mid-iteration, including from a member stream's `read`)
    when the upload as a whole breaks a bound. Everything else becomes a warning in `report`.
    """
    report = report if report is not None else ArchiveReport()
    path = Path(path)
    size = path.stat().st_size
    if size > limits.max_upload_bytes:
        raise ArchiveRejected(
            f"the file is {human_bytes(size)}; the limit is {human_bytes(limits.max_upload_bytes)}"
        )
    walker = _Walker(limits, _Budget(limits, size, report), report)
    with path.open("rb") as file:
        yield from walker.expand(
            file, clean_name(display_name, fallback="upload"), 0, is_upload=True
        )
    if report.members == 0 and report.skipped:
        report.warn("no text log was found in the upload")
