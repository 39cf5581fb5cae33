"""One path from a source's lines to grouped records: parse → mine template → fingerprint.

Framework-free (no Django): the `logparse` and `triage` commands, the ingest job and the
benchmarks all call this, so there is one behaviour to test.

`parsed_members` runs the first half (archive members → decoded lines → records) in a forked
process of its own, so that parsing and the work that consumes its records can run on two
cores. Records cross with their timestamps as the log wrote them (pickling a datetime costs
more than parsing it), and the reading side resolves them. Measured on this project's 2-core
machine: `logparse` runs about 30% faster than in one process (README, Benchmarks).
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Generator, Iterable, Iterator, Mapping
from dataclasses import dataclass, field, fields, replace
from datetime import UTC, date, datetime, tzinfo
from functools import partial
from itertools import chain, islice
from operator import attrgetter
from pathlib import Path
from typing import BinaryIO

from apps.core.grouping.fingerprint import Fingerprint, fingerprint, head_line
from apps.core.grouping.miner import Match, Miner
from apps.core.ingest import forking
from apps.core.logparse.archive import ArchiveRejected, ArchiveReport, open_members
from apps.core.logparse.decode import DecodeReport, iter_lines
from apps.core.logparse.detect import SAMPLE_LINES, Detection, detect_format
from apps.core.logparse.limits import DEFAULT_LIMITS, Limits
from apps.core.logparse.parser import parse_lines, resolve_timestamps
from apps.core.logparse.record import Line, Record
from apps.core.logparse.timestamps import TimestampParser

# Lines sampled from the head of a source for format detection (lines, not non-empty lines,
# so that a file of blank lines cannot make us buffer it whole).
DETECT_SAMPLE = SAMPLE_LINES * 5


@dataclass(slots=True)
class SourceStats:
    """What a user reads about one source: format, coverage, what was kept unparsed."""

    name: str
    fmt: str = "plain"
    confidence: float = 0.0
    header: str = ""  # the header in the loghub syntax: learnt (fmt "inferred") or given
    lines: int = 0  # physical lines
    records: int = 0  # events after multi-line joining
    parsed_lines: int = 0  # physical lines inside records whose header a format parsed
    unparsed_lines: int = 0  # physical lines kept as plain text
    truncated_lines: int = 0
    inherited_ts: int = 0  # records without their own timestamp
    warnings: list[str] = field(default_factory=list)
    # a given header (`log_format`): the non-empty lines it did not match, by what became of
    # them ("joined to the record before", "kept as plain text", "read as syslog")
    unmatched: dict[str, int] = field(default_factory=dict)

    @property
    def coverage(self) -> float:
        return self.parsed_lines / self.lines if self.lines else 0.0

    def unmatched_line(self) -> str:
        """Like: 12 lines not matched by the header: 9 joined to the record before, 3 kept
        as plain text ('' when the header matched every line, or none was given)."""
        return unmatched_line(self.unmatched)

    def summary(self) -> str:
        if not self.lines:
            return "empty"
        parts = [f"{self.coverage:.1%} parsed"]
        if self.unparsed_lines:
            parts.append(f"{self.unparsed_lines:,} lines kept unparsed")
        if self.truncated_lines:
            parts.append(f"{self.truncated_lines:,} lines truncated")
        return " · ".join(parts)


def unmatched_line(unmatched: dict[str, int]) -> str:
    """SourceStats.unmatched in words (the `logparse --stats` line, the sources panel)."""
    total = sum(unmatched.values())
    if not total:
        return ""
    reasons = sorted(unmatched.items(), key=lambda item: (-item[1], item[0]))
    detail = ", ".join(f"{n:,} {why}" for why, n in reasons)
    return f"{total:,} line{'s' if total != 1 else ''} not matched by the header: {detail}"


@dataclass(slots=True)
class Grouped:
    record: Record
    match: Match
    fingerprint: Fingerprint
    group: str = ""  # the error group id: the fingerprint, unless a merge/split rule says else

    def __post_init__(self) -> None:
        if not self.group:
            self.group = self.fingerprint.group_id


def detect(lines: Iterator[Line]) -> tuple[Detection, Iterator[Line]]:
    sample = list(islice(lines, DETECT_SAMPLE))
    return detect_format(sample), chain(sample, lines)


def parse_source(
    lines: Iterable[Line],
    *,
    source: str,
    stats: SourceStats,
    log_format: str | None = None,
    dates: DateHints | None = None,
) -> Iterator[Record]:
    """Parse one source's lines into records, filling `stats` as it goes. `dates` gives the
    year of year-less stamps and the day of bare times of day (this year, today without)."""
    records = _parse_source(lines, source=source, stats=stats, log_format=log_format)
    return _resolved(records, _timestamps(dates), stats)


def _parse_source(
    lines: Iterable[Line], *, source: str, stats: SourceStats, log_format: str | None
) -> Iterator[Record]:
    """Records with their raw timestamps (`_resolved` finishes them), counted into `stats`."""
    it = iter(lines)
    if log_format:
        stats.fmt, stats.confidence = "loghub", 1.0
        stats.header = log_format
        records = parse_lines(
            it, source=source, log_format=log_format, raw_ts=True, unmatched=stats.unmatched
        )
    else:
        detection, it = detect(it)
        stats.fmt, stats.confidence = detection.name, detection.confidence
        stats.header = detection.loghub
        records = parse_lines(it, source=source, detected=detection, raw_ts=True)
    fallback_service = service_from_source(source)
    for record in records:
        if not record.service:
            record.service = fallback_service
        if "\x00" in record.message:  # a JSON "\u0000" escape: NUL is never stored or mined
            record.message = record.message.replace("\x00", "")
        span = record.end_line - record.line + 1
        stats.records += 1
        stats.lines = record.end_line
        if record.parsed:
            stats.parsed_lines += span
        else:
            stats.unparsed_lines += span
        if record.truncated:
            stats.truncated_lines += 1
        yield record


def _timestamps(dates: DateHints | None) -> TimestampParser:
    if dates is None:
        return TimestampParser(default_date=datetime.now(UTC).date())
    return TimestampParser(
        default_year=dates.year,
        default_tz=dates.tz,
        reference=dates.reference,
        default_date=dates.day or (dates.reference or datetime.now(UTC)).date(),
    )


def _resolved(
    records: Iterator[Record], tsp: TimestampParser, stats: SourceStats
) -> Iterator[Record]:
    """`resolve_timestamps`, counting into `stats` the records that inherit a time and, at the
    end, saying how many carried a time of day only."""
    first_day = tsp.day
    for record in resolve_timestamps(records, tsp):
        if record.ts_inherited:
            stats.inherited_ts += 1
        yield record
    if tsp.time_only:
        stats.warnings.append(
            f"{tsp.time_only:,} timestamp(s) give a time of day only: dated {first_day}"
            + (f" to {tsp.day}" if tsp.day != first_day else "")
            + " (assumed: the day the upload's dated lines show, when it has some)"
        )


# ----------------------------------------------------------------------------- parsed members

RECORD_BATCH = 1000  # records per message from the parsing process
# A record's fields in order but the last (`source`, the member's name): its form on the pipe.
_RECORD_FIELDS = attrgetter(*[f.name for f in fields(Record)][:-1])


@dataclass(slots=True, eq=False)
class ParsedMember:
    """One log file of an upload, parsed. Read `records` to the end before the next member;
    `stats`, `decode`, `sha256` are final once it is exhausted, `bytes_read`/`lines_read`
    follow it (a progress bar)."""

    name: str
    binary: str  # why this is not a text log ("" for a text log); records are then empty
    records: Iterator[Record] = field(default_factory=lambda: iter(()))
    stats: SourceStats | None = None
    decode: DecodeReport | None = None
    sha256: str = ""
    bytes_read: int = 0
    lines_read: int = 0


class _HashingReader:
    """Wraps a member stream: hashes the bytes and counts them for the progress bar."""

    def __init__(self, stream: BinaryIO) -> None:
        self._stream = stream
        self.digest = hashlib.sha256()
        self.count = 0

    def read(self, n: int = -1) -> bytes:
        data = self._stream.read(n)
        self.digest.update(data)
        self.count += len(data)
        return data


def parsed_members(
    path: Path,
    *,
    display_name: str,
    limits: Limits = DEFAULT_LIMITS,
    log_format: str | None = None,
    member_formats: Mapping[str, str] | None = None,
    dates: DateHints | None = None,
    report: ArchiveReport | None = None,
    skip_binary: bool = False,
    name_limit: int | None = None,
    fork: bool = True,
) -> Iterator[ParsedMember]:
    """Every log file in the upload at `path`, parsed into records (in a forked process unless
    `fork=False`; the same messages either way). Raises ArchiveRejected when the upload is
    refused and, forked, forking.ChildFailed when parsing fails (`Type: message`).
    `member_formats`: a header for some members by name (a user's correction), over
    `log_format`. `skip_binary`: a member that looks binary yields no records (`binary` says
    why)."""
    produce = partial(
        _produce,
        path,
        display_name=display_name,
        limits=limits,
        log_format=log_format,
        member_formats=member_formats or {},
        dates=dates,
        skip_binary=skip_binary,
        name_limit=name_limit,
        packed=fork,
    )
    wire = forking.in_child(produce, name="the parsing process") if fork else produce()
    try:
        for message in wire:
            kind = message[0]
            if kind == "member":
                member = ParsedMember(name=message[1], binary=message[2])
                records = _member_records(wire, member, packed=fork)
                if fork:  # timestamps come raw: resolved here (the parsing process's load)
                    tsp = _timestamps(dates)
                    records = _resolved_here(records, member, tsp)
                member.records = records
                yield member
                for _ in member.records:  # a reader that stopped early: on to the next member
                    pass
            elif kind == "rejected":
                raise ArchiveRejected(message[1])
            elif kind == "archive_end" and report is not None:
                report.add(message[1])  # added up: a caller may pass several uploads
    finally:
        wire.close()  # a reader that stopped: the parsing process goes now


def _member_records(
    wire: Iterator[tuple], member: ParsedMember, *, packed: bool
) -> Iterator[Record]:
    """The member's records from the wire: tuples from a forked process (`packed`), else the
    records themselves."""
    name = member.name
    for message in wire:
        kind = message[0]
        if kind == "records":
            _, rows, member.bytes_read, member.lines_read = message
            if packed:
                for row in rows:
                    # mypy spreads *row over every field, so it counts `name` as one too many
                    yield Record(*row, name)  # type: ignore[call-arg]
            else:
                yield from rows
        elif kind == "member_end":
            _, member.stats, member.decode, member.sha256, member.bytes_read = message
            member.lines_read = member.decode.lines
            return
        elif kind == "rejected":
            raise ArchiveRejected(message[1])


def _resolved_here(
    records: Iterator[Record], member: ParsedMember, tsp: TimestampParser
) -> Iterator[Record]:
    """A forked member's records with their timestamps resolved in this process; what that
    adds to the member's stats is added once they have arrived (with its last message)."""
    found = SourceStats(name=member.name)
    yield from _resolved(records, tsp, found)
    assert member.stats is not None  # set by its last message
    member.stats.inherited_ts += found.inherited_ts
    member.stats.warnings.extend(found.warnings)


def _produce(
    path: Path,
    *,
    display_name: str,
    limits: Limits,
    log_format: str | None,
    member_formats: Mapping[str, str],
    dates: DateHints | None,
    skip_binary: bool,
    name_limit: int | None,
    packed: bool,
) -> Generator[tuple]:
    """The parsing process's messages: ("member", name, binary), ("records", rows, bytes read,
    lines read)..., ("member_end", stats, decode report, sha256, bytes) per member, then
    ("archive_end", report) or ("rejected", reason). Forked, records go over the pipe as
    tuples of their fields but `source` (3× cheaper to pickle than the objects), with their
    timestamps as the log wrote them: resolving them is the reader's part of the work."""
    report = ArchiveReport()
    try:
        for member in open_members(path, display_name=display_name, limits=limits, report=report):
            name = member.name[:name_limit] if name_limit else member.name
            header = member_formats.get(name) or log_format
            reader = _HashingReader(member.stream)
            decode = DecodeReport()
            stats = SourceStats(name=name)
            lines = iter_lines(reader, limits=limits, report=decode)
            first = next(lines, None)  # decoding the head sniffs the content
            binary = (decode.binary_detail or "binary data") if decode.looks_binary else ""
            yield ("member", name, binary)
            if binary and skip_binary:
                yield ("member_end", stats, decode, "", reader.count)
                continue
            lines = chain([first], lines) if first is not None else lines
            if packed:  # forked: timestamps stay raw, the reader resolves them
                records = _parse_source(lines, source=name, stats=stats, log_format=header)
            else:
                records = parse_source(
                    lines,
                    source=name,
                    stats=stats,
                    log_format=header,
                    dates=dates,
                )
            rows: list = []
            append = rows.append
            for item in map(_RECORD_FIELDS, records) if packed else records:
                append(item)
                if len(rows) >= RECORD_BATCH:
                    yield ("records", rows, reader.count, decode.lines)
                    rows = []
                    append = rows.append
            if rows:
                yield ("records", rows, reader.count, decode.lines)
            yield ("member_end", stats, decode, reader.digest.hexdigest(), reader.count)
    except ArchiveRejected as exc:
        yield ("rejected", exc.reason)
        return
    yield ("archive_end", report)


def group_records(records: Iterable[Record], miner: Miner) -> Iterator[Grouped]:
    """Mine each record's head line into a template and fingerprint it into an error group."""
    add = miner.add
    for record in records:
        match = add(head_line(record.message))
        yield Grouped(record, match, fingerprint(record.message, match.template_id))


_GENERIC_STEMS = {
    "access",
    "error",
    "errors",
    "app",
    "application",
    "server",
    "out",
    "stdout",
    "stderr",
    "log",
    "logs",
    "messages",
    "syslog",
    "current",
    "output",
    "console",
    "main",
}
_LOG_SUFFIXES = (".gz", ".log", ".jsonl", ".json", ".txt", ".out", ".err", ".csv")


def service_from_source(name: str) -> str:
    """A service name for records that carry none: `nginx/access.log` → `nginx`,
    `checkout-api.log` → `checkout-api`, `bundle/postgresql.log.gz` → `postgresql`."""
    parts = [p for p in name.replace("\\", "/").split("/") if p]
    if not parts:
        return ""
    stem = parts[-1]
    changed = True
    while changed:
        changed = False
        for suffix in _LOG_SUFFIXES:
            if stem.lower().endswith(suffix) and len(stem) > len(suffix):
                stem, changed = stem[: -len(suffix)], True
    stem = stem.rstrip(".-_0123456789") or stem  # rotated files: app.log.1, app-2024-01-15
    if stem.lower() in _GENERIC_STEMS and len(parts) > 1:
        return parts[-2]
    return stem


YEAR_SENTINEL = 1904  # a leap year no real log is from: marks timestamps that carry no year
YEAR_SAMPLE = 200


def source_streams(paths: Iterable[Path], report: ArchiveReport) -> Iterator[tuple[str, BinaryIO]]:
    """(source name, binary stream) for every log file in the given files and archives."""
    for path in paths:
        for member in open_members(path, display_name=path.name, report=report):
            yield member.name, member.stream


@dataclass(frozen=True, slots=True)
class DateHints:
    """What the dated lines of an upload say, for lines that lack part of a date, and what the
    user said at upload (`with_upload`). A year a line carries always wins over these."""

    year: int | None  # for formats that print no year (syslog); None: inferred from `reference`
    day: date | None  # for bare times of day (logback's default); None: no dated line seen
    tz: tzinfo | None = None  # for times without a zone (UTC when None)
    reference: datetime | None = None  # when the upload happened: year-less dates are before it

    def with_upload(
        self, *, year: int | None, tz: tzinfo | None, uploaded: datetime | None
    ) -> DateHints:
        """The user's year (if given) over the file's; the user's zone; the upload's date as
        the reference for year-less dates when neither gives a year."""
        return replace(self, year=year or self.year, tz=tz, reference=uploaded)


def date_hints(paths: list[Path]) -> DateHints:
    """The year and the day most timestamps with a date carry, from the head of every source
    (a syslog line's own year included); without any dated line, no year and no day."""
    years: Counter[int] = Counter()
    days: Counter[date] = Counter()
    report = ArchiveReport()
    undated = date(YEAR_SENTINEL, 1, 1)
    try:
        for _name, stream in source_streams(paths, report):
            head: list[Line] = []
            for line in iter_lines(stream):
                head.append(line)
                if len(head) >= YEAR_SAMPLE:
                    break
            for record in parse_lines(head, default_year=YEAR_SENTINEL, default_date=undated):
                ts = record.ts
                if ts is not None and not record.ts_inherited and ts.year != YEAR_SENTINEL:
                    years[ts.year] += 1
                    days[ts.date()] += 1
    except ArchiveRejected:
        pass
    return DateHints(
        year=years.most_common(1)[0][0] if years else None,
        day=days.most_common(1)[0][0] if days else None,
    )
