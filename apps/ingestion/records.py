"""The record-based entry point of ingestion: streamed records through parse → group → rules.

Uploads arrive as files and go through the ingest job (jobs.py). Streamed records (OTLP, Loki,
Elasticsearch bulk, HEC, syslog: apps.streams) arrive already split and structured: time,
level, service, message, attributes, trace and span ids. They skip format detection and go
through the same core code from there on: the project's template miner (mask + mine), the
fingerprint, the project's merge/split rules and the tenant's rule catalogue (the ingestion
hooks' catalogue provider, so `apps.rules` settings and custom rules apply to streams too).

    with RecordsRun.open(project) as run:        # holds the project's mining lock
        grouped, findings = run.process(records)  # one call per unit of work
    # the miner's state is saved when the block ends without an error

Structured fields are kept: a record's attributes are the rules' `attrs` as they came (nested
values included), never flattened into the message. Each call gets a fresh rules engine, so
threshold rules ("N in 60 s") count within one unit of work.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime

from apps.core.ingest.pipeline import Grouped, group_records
from apps.core.logparse.record import Record
from apps.core.rules.catalogue import Catalogue
from apps.core.rules.engine import Engine
from apps.core.rules.finding import Finding
from apps.incidents.models import Project
from apps.ingestion import grouping_store, hooks

STREAM_FORMAT = "stream"  # Record.fmt of a streamed record: structured, nothing to detect


@dataclass(frozen=True, slots=True)
class NormalisedRecord:
    """One streamed record as ingestion takes it (apps.streams maps its spool rows to this)."""

    ts: datetime | None
    level: str | None  # one of LEVELS, or None
    service: str
    message: str
    attributes: dict = field(default_factory=dict)
    host: str = ""
    trace_id: str = ""
    span_id: str = ""
    truncated: bool = False


def to_record(record: NormalisedRecord, *, source: str, position: int) -> Record:
    """The core `Record` of a streamed record; evidence cites it as (source, position)."""
    attrs = dict(record.attributes) if record.attributes else {}
    if record.span_id:
        attrs.setdefault("span_id", record.span_id)
    return Record(
        line=position,
        end_line=position,
        raw=record.message,
        message=record.message,
        ts=record.ts,
        level=record.level,
        service=record.service or None,
        host=record.host or None,
        trace_id=record.trace_id or None,
        attrs=attrs,
        fmt=STREAM_FORMAT,
        parsed=True,
        truncated=record.truncated,
        source=source,
    )


@dataclass(slots=True)
class RecordsRun:
    """A project's miner, group rules and rule catalogue, loaded once for several calls."""

    project: Project
    catalogue: Catalogue
    miner: object
    rules: grouping_store.GroupRules

    @classmethod
    @contextmanager
    def open(cls, project: Project, catalogue: Catalogue | None = None) -> Iterator[RecordsRun]:
        """Load the project's grouping state under its mining lock (the one ingest jobs take)
        and save the miner when the block ends without an error. `catalogue`: the rules to
        run, when the caller built them already (building costs ~0.1 s); else the hooks'."""
        with grouping_store.project_lock(project.pk):
            run = cls(
                project=project,
                catalogue=catalogue if catalogue is not None else hooks.catalogue(),
                miner=grouping_store.load_miner(project),
                rules=grouping_store.GroupRules.load(project),
            )
            yield run
            grouping_store.save_miner(project, run.miner)  # type: ignore[arg-type]

    def process(
        self, records: Sequence[NormalisedRecord], *, source: str = "stream"
    ) -> tuple[list[Grouped], list[Finding]]:
        """Mine, fingerprint and group every record (in order; positions are 1-based) and run
        the rules over them: the grouped records and the findings of this unit of work."""
        engine = Engine(self.catalogue, detect=False)
        feed, apply = engine.feed, self.rules.apply
        cores = (to_record(r, source=source, position=i) for i, r in enumerate(records, 1))
        out = []
        for grouped in group_records(cores, self.miner):  # type: ignore[arg-type]
            grouped.group = apply(grouped.group, grouped)
            feed(grouped.record, template_id=grouped.match.template_id, group=grouped.group)
            out.append(grouped)
        return out, engine.findings()
