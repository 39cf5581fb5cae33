"""What the stream detectors count while the records go by: one pass, bounded state.

`StreamTally.feed_many` is on the ingest path (every record of every upload), so it keeps its
work per record to dictionary updates; detect.py reads the counts once, at the end.
Per template: first and last time, level, services, evidence, its lines per base bucket and,
for lifecycle lines, when they occurred. Per service and overall: lines per bucket, and the
WARN+ and ERROR+ lines per bucket the onset and the error bursts are read from.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from apps.core.logparse.record import Record
from apps.core.vocabulary import LEVEL_NUMBER, Level

from .finding import EvidenceRef

BASE_BUCKET = 10  # seconds; rates are counted at this resolution and re-binned at the end
EVIDENCE_PER_TEMPLATE = 5
OCCURRENCES_KEPT = 50
ERROR_RANK = int(Level.ERROR)
WARN_RANK = int(Level.WARN)
# A record's level → its rank; -1 for a record without a level.
_RANK_OF_LEVEL: dict[str | None, int] = {None: -1}
_RANK_OF_LEVEL.update(LEVEL_NUMBER)

# Lifecycle verbs: a process, job, config or credential changing state. Kept small and generic;
# the tests hold positive and negative examples. "startTransaction", "restartable" and
# "uptime since start" do not match; "checkpoint starting" does but is routine (too frequent).
LIFECYCLE = re.compile(
    r"(?i)\b(?:start(?:ed|ing)|restart(?:ed|ing)?|stopp(?:ed|ing)|shutting down|"
    r"reload(?:ed|ing)?|boot(?:ed|ing)|deploy(?:ed|ing|ment)|roll(?:ed|ing)[ -]?out|"
    r"upgrad(?:ed|ing)|rotat(?:ed|ing)|renew(?:ed|al|ing)?|sighup|signal process|"
    r"config(?:uration)? (?:loaded|changed|applied)|scaled? (?:up|down))\b"
)

_ERRORISH = re.compile(
    r"(?i)\b(?:error|exception|fail(?:ed|ure)?|fatal|panic|refused|timed? ?out|denied|killed|"
    r"unavailable|unreachable|crash(?:ed)?|abort(?:ed)?|invalid)\b"
)
_NEGATED = re.compile(r"(?i)\b(?:0|no|zero) (?:errors?|failures?)\b|\berrors?[=:] ?0\b")


def looks_errorish(message: str) -> bool:
    text = message[:500]
    return _ERRORISH.search(text) is not None and _NEGATED.search(text) is None


@dataclass(slots=True)
class TemplateTally:
    index: int  # position of the first record in the stream
    first_ts: datetime | None
    level_rank: int
    errorish: bool
    sample: str
    group: str | None
    source: str = ""
    source_pos: int = 0  # position of the first record within its source
    lifecycle: bool = False
    count: int = 0
    last_ts: datetime | None = None
    services: dict[str, None] = field(default_factory=dict)
    evidence: list[EvidenceRef] = field(default_factory=list)
    buckets: dict[int, int] = field(default_factory=dict)  # base bucket → lines (timed only)
    occurrences: list[tuple[datetime, EvidenceRef]] = field(default_factory=list)  # lifecycle


class ServiceTally:
    """Per-service bookkeeping over timed records."""

    __slots__ = ("bucket_first", "buckets", "first", "last")

    def __init__(self, record: Record) -> None:
        self.first = EvidenceRef(record.source, record.line)
        self.buckets: dict[int, int] = {}
        self.bucket_first: dict[int, tuple[str, int]] = {}  # base bucket → its first line
        self.last = record  # the latest timed record: its line is read at the end


_EPOCH_ORDINAL = datetime(1970, 1, 1, tzinfo=UTC).toordinal()


class StreamTally:
    """The counts, filled by `feed_many` in stream order."""

    def __init__(self) -> None:
        self.n = 0
        self.templates: dict[str, TemplateTally] = {}
        # Templates / services in the order of their first timed record (the report order).
        self.timed_templates: list[str] = []
        self.services: dict[str, ServiceTally] = {}
        self.untemplated: dict[int, int] = {}  # timed records without a template id, per bucket
        self.err_buckets: dict[int, int] = {}
        self.err_refs: dict[int, list[tuple[str, int]]] = {}  # first lines per bucket
        self.source_n: dict[str, int] = {}  # records per source
        self.source_first: dict[str, datetime] = {}  # first timestamp per source
        # WARN+ lines (and level-less lines of error-looking templates) per base bucket, with
        # the first one's time: the series the onset is read from.
        self.bad_buckets: dict[int, int] = {}
        self.bad_first: dict[int, tuple[datetime, str, int]] = {}

    def feed(
        self, record: Record, *, template_id: str | None = None, group: str | None = None
    ) -> None:
        self.feed_many(((record, template_id, group),))

    def feed_many(self, items: Iterable[tuple[Record, str | None, str | None]]) -> None:
        """Feed (record, template id, group) triples in stream order."""
        templates = self.templates
        timed_templates = self.timed_templates
        services = self.services
        untemplated = self.untemplated
        err_buckets = self.err_buckets
        err_refs = self.err_refs
        source_n = self.source_n
        bad_buckets, bad_first = self.bad_buckets, self.bad_first
        rank_of = _RANK_OF_LEVEL.get
        utc, epoch_ordinal = UTC, _EPOCH_ORDINAL
        index = self.n
        try:
            for record, template_id, group in items:
                rank = rank_of(record.level, -1)
                ts = record.ts
                source_pos = source_n.get(record.source, 0)
                source_n[record.source] = source_pos + 1
                tpl = None
                if template_id is not None:
                    tpl = templates.get(template_id)
                    if tpl is None:
                        message = record.message
                        tpl = templates[template_id] = TemplateTally(
                            index=index,
                            first_ts=ts,
                            level_rank=rank,
                            errorish=looks_errorish(message),
                            sample=message[:300],
                            group=group,
                            source=record.source,
                            source_pos=source_pos,
                            lifecycle=LIFECYCLE.search(message[:300]) is not None,
                        )
                    tpl.count += 1
                    if tpl.lifecycle and ts is not None and len(tpl.occurrences) < OCCURRENCES_KEPT:
                        tpl.occurrences.append((ts, EvidenceRef(record.source, record.line)))
                    tpl.last_ts = ts
                    if rank > tpl.level_rank:
                        tpl.level_rank = rank
                    service = record.service
                    if service and len(tpl.services) < 10:
                        tpl.services[service] = None
                    if len(tpl.evidence) < EVIDENCE_PER_TEMPLATE:
                        tpl.evidence.append(EvidenceRef(record.source, record.line))
                index += 1
                if ts is None:
                    continue
                if source_pos == 0 or record.source not in self.source_first:
                    self.source_first.setdefault(record.source, ts)
                # second = int(ts.timestamp()), computed from the fields for UTC times: the
                # float detour costs several times more. int() truncates towards zero.
                if ts.tzinfo is utc:
                    second = (
                        (ts.toordinal() - epoch_ordinal) * 86400
                        + ts.hour * 3600
                        + ts.minute * 60
                        + ts.second
                    )
                    if second < 0 and ts.microsecond:
                        second += 1
                else:
                    second = int(ts.timestamp())
                bucket = second // BASE_BUCKET
                if tpl is not None:
                    counts = tpl.buckets
                    c = counts.get(bucket)
                    if c is None:
                        if not counts:
                            assert template_id is not None  # tpl is looked up by it
                            timed_templates.append(template_id)
                        counts[bucket] = 1
                    else:
                        counts[bucket] = c + 1
                else:
                    untemplated[bucket] = untemplated.get(bucket, 0) + 1
                service = record.service
                if service:
                    svc = services.get(service)
                    if svc is None:
                        svc = services[service] = ServiceTally(record)
                    else:
                        svc.last = record
                    counts = svc.buckets
                    c = counts.get(bucket)
                    if c is None:
                        counts[bucket] = 1
                        svc.bucket_first[bucket] = (record.source, record.line)
                    else:
                        counts[bucket] = c + 1
                if rank >= WARN_RANK or (rank < 0 and tpl is not None and tpl.errorish):
                    c = bad_buckets.get(bucket)
                    if c is None:
                        bad_buckets[bucket] = 1
                        bad_first[bucket] = (ts, record.source, record.line)
                    else:
                        bad_buckets[bucket] = c + 1
                        if ts < bad_first[bucket][0]:
                            bad_first[bucket] = (ts, record.source, record.line)
                if rank >= ERROR_RANK:
                    err_buckets[bucket] = err_buckets.get(bucket, 0) + 1
                    refs = err_refs.get(bucket)
                    if refs is None:
                        err_refs[bucket] = [(record.source, record.line)]
                    elif len(refs) < EVIDENCE_PER_TEMPLATE:
                        refs.append((record.source, record.line))
        finally:
            self.n = index
