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

The bounds and the report are in budget.py, the streams the walk reads through in readers.py.
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
from pathlib import Path
from typing import IO, BinaryIO, NamedTuple

from .budget import ArchiveRejected, ArchiveReport, Budget
from .decode import sniff
from .limits import DEFAULT_LIMITS, Limits, human_bytes
from .readers import IO_CHUNK, Counted, Guarded, Gunzip, Stream, TarData, peek, reason

__all__ = ["ArchiveRejected", "ArchiveReport", "Member", "clean_name", "open_members"]


class Member(NamedTuple):
    name: str  # display path, sanitised; never a filesystem path
    stream: BinaryIO


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
    def __init__(self, limits: Limits, budget: Budget, report: ArchiveReport) -> None:
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

    def expand(self, stream: Stream, name: str, depth: int, *, is_upload: bool) -> Iterator[Member]:
        """Members of `stream`, `depth` containers deep; `name` is its display name."""
        head, stream = peek(stream)
        found = sniff(head)
        prefix = "" if is_upload else name + "/"
        if found.kind == "gzip":
            inner_depth = self.nest(name, depth)
            inner: Stream = Gunzip(stream, name, self.budget)
            inner_head, inner = peek(inner)
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
                self.budget.unique(name), io.BufferedReader(Guarded(stream, name, self.report))
            )

    def tar(self, stream: Stream, name: str, prefix: str, depth: int) -> Iterator[Member]:
        try:
            archive = tarfile.open(fileobj=stream, mode="r|")  # noqa: SIM115 one pass
        except tarfile.TarError as exc:
            self.report.warn(f"'{name}' is not a readable tar archive ({reason(exc)})")
            return
        last: Guarded | None = None
        while True:
            try:
                info = archive.next()
            except (tarfile.TarError, EOFError, zlib.error, ValueError) as exc:
                if last is not None and last.failed:
                    return  # the cut-off member already said so
                self.report.warn(
                    f"'{name}' is truncated or corrupt ({reason(exc)}); kept the members before"
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
            last = Guarded(TarData(archive, info), member_name, self.report)
            yield from self.expand(last, member_name, depth, is_upload=False)

    def zip(
        self, stream: Stream, name: str, prefix: str, depth: int, is_upload: bool
    ) -> Iterator[Member]:
        spool = None
        # nested (in one of the readers above, never seekable): zip needs random access
        if isinstance(stream, io.RawIOBase) or not stream.seekable():
            spool = tempfile.TemporaryFile()  # noqa: SIM115 closed below
            while data := stream.read(IO_CHUNK):
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
            message = f"'{name}' is not a readable zip archive ({reason(exc)})"
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
                    self.skip(member_name, f"cannot be read ({reason(exc)})")
                    continue
                with source:
                    counted = Counted(source, self.budget, "zip")
                    yield from self.expand(
                        Guarded(counted, member_name, self.report),
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
    walker = _Walker(limits, Budget(limits, size, report), report)
    with path.open("rb") as file:
        yield from walker.expand(
            file, clean_name(display_name, fallback="upload"), 0, is_upload=True
        )
    if report.members == 0 and report.skipped:
        report.warn("no text log was found in the upload")
