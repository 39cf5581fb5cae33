"""Statistical detectors over the grouped stream: what is unusual, without a signature.

- **new-template**: a template first seen after the calm part of the upload (the first
  `calm_fraction` of records), or absent from a baseline set of template ids (earlier incidents,
  a file marked as baseline), whose lines look like trouble (level WARN+ or error words).
- **rate-spike**: a template or service whose per-bucket rate jumps far above its own median.
- **service-silent**: a service that logged steadily and then stopped while others kept logging.
- **error-burst**: ERROR/FATAL lines per bucket far above the usual error rate.

Detector findings are at most `warning`: they say "look here", never "this is the cause".
Their causal tier is the lowest, so the ranking prefers any named cause over them. Records
without a timestamp only take part in new-template detection.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from statistics import median

from apps.ingestion.logparse.record import Record

from .catalogue import LEVEL_RANK
from .finding import EvidenceRef, Finding, Severity

BASE_BUCKET = 10  # seconds; rates are counted at this resolution and re-binned at the end
TARGET_BUCKETS = 120  # re-bin so the upload spans about this many buckets
MIN_RECORDS_FOR_CALM = 100
MAX_NEW_TEMPLATE_FINDINGS = 20
MAX_SPIKE_FINDINGS = 10
EVIDENCE_PER_TEMPLATE = 5
ERROR_RANK = LEVEL_RANK["ERROR"]
WARN_RANK = LEVEL_RANK["WARN"]

_ERRORISH = re.compile(
    r"(?i)\b(?:error|exception|fail(?:ed|ure)?|fatal|panic|refused|timed? ?out|denied|killed|"
    r"unavailable|unreachable|crash(?:ed)?|abort(?:ed)?|invalid)\b"
)
_NEGATED = re.compile(r"(?i)\b(?:0|no|zero) (?:errors?|failures?)\b|\berrors?[=:] ?0\b")


def looks_errorish(message: str) -> bool:
    text = message[:500]
    return _ERRORISH.search(text) is not None and _NEGATED.search(text) is None


@dataclass(slots=True)
class _Template:
    index: int  # position of the first record in the stream
    first_ts: datetime | None
    level_rank: int
    errorish: bool
    sample: str
    group: str | None
    count: int = 0
    last_ts: datetime | None = None
    services: dict[str, None] = field(default_factory=dict)
    evidence: list[EvidenceRef] = field(default_factory=list)
    buckets: dict[int, int] = field(default_factory=dict)  # base bucket → lines (timed only)


class _Service:
    """Per-service bookkeeping over timed records."""

    __slots__ = ("buckets", "first", "last")

    def __init__(self, record: Record) -> None:
        self.first = EvidenceRef(record.source, record.line)
        self.buckets: dict[int, int] = {}
        self.last = record  # the latest timed record: its line is read at the end


_EPOCH_ORDINAL = datetime(1970, 1, 1, tzinfo=UTC).toordinal()


class StreamDetector:
    def __init__(
        self, *, baseline_templates: Iterable[str] | None = None, calm_fraction: float = 0.3
    ) -> None:
        self.baseline = set(baseline_templates) if baseline_templates is not None else None
        self.calm_fraction = calm_fraction
        self.n = 0
        self.templates: dict[str, _Template] = {}
        # Templates / services in the order of their first timed record (the report order).
        self.timed_templates: list[str] = []
        self.services: dict[str, _Service] = {}
        self.untemplated: dict[int, int] = {}  # timed records without a template id, per bucket
        self.all_buckets: dict[int, int] = {}  # every timed record, per bucket: set by findings()
        self.err_buckets: dict[int, int] = {}
        self.err_refs: dict[int, list[tuple[str, int]]] = {}  # first lines per bucket

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
        rank_of = LEVEL_RANK.get
        utc, epoch_ordinal = UTC, _EPOCH_ORDINAL
        index = self.n
        try:
            for record, template_id, group in items:
                rank = rank_of(record.level, -1)
                ts = record.ts
                tpl = None
                if template_id is not None:
                    tpl = templates.get(template_id)
                    if tpl is None:
                        tpl = templates[template_id] = _Template(
                            index=index,
                            first_ts=ts,
                            level_rank=rank,
                            errorish=looks_errorish(record.message),
                            sample=record.message[:300],
                            group=group,
                        )
                    tpl.count += 1
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
                        svc = services[service] = _Service(record)
                    else:
                        svc.last = record
                    counts = svc.buckets
                    counts[bucket] = counts.get(bucket, 0) + 1
                if rank >= ERROR_RANK:
                    err_buckets[bucket] = err_buckets.get(bucket, 0) + 1
                    refs = err_refs.get(bucket)
                    if refs is None:
                        err_refs[bucket] = [(record.source, record.line)]
                    elif len(refs) < EVIDENCE_PER_TEMPLATE:
                        refs.append((record.source, record.line))
        finally:
            self.n = index

    # --- results --------------------------------------------------------------------------

    def findings(self) -> list[Finding]:
        all_buckets = dict(self.untemplated)
        for tid in self.timed_templates:
            for b, c in self.templates[tid].buckets.items():
                all_buckets[b] = all_buckets.get(b, 0) + c
        self.all_buckets = all_buckets
        out = self._new_templates()
        if self.all_buckets:
            width = self._bucket_width()
            out += self._template_spikes(width)
            out += self._service_spikes_and_silences(width)
            out += self._error_bursts(width)
        return out

    def _bucket_width(self) -> int:
        lo, hi = min(self.all_buckets), max(self.all_buckets)
        span = hi - lo + 1
        return max(1, -(-span // TARGET_BUCKETS))  # in base buckets

    def _new_templates(self) -> list[Finding]:
        if self.baseline is not None:
            is_new = lambda tid, t: tid not in self.baseline  # noqa: E731
        elif self.n >= MIN_RECORDS_FOR_CALM:
            calm_end = int(self.n * self.calm_fraction)
            is_new = lambda tid, t: t.index >= calm_end  # noqa: E731
        else:
            return []
        candidates = [
            (tid, t)
            for tid, t in self.templates.items()
            if is_new(tid, t) and (t.level_rank >= WARN_RANK or t.errorish)
        ]
        candidates.sort(key=lambda item: item[1].index)
        out = []
        for tid, t in candidates[:MAX_NEW_TEMPLATE_FINDINGS]:
            severity = (
                Severity.WARNING if t.level_rank >= ERROR_RANK or t.errorish else Severity.INFO
            )
            out.append(
                _finding(
                    "detect.new-template",
                    "new-template",
                    severity,
                    f"New message pattern: {t.sample[:120]}",
                    "This kind of line does not occur in the calm part of the upload"
                    + (" or the baseline" if self.baseline is not None else "")
                    + f"; it first appears here and occurs {t.count} times.",
                    "Read the first occurrence: new error patterns near the incident start are often the trigger.",
                    t.evidence,
                    t.count,
                    t.first_ts,
                    t.last_ts,
                    list(t.services),
                    [t.group or tid],
                    confidence=0.4,
                )
            )
        return out

    def _rebin(self, counts: Iterable[tuple[int, int]], width: int) -> Counter[int]:
        out: Counter[int] = Counter()
        for bucket, c in counts:
            out[bucket // width] += c
        return out

    def _spikes(self, series: Counter[int], lo: int, hi: int, min_count: int, factor: float):
        """(bucket, count, typical) of the highest bucket when it is a spike, else None."""
        if not series:
            return None
        values = [series.get(b, 0) for b in range(lo, hi + 1)]
        if len(values) < 6:
            return None
        peak_bucket, peak = max(series.items(), key=lambda kv: (kv[1], -kv[0]))
        typical = median(values)
        if peak >= min_count and peak >= factor * max(typical, 1):
            return peak_bucket, peak, typical
        return None

    def _template_spikes(self, width: int) -> list[Finding]:
        lo, hi = min(self.all_buckets) // width, max(self.all_buckets) // width
        calm_end = int(self.n * self.calm_fraction)
        hits = []
        for tid in self.timed_templates:
            t = self.templates[tid]
            if t.index >= calm_end and self.baseline is None:
                continue  # a new template: reported by new-template, not as a spike
            spike = self._spikes(self._rebin(t.buckets.items(), width), lo, hi, 20, 10)
            if spike:
                hits.append((spike[1] / max(spike[2], 1), tid, t, spike))
        hits.sort(key=lambda h: -h[0])
        out = []
        for _ratio, tid, t, (bucket, peak, typical) in hits[:MAX_SPIKE_FINDINGS]:
            trouble = t.level_rank >= WARN_RANK or t.errorish
            out.append(
                _finding(
                    "detect.rate-spike",
                    "rate-spike",
                    Severity.WARNING if trouble else Severity.INFO,
                    f"Rate spike: {t.sample[:120]}",
                    f"{peak} lines in {width * BASE_BUCKET}s at {_ts(bucket * width)}, usually {typical:g}.",
                    "Check what changed at the spike: a retry storm, a deploy, a failing dependency.",
                    t.evidence,
                    t.count,
                    _dt(bucket * width),
                    t.last_ts,
                    list(t.services),
                    [t.group or tid],
                    confidence=0.35,
                )
            )
        return out

    def _service_spikes_and_silences(self, width: int) -> list[Finding]:
        lo, hi = min(self.all_buckets) // width, max(self.all_buckets) // width
        out = []
        for svc, state in self.services.items():
            counts = state.buckets
            series = self._rebin(counts.items(), width)
            spike = self._spikes(series, lo, hi, 50, 10)
            if spike:
                bucket, peak, typical = spike
                out.append(
                    _finding(
                        f"detect.rate-spike.{svc}",
                        "rate-spike",
                        Severity.INFO,
                        f"Log volume spike on {svc}",
                        f"{peak} lines in {width * BASE_BUCKET}s at {_ts(bucket * width)}, usually {typical:g}.",
                        "Look at the templates that make up the spike.",
                        [state.first],
                        sum(counts.values()),
                        _dt(bucket * width),
                        None,
                        [svc],
                        [],
                        confidence=0.3,
                    )
                )
            # Silence: steady before, nothing for the last >= 3 buckets while others log.
            last_bucket = max(series)
            active = [series.get(b, 0) for b in range(lo, last_bucket + 1)]
            if (
                hi - last_bucket >= 3
                and len(active) >= 6
                and median(active) >= 5
                and sum(self.all_buckets[b] for b in self.all_buckets if b // width > last_bucket)
                >= 10
            ):
                last_ref = EvidenceRef(state.last.source, state.last.line)
                out.append(
                    _finding(
                        f"detect.service-silent.{svc}",
                        "service-silent",
                        Severity.WARNING,
                        f"{svc} stopped logging",
                        f"{svc} logged steadily (median {median(active):g} lines per {width * BASE_BUCKET}s) "
                        f"and went silent after {_ts((last_bucket + 1) * width)} while other services kept logging.",
                        "Check whether the process crashed, hung or lost its log pipeline at that time.",
                        [last_ref],
                        sum(counts.values()),
                        _dt((last_bucket + 1) * width),
                        None,
                        [svc],
                        [],
                        confidence=0.4,
                    )
                )
        return out

    def _error_bursts(self, width: int) -> list[Finding]:
        if not self.err_buckets:
            return []
        lo, hi = min(self.all_buckets) // width, max(self.all_buckets) // width
        series = self._rebin(self.err_buckets.items(), width)
        spike = self._spikes(series, lo, hi, 10, 5)
        if spike is None:
            return []
        bucket, peak, typical = spike
        first, end = bucket * width, (bucket + 1) * width
        if width <= len(self.err_refs):
            in_peak = [b for b in range(first, end) if b in self.err_refs]
        else:  # wide buckets (uploads spanning years): walk the buckets that have errors
            in_peak = sorted(b for b in self.err_refs if first <= b < end)
        refs = [EvidenceRef(*ref) for b in in_peak for ref in self.err_refs[b]]
        return [
            _finding(
                "detect.error-burst",
                "error-burst",
                Severity.WARNING,
                "Burst of error lines",
                f"{peak} ERROR/FATAL lines in {width * BASE_BUCKET}s at {_ts(bucket * width)}, usually {typical:g}.",
                "Start from the first error line of the burst.",
                refs[: EVIDENCE_PER_TEMPLATE * 4],
                peak,
                _dt(bucket * width),
                _dt((bucket + 1) * width),
                [],
                [],
                confidence=0.4,
            )
        ]


def _dt(bucket: int) -> datetime:
    return datetime.fromtimestamp(bucket * BASE_BUCKET, tz=UTC)


def _ts(bucket: int) -> str:
    return _dt(bucket).strftime("%Y-%m-%d %H:%M:%S UTC")


def _finding(
    rule_id: str,
    category: str,
    severity: Severity,
    title: str,
    explanation: str,
    remediation: str,
    evidence: list[EvidenceRef],
    count: int,
    first_ts: datetime | None,
    last_ts: datetime | None,
    services: list[str],
    groups: list[str],
    *,
    confidence: float,
) -> Finding:
    evidence = list(evidence)
    return Finding(
        rule_id=rule_id,
        category=category,
        severity=severity,
        title=title,
        explanation=explanation,
        remediation=remediation,
        evidence=evidence,
        trigger=evidence[0] if evidence else None,
        flashpoint=evidence[0] if evidence else None,
        count=count,
        first_ts=first_ts,
        last_ts=last_ts,
        services=services,
        confidence=confidence,
        groups=groups,
        detector=True,
    )
