"""The compute half of the ingest job: bytes in, COPY rows out, in a forked process.

The ingest job is pure Python per line (decoding and parsing; timestamps, mining, rules and
row formatting) and PostgreSQL writing the rows and their indexes. Run in one process they share
the GIL with the writer thread. Here the Python side runs in a child process forked by the job
(forking.py), which forks a parsing process in turn (pipeline.parsed_members), so parsing,
mining/rules and PostgreSQL's backend can share the cores (per-process CPU in README,
Benchmarks). The compute process sends the job a stream of `Message`s (frozen dataclasses):

    SourceStarted(name)                       a member of the upload starts
    SourceSkipped(detail)                     ... and is not a text log
    RowsBatch(rows, progress)                 a batch of rows in COPY text format
    SourceDone(fmt, ..., last_ts)             counts, digest and times for its Source row
    Done(miner_state, observed, findings, warnings)
    Rejected(reason)                          the upload is refused

The job (the parent) owns every database access: it creates the Source rows, prefixes each
row with its incident and source ids, COPYs with checkpoints and saves the results. The
children never touch the inherited database connection and leave with os._exit, so no
finaliser can write to that socket; a failure in either reaches the job as ComputeFailed.
Framework-free apart from reading settings for the limits.

`messages(..., fork=False)` runs the same generators in this process (the job always forks
where the platform can; tests compare both).
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from functools import partial
from json.encoder import encode_basestring_ascii as _quote
from pathlib import Path
from typing import Any

from apps.core.grouping.miner import Miner, MinerState
from apps.core.ingest import forking
from apps.core.ingest.pipeline import (
    DateHints,
    Grouped,
    ParsedMember,
    group_records,
    parsed_members,
)
from apps.core.logparse.archive import ArchiveRejected, ArchiveReport
from apps.core.logparse.levels import LEVEL_NUMBER
from apps.core.logparse.limits import Limits
from apps.core.rules.finding import Finding

BATCH_SIZE = 5000
NULL = "\\N"  # COPY text format
MEMBER_NAME_MAX = 500  # Source.member
# The compute process yields to web requests under contention (no effect on an idle machine;
# its PostgreSQL backend only works as fast as this process feeds it).
COMPUTE_NICE = 10


# The compute or parsing process failed or died; the message says how (shown on the job).
ComputeFailed = forking.ChildFailed


@dataclass(slots=True)
class Spec:
    """What the compute side needs, prepared by the job (with database access) before forking."""

    path: Path
    display_name: str
    log_format: str | None
    dates: DateHints  # year and day for stamps that lack them (pipeline.date_hints)
    limits: Limits
    miner: Miner
    engine: Any  # apps.core.rules.Engine
    group_rules: Any  # grouping_store.GroupRules
    observed: Any  # grouping_store.Observed
    # a user's corrected header, by member name (Source.log_format), over `log_format`
    member_formats: dict[str, str] = field(default_factory=dict)


# ----------------------------------------------------------------------------- the messages


@dataclass(frozen=True, slots=True)
class Progress:
    """How far the job is, in the IngestJob's own fields."""

    bytes_done: int
    lines_done: int
    events_done: int


@dataclass(frozen=True, slots=True)
class SourceStarted:
    name: str  # the member's display path (Source.member)


@dataclass(frozen=True, slots=True)
class SourceSkipped:
    detail: str  # why it is not read, for the Source's warnings


@dataclass(frozen=True, slots=True)
class RowsBatch:
    rows: Rows
    progress: Progress


@dataclass(frozen=True, slots=True)
class SourceDone:
    """The finished member's Source fields, by their names."""

    fmt: str
    confidence: float
    header: str
    unmatched: dict[str, int]
    line_count: int
    event_count: int
    parsed_lines: int
    unparsed_lines: int
    truncated_lines: int
    sha256: str
    warnings: list[str]
    first_ts: datetime | None
    last_ts: datetime | None


@dataclass(frozen=True, slots=True)
class Done:
    miner_state: MinerState
    observed: Any  # grouping_store.Observed, as the job handed it over in Spec
    findings: list[Finding]
    warnings: list[str]


@dataclass(frozen=True, slots=True)
class Rejected:
    reason: str


Message = SourceStarted | SourceSkipped | RowsBatch | SourceDone | Done | Rejected


# one encoder: json.dumps with options builds a new JSONEncoder on every call
_encode_json = json.JSONEncoder(ensure_ascii=True, default=str).encode


def _attrs_json(attrs: dict) -> str:
    """The attributes as JSON (what `_encode_json` writes), COPY-escaped. Most are strings to
    strings (logfmt, text formats): those are quoted one by one, which costs less than the
    encoder's set-up per call."""
    parts = []
    for key, value in attrs.items():
        if type(value) is not str or type(key) is not str:
            text = _encode_json(attrs)
            break
        parts.append(f"{_quote(key)}: {_quote(value)}")
    else:
        text = "{" + ", ".join(parts) + "}"
    if "\\u0000" in text:
        text = text.replace("\\u0000", "")  # jsonb refuses NUL
    return esc(text)


def esc(text: str) -> str:
    """COPY text format escaping (backslash, tab, newline, CR); most fields have none."""
    if "\\" in text or "\t" in text or "\n" in text or "\r" in text:
        return (
            text.replace("\\", "\\\\")
            .replace("\t", "\\t")
            .replace("\n", "\\n")
            .replace("\r", "\\r")
        )
    return text


def copy_tail(grouped: Grouped) -> str:
    """The event's row from `line` on (writing.EVENT_COLUMNS[2:]) in COPY text format; the
    job prefixes incident and source ids. An f-string is ~4× cheaper than psycopg's generic
    per-value write_row on this hot path."""
    r = grouped.record
    ts, level = r.ts, r.level
    return (
        f"{r.line}\t{r.end_line}\t{ts.isoformat() if ts is not None else NULL}\t"
        f"{'t' if r.ts_inherited else 'f'}\t"
        f"{NULL if not level else LEVEL_NUMBER.get(level, NULL)}\t"
        f"{_text_columns(r.service, r.host, r.trace_id, r.message, r.raw)}\t"
        f"{grouped.match.template_id}\t{grouped.group}\t"
        f"{_attrs_json(r.attrs) if r.attrs else NULL}\t{'t' if r.truncated else 'f'}\n"
    )


def _text_columns(
    service: str | None, host: str | None, trace_id: str | None, message: str, raw: str
) -> str:
    """service, host, trace_id, message and raw as five COPY columns, made storable (no NUL,
    no lone surrogate, the first three cut at 200 characters) and escaped as one string: done
    field by field, the calls cost more than the work on such short text."""
    service, host, trace_id = service or "", host or "", trace_id or ""
    if len(service) > 200 or len(host) > 200 or len(trace_id) > 200:  # Event's max_length
        service, host, trace_id = service[:200], host[:200], trace_id[:200]
    text = f"{service}\x00{host}\x00{trace_id}\x00{message}\x00{raw}"
    if text.count("\x00") != 4:  # a NUL in a field (JSON "\u0000"): PostgreSQL text refuses it
        text = "\x00".join(f.replace("\x00", "") for f in (service, host, trace_id, message, raw))
    if not text.isascii():
        # a lone surrogate cannot be stored as UTF-8; the JSON loader already replaces those
        # from "\ud800" escapes, this keeps any other source of one from failing the COPY
        text = text.encode("utf-8", "replace").decode("utf-8")
    return esc(text).replace("\x00", "\t")


def compute(spec: Spec, *, fork_parser: bool = True) -> Iterator[Message]:
    """The messages of one job, in order (see the module docstring)."""
    report = ArchiveReport()
    totals = {"bytes": 0, "lines": 0, "events": 0}
    members = 0
    try:
        for member in parsed_members(
            spec.path,
            display_name=spec.display_name,
            limits=spec.limits,
            log_format=spec.log_format,
            member_formats=spec.member_formats,
            dates=spec.dates,
            report=report,
            skip_binary=True,
            name_limit=MEMBER_NAME_MAX,
            fork=fork_parser,
        ):
            members += 1
            yield from _member(spec, member, totals)
    except ArchiveRejected as exc:
        yield Rejected(exc.reason)
        return
    warnings = list(report.warnings)
    if members == 0:
        warnings.append("no log file was found in this upload")
    findings = spec.engine.findings()
    yield Done(spec.miner.to_state(), spec.observed, findings, warnings)


@dataclass(frozen=True, slots=True)
class Rows:
    """A batch of events in COPY text format, one string: a row per `\\n`, each from `line`
    on (copy_tail), lines ascending. One string crosses the pipe and reaches COPY in a few
    C-level calls; a list of per-row strings cost the job ~1 µs a row to unpickle and join."""

    text: str
    first_line: int
    last_line: int
    count: int

    @classmethod
    def of(cls, tails: list[str], first_line: int, last_line: int) -> Rows:
        return cls("".join(tails), first_line, last_line, len(tails))

    def after(self, checkpoint: int) -> Rows | None:
        """The rows past `checkpoint` (a resumed job has stored the others), None if none."""
        if not self.count or self.last_line <= checkpoint:
            return None
        if self.first_line > checkpoint:
            return self
        # a data newline is escaped (\\n), so "\n" ends a row and the row starts with its line
        kept = [
            row for row in self.text.split("\n")[:-1] if int(row[: row.index("\t")]) > checkpoint
        ]
        first = int(kept[0][: kept[0].index("\t")])
        return Rows("".join(row + "\n" for row in kept), first, self.last_line, len(kept))

    def prefixed(self, prefix: str) -> str:
        """Every row with `prefix` (the incident and source id columns) in front."""
        return prefix + self.text[:-1].replace("\n", "\n" + prefix) + "\n"


def _member(spec: Spec, member: ParsedMember, totals: dict) -> Iterator[Message]:
    yield SourceStarted(member.name)
    if member.binary:
        yield SourceSkipped(f"skipped: {member.binary}, not a text log")
        return
    rows: list[str] = []
    first_line = 0
    first_ts = last_ts = None
    events = 0

    def progress() -> Progress:
        return Progress(
            bytes_done=totals["bytes"] + member.bytes_read,
            lines_done=totals["lines"] + member.lines_read,
            events_done=totals["events"] + events,
        )

    feed, apply, see = spec.engine.feed, spec.group_rules.apply, spec.observed.see
    append = rows.append
    for grouped in group_records(member.records, spec.miner):
        grouped.group = apply(grouped.group, grouped)
        see(grouped)
        record = grouped.record
        feed(record, template_id=grouped.match.template_id, group=grouped.group)
        ts = record.ts
        if ts is not None:
            if first_ts is None or ts < first_ts:
                first_ts = ts
            if last_ts is None or ts > last_ts:
                last_ts = ts
        if not rows:
            first_line = record.line
        append(copy_tail(grouped))
        if len(rows) >= BATCH_SIZE:
            events += len(rows)
            yield RowsBatch(Rows.of(rows, first_line, record.line), progress())
            rows = []
            append = rows.append
    events += len(rows)
    yield RowsBatch(Rows.of(rows, first_line, record.line if rows else 0), progress())
    stats, decode = member.stats, member.decode
    assert stats is not None and decode is not None  # set once the records are exhausted
    yield SourceDone(
        fmt=stats.fmt,
        confidence=stats.confidence,
        header=stats.header[:500],
        unmatched=stats.unmatched,
        line_count=decode.lines,
        event_count=stats.records,
        parsed_lines=stats.parsed_lines,
        unparsed_lines=stats.unparsed_lines,
        truncated_lines=decode.truncated_lines,
        sha256=member.sha256,
        warnings=(decode.warnings + stats.warnings)[:50],
        first_ts=first_ts,
        last_ts=last_ts,
    )
    totals["bytes"] += member.bytes_read
    totals["lines"] += decode.lines
    totals["events"] += stats.records


# ----------------------------------------------------------------------------- the process


def messages(spec: Spec, *, fork: bool = True) -> Iterator[Message]:
    """`compute(spec)` in a child process forked by this call, which forks the parsing process
    in turn (pipeline.parsed_members); or all in this process with fork=False.

    The children die with the job (forking.py), so a SIGKILLed worker leaves no orphan parsing.
    """
    if not fork or not hasattr(os, "fork"):
        return compute(spec, fork_parser=False)
    return forking.in_child(partial(compute, spec), name="the compute process", nice=COMPUTE_NICE)
