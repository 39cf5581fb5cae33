"""One path from a source's lines to grouped records: parse → mine template → fingerprint.

Framework-free (no Django): the `logparse` and `triage` commands, the ingest job and the
benchmarks all call this, so there is one behaviour to test.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from itertools import chain, islice
from pathlib import Path
from typing import BinaryIO

from apps.ingestion.grouping.fingerprint import Fingerprint, fingerprint, head_line
from apps.ingestion.grouping.miner import Match, Miner
from apps.ingestion.logparse.archive import ArchiveRejected, ArchiveReport, open_members
from apps.ingestion.logparse.decode import iter_lines
from apps.ingestion.logparse.detect import SAMPLE_LINES, Detection, detect_format
from apps.ingestion.logparse.parser import parse_lines
from apps.ingestion.logparse.record import Line, Record

# Lines sampled from the head of a source for format detection (lines, not non-empty lines,
# so that a file of blank lines cannot make us buffer it whole).
DETECT_SAMPLE = SAMPLE_LINES * 5


@dataclass(slots=True)
class SourceStats:
    """What a user reads about one source: format, coverage, what was kept unparsed."""

    name: str
    fmt: str = "plain"
    confidence: float = 0.0
    lines: int = 0  # physical lines
    records: int = 0  # events after multi-line joining
    parsed_lines: int = 0  # physical lines inside records whose header a format parsed
    unparsed_lines: int = 0  # physical lines kept as plain text
    truncated_lines: int = 0
    inherited_ts: int = 0  # records without their own timestamp
    warnings: list[str] = field(default_factory=list)

    @property
    def coverage(self) -> float:
        return self.parsed_lines / self.lines if self.lines else 0.0

    def summary(self) -> str:
        if not self.lines:
            return "empty"
        parts = [f"{self.coverage:.1%} parsed"]
        if self.unparsed_lines:
            parts.append(f"{self.unparsed_lines:,} lines kept unparsed")
        if self.truncated_lines:
            parts.append(f"{self.truncated_lines:,} lines truncated")
        return " · ".join(parts)


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
    default_year: int | None = None,
) -> Iterator[Record]:
    """Parse one source's lines into records, filling `stats` as it goes."""
    it = iter(lines)
    if log_format:
        stats.fmt, stats.confidence = "loghub", 1.0
        records = parse_lines(it, source=source, log_format=log_format, default_year=default_year)
    else:
        detection, it = detect(it)
        stats.fmt, stats.confidence = detection.name, detection.confidence
        records = parse_lines(it, source=source, detected=detection.name, default_year=default_year)
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
        if record.ts_inherited:
            stats.inherited_ts += 1
        yield record


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


def year_hint(paths: list[Path]) -> int:
    """The year most timestamps with a year carry, for formats that print none (syslog).

    Reads the head of every source; without any dated line, the current year.
    """
    years: Counter[int] = Counter()
    report = ArchiveReport()
    try:
        for _name, stream in source_streams(paths, report):
            head: list[Line] = []
            for line in iter_lines(stream):
                head.append(line)
                if len(head) >= YEAR_SAMPLE:
                    break
            for record in parse_lines(head, default_year=YEAR_SENTINEL):
                ts = record.ts
                if ts is not None and not record.ts_inherited and ts.year != YEAR_SENTINEL:
                    years[ts.year] += 1
    except ArchiveRejected:
        pass
    return years.most_common(1)[0][0] if years else datetime.now(UTC).year
