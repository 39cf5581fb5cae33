"""The compute half of the ingest job: bytes in, COPY rows out, in a forked process.

The ingest job is two pipelines that each want a core: parsing, mining, rules and row
formatting (pure Python, per line), and PostgreSQL writing the rows and their indexes. Run in
one process they share the GIL with the writer thread; here the Python side runs in a child
process forked by the job, which sends its results to the job as a stream of messages:

    ("source", name)                          a member of the upload starts
    ("skip", detail)                          ... and is not a text log
    ("rows", [(line, copy_tail), ...], progress)   a batch of rows in COPY text format
    ("source_done", fields)                   counts, digest and times for its Source row
    ("done", miner_state, observed, findings, warnings)
    ("rejected", reason) / ("error", text)    the upload or the code failed

The job (the parent) owns every database access: it creates the Source rows, prefixes each
row with its incident and source ids, COPYs with checkpoints and saves the results. The child
never touches the inherited database connection and leaves with os._exit, so no finaliser
can write to that socket. Framework-free apart from reading settings for the limits.

`messages(..., fork=False)` runs the same generator in this process (the job always forks
where the platform can; tests compare both).
"""

from __future__ import annotations

import contextlib
import ctypes
import hashlib
import json
import os
import pickle
import signal
from collections.abc import Iterator
from dataclasses import dataclass
from itertools import chain
from pathlib import Path
from typing import Any, BinaryIO

from apps.ingestion.grouping.miner import Miner
from apps.ingestion.logparse.archive import ArchiveRejected, ArchiveReport, open_members
from apps.ingestion.logparse.decode import DecodeReport, iter_lines
from apps.ingestion.logparse.levels import LEVEL_NUMBER
from apps.ingestion.logparse.limits import Limits
from apps.ingestion.pipeline import Grouped, SourceStats, group_records, parse_source

BATCH_SIZE = 5000
NULL = "\\N"  # COPY text format
MEMBER_NAME_MAX = 500  # Source.member
# The compute process yields to web requests under contention (no effect on an idle machine;
# its PostgreSQL backend only works as fast as this process feeds it).
COMPUTE_NICE = 10


class ComputeFailed(Exception):
    """The compute process failed or died; the message says how (shown on the job)."""


@dataclass(slots=True)
class Spec:
    """What the compute side needs, prepared by the job (with database access) before forking."""

    path: Path
    display_name: str
    log_format: str | None
    default_year: int
    limits: Limits
    miner: Miner
    engine: Any  # apps.rules.engine.Engine
    group_rules: Any  # grouping_store.GroupRules
    observed: Any  # grouping_store.Observed


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


def clean(text: str | None, limit: int | None = None) -> str:
    if not text:
        return ""
    if limit is not None and len(text) > limit:
        text = text[:limit]
    if not text.isascii():
        # lone surrogates (from JSON "\ud800" escapes) cannot be stored as UTF-8
        text = text.encode("utf-8", "replace").decode("utf-8")
    if "\x00" in text:  # a JSON "\u0000" escape decodes to NUL, which PostgreSQL text refuses
        text = text.replace("\x00", "")
    return text


# one encoder: json.dumps with options builds a new JSONEncoder on every call
_encode_json = json.JSONEncoder(ensure_ascii=True, default=str).encode


def _attrs_json(attrs: dict) -> str:
    text = _encode_json(attrs)
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
    """The event's row from `line` on (services.EVENT_COLUMNS[2:]) in COPY text format; the
    job prefixes incident and source ids. An f-string is ~4× cheaper than psycopg's generic
    per-value write_row on this hot path."""
    r = grouped.record
    ts, level = r.ts, r.level
    return (
        f"{r.line}\t{r.end_line}\t{ts.isoformat() if ts is not None else NULL}\t"
        f"{'t' if r.ts_inherited else 'f'}\t"
        f"{NULL if not level else LEVEL_NUMBER.get(level, NULL)}\t"
        f"{esc(clean(r.service, 200))}\t{esc(clean(r.host, 200))}\t"
        f"{esc(clean(r.trace_id, 200))}\t{esc(clean(r.message))}\t{esc(clean(r.raw))}\t"
        f"{grouped.match.template_id}\t{grouped.group}\t"
        f"{_attrs_json(r.attrs) if r.attrs else NULL}\t{'t' if r.truncated else 'f'}\n"
    )


def compute(spec: Spec) -> Iterator[tuple]:
    """The messages of one job, in order (see the module docstring)."""
    report = ArchiveReport()
    totals = {"bytes": 0, "lines": 0, "events": 0}
    members = 0
    try:
        for member in open_members(
            spec.path, display_name=spec.display_name, limits=spec.limits, report=report
        ):
            members += 1
            yield from _member(spec, member.name[:MEMBER_NAME_MAX], member.stream, totals)
    except ArchiveRejected as exc:
        yield ("rejected", exc.reason)
        return
    warnings = list(report.warnings)
    if members == 0:
        warnings.append("no log file was found in this upload")
    findings = spec.engine.findings()
    yield ("done", spec.miner.to_state(), spec.observed, findings, warnings)


def _member(spec: Spec, name: str, stream: BinaryIO, totals: dict) -> Iterator[tuple]:
    yield ("source", name)
    reader = _HashingReader(stream)
    report = DecodeReport()
    stats = SourceStats(name=name)
    lines = iter_lines(reader, limits=spec.limits, report=report)
    first = next(lines, None)  # decoding the head sniffs the content
    if report.looks_binary:
        yield ("skip", f"skipped: {report.binary_detail or 'binary data'}, not a text log")
        return
    records = parse_source(
        chain([first], lines) if first is not None else lines,
        source=name,
        stats=stats,
        log_format=spec.log_format,
        default_year=spec.default_year,
    )
    rows: list[tuple[int, str]] = []
    first_ts = last_ts = None

    def progress() -> dict:
        return {
            "bytes_done": totals["bytes"] + reader.count,
            "lines_done": totals["lines"] + report.lines,
            "events_done": totals["events"] + stats.records,
        }

    feed, apply, see = spec.engine.feed, spec.group_rules.apply, spec.observed.see
    append = rows.append
    for grouped in group_records(records, spec.miner):
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
        append((record.line, copy_tail(grouped)))
        if len(rows) >= BATCH_SIZE:
            yield ("rows", rows, progress())
            rows = []
            append = rows.append
    yield ("rows", rows, progress())
    yield (
        "source_done",
        {
            "fmt": stats.fmt,
            "confidence": stats.confidence,
            "line_count": report.lines,
            "event_count": stats.records,
            "parsed_lines": stats.parsed_lines,
            "unparsed_lines": stats.unparsed_lines,
            "truncated_lines": report.truncated_lines,
            "sha256": reader.digest.hexdigest(),
            "warnings": (report.warnings + stats.warnings)[:50],
            "first_ts": first_ts,
            "last_ts": last_ts,
        },
    )
    totals["bytes"] += reader.count
    totals["lines"] += report.lines
    totals["events"] += stats.records


# ----------------------------------------------------------------------------- the process


def messages(spec: Spec, *, fork: bool = True) -> Iterator[tuple]:
    """`compute(spec)`, run in a forked child process (or here, with fork=False).

    Fork before starting any thread: only the forking thread exists in the child. The child
    dies with its parent (PR_SET_PDEATHSIG), so a SIGKILLed worker leaves no orphan parsing.
    """
    if not fork or not hasattr(os, "fork"):
        yield from compute(spec)
        return
    read_fd, write_fd = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child; its work is checked through the parent
        os.close(read_fd)
        _child(spec, write_fd)
    os.close(write_fd)
    finished = False
    try:
        with os.fdopen(read_fd, "rb", buffering=1 << 20) as pipe:
            while True:
                try:
                    message = pickle.load(pipe)  # noqa: S301 - our own child, over a pipe
                except (EOFError, pickle.UnpicklingError):  # the end, or a child killed mid-write
                    break
                if message[0] == "error":
                    raise ComputeFailed(message[1])
                if message[0] in ("done", "rejected"):
                    finished = True
                yield message
    finally:
        status = _reap(pid, kill=not finished)
    if not finished:
        raise ComputeFailed(f"the parsing process ended without finishing ({status})")


def _child(spec: Spec, write_fd: int) -> None:
    code = 1
    try:
        _die_with_parent()
        with contextlib.suppress(OSError):
            os.nice(COMPUTE_NICE)  # batch work: web requests first when the cores are busy
        with os.fdopen(write_fd, "wb", buffering=1 << 20) as pipe:
            try:
                for message in compute(spec):
                    pickle.dump(message, pipe, protocol=pickle.HIGHEST_PROTOCOL)
                code = 0
            except BrokenPipeError:
                pass  # the job went away
            except BaseException as exc:  # handed to the job, which fails with it
                pickle.dump(("error", f"{type(exc).__name__}: {exc}"[:2000]), pipe)
    finally:
        os._exit(code)  # no atexit, no finalisers: the parent's connection stays untouched


def _die_with_parent() -> None:
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass
    if os.getppid() == 1:  # the parent died before prctl took effect
        os._exit(1)


def _reap(pid: int, *, kill: bool) -> str:
    if kill:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    _, status = os.waitpid(pid, 0)
    if os.WIFSIGNALED(status):
        return f"killed by signal {os.WTERMSIG(status)}"
    return f"exit status {os.WEXITSTATUS(status)}"
