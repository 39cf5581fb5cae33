"""Statistical detectors over the grouped stream: what is unusual, without a signature.

- **new-template**: a template whose lines look like trouble (level WARN+ or error words) and
  that the baseline does not hold. The baseline is the earlier part of the same logs — the first
  `calm_fraction` of each source's records, and everything more than `BASELINE_LEAD` before the
  onset (the rise of WARN+ lines, see onset.py); or, when given, the template ids of the
  project's earlier incidents. A source too short to have a calm part has no new templates.
- **rate-spike**: a template or service whose per-bucket rate jumps far above its own median;
  reported from where the rise starts (onset.rise_start), not from the peak bucket.
- **service-silent**: a service that logged steadily and then stopped while others kept logging.
- **error-burst**: ERROR/FATAL lines per bucket far above the usual error rate, from its rise.
- **change**: what changed near the onset, as `info` findings for trigger.py to choose from: a
  template first seen after the baseline that is not trouble itself (a job connecting, a batch
  loading), with its first-minute burst; or a rare lifecycle line (start, restart, reload,
  deploy, renewal: `LIFECYCLE`). Only emitted when the stream has an onset.

Detector findings are at most `warning`: they say "look here", never "this is the cause".
Their causal tier is the lowest, so the ranking prefers any named cause over them. Records
without a timestamp only take part in new-template detection.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from statistics import median

from .finding import EvidenceRef, Finding, Severity
from .onset import rise_start
from .tally import (
    BASE_BUCKET,
    ERROR_RANK,
    EVIDENCE_PER_TEMPLATE,
    LIFECYCLE,  # noqa: F401  (re-exported: the tests read it from here)
    WARN_RANK,
    StreamTally,
    TemplateTally,
    looks_errorish,  # noqa: F401  (re-exported: the tests read it from here)
)

TARGET_BUCKETS = 120  # re-bin so the upload spans about this many buckets
MIN_RECORDS_FOR_CALM = 100
OUTLIER_SHARE = 0.005  # records at either end of the timeline left out of the rate series
MAX_NEW_TEMPLATE_FINDINGS = 20
MAX_SPIKE_FINDINGS = 10
BASELINE_LEAD = 60  # seconds: templates first seen this long before the onset are baseline
SOURCE_OPENING = 60  # seconds: templates first seen this early in their source are baseline
CHANGE_BEFORE = 1800  # seconds before the onset in which changes are collected
CHANGE_AFTER = 300  # … and after it (a line that precedes each recurrence)
MAX_CHANGE_FINDINGS = 30
LIFECYCLE_MAX_COUNT = 10  # a lifecycle template logged more often than this is routine chatter


class StreamDetector(StreamTally):
    """Counts the stream (`feed`, `feed_many`: see tally.py), then reports what is unusual."""

    def __init__(
        self,
        *,
        baseline_templates: Iterable[str] | None = None,
        seen_before: Mapping[str, datetime] | None = None,
        calm_fraction: float = 0.3,
    ) -> None:
        super().__init__()
        self.baseline = set(baseline_templates) if baseline_templates is not None else None
        # when the project's stream first showed a template: a line the stream carried well
        # before this file first shows it is not new here
        self.seen_before = seen_before or {}
        self.calm_fraction = calm_fraction
        self.all_buckets: dict[int, int] = {}  # every timed record, per bucket: set by findings()
        self.onset: datetime | None = None  # set by findings()
        self._range = (0, 0)  # bucket range of the dense part, set by _bucket_width()

    # --- results --------------------------------------------------------------------------

    def findings(self) -> list[Finding]:
        all_buckets = dict(self.untemplated)
        for tid in self.timed_templates:
            for b, c in self.templates[tid].buckets.items():
                all_buckets[b] = all_buckets.get(b, 0) + c
        self.all_buckets = all_buckets
        self.onset = self._onset()
        out = self._new_templates()
        if self.all_buckets:
            width = self._bucket_width()
            out += self._template_spikes(width)
            out += self._service_spikes_and_silences(width)
            out += self._error_bursts(width)
        out += self._changes()
        return out

    def _bucket_width(self) -> int:
        """Base buckets per bucket, from the dense part of the logs: a lone line hours away
        from the rest (a reload notice at dawn) neither widens the buckets nor the series."""
        buckets = sorted(self.all_buckets)
        total = sum(self.all_buckets.values())
        cut = total * OUTLIER_SHARE
        seen, lo = 0, buckets[0]
        for b in buckets:
            seen += self.all_buckets[b]
            if seen > cut:
                lo = b
                break
        seen, hi = 0, buckets[-1]
        for b in reversed(buckets):
            seen += self.all_buckets[b]
            if seen > cut:
                hi = b
                break
        width = max(1, -(-(hi - lo + 1) // TARGET_BUCKETS))
        self._range = (lo // width, hi // width)
        return width

    def _onset(self) -> datetime | None:
        """When WARN+ lines rise above their earlier rate: the first such line of the rise."""
        bad = self.bad_buckets
        if not bad or not self.all_buckets:
            return None
        width = self._bucket_width()
        lo, hi = self._range
        series = self._rebin(bad.items(), width)
        values = [series.get(b, 0) for b in range(lo, hi + 1)]
        k = rise_start(values)
        if k is None:
            return None
        first = min(b for b in bad if b // width >= lo + k)
        return self.bad_first[first][0]

    def _in_baseline(self, tid: str, t: TemplateTally) -> bool:
        """Seen in the earlier part of the logs (or in the baseline set): not new.

        Timed, with an onset: first seen more than BASELINE_LEAD before it, or in the first
        SOURCE_OPENING seconds of its source (a file's opening lines are not a change).
        Otherwise: in the first `calm_fraction` of its source's records. A baseline set (the
        project's earlier incidents) is the stronger history and replaces both."""
        if self._seen_earlier(tid, t):
            return True
        if self.baseline is not None:
            return tid in self.baseline
        onset, first = self.onset, t.first_ts
        opened = self.source_first.get(t.source)
        if onset is not None and first is not None and opened is not None:
            return (onset - first).total_seconds() > BASELINE_LEAD or (
                first - opened
            ).total_seconds() < SOURCE_OPENING
        n = self.source_n.get(t.source, 0)
        return n < MIN_RECORDS_FOR_CALM or t.source_pos < int(n * self.calm_fraction)

    def _seen_earlier(self, tid: str, t: TemplateTally) -> bool:
        """Did the project's stream show this template more than BASELINE_LEAD before this
        logs' first occurrence of it?"""
        seen = self.seen_before.get(tid)
        return (
            seen is not None
            and t.first_ts is not None
            and (t.first_ts - seen).total_seconds() > BASELINE_LEAD
        )

    def _new_templates(self) -> list[Finding]:
        candidates = [
            (tid, t)
            for tid, t in self.templates.items()
            if (t.level_rank >= WARN_RANK or t.errorish) and not self._in_baseline(tid, t)
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
                    "This kind of line does not occur in the earlier part of the logs"
                    + (" or in earlier incidents" if self.baseline is not None else "")
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

    def _changes(self) -> list[Finding]:
        """Candidate triggers near the onset (trigger.py picks one against the root cause)."""
        onset = self.onset
        if onset is None:
            return []
        found: list[tuple[float, Finding]] = []
        for tid, t in self.templates.items():
            if t.level_rank >= ERROR_RANK or t.errorish or t.first_ts is None:
                continue
            opened = self.source_first.get(t.source, t.first_ts)
            novel = (
                (t.first_ts - opened).total_seconds() >= SOURCE_OPENING
                and (self.baseline is None or tid not in self.baseline)
                and not self._seen_earlier(tid, t)
            )
            if t.level_rank < WARN_RANK and novel:
                dt = (onset - t.first_ts).total_seconds()
                if -CHANGE_AFTER <= dt <= CHANGE_BEFORE:
                    first = min(t.buckets) if t.buckets else None
                    burst = (
                        sum(t.buckets.get(b, 0) for b in range(first, first + 6)) if first else 1
                    )
                    found.append((abs(dt), _change("new", t, tid, t.first_ts, t.evidence, burst)))
            elif t.lifecycle and t.count <= LIFECYCLE_MAX_COUNT:
                last: datetime | None = None
                for ts, ref in sorted(t.occurrences):
                    dt = (onset - ts).total_seconds()
                    if not -CHANGE_AFTER <= dt <= CHANGE_BEFORE:
                        continue
                    if (ts - opened).total_seconds() < SOURCE_OPENING:
                        continue  # the file opens with a start: that is not a change
                    if last is not None and (ts - last).total_seconds() < 60:
                        continue
                    last = ts
                    found.append((abs(dt), _change("lifecycle", t, tid, ts, [ref], 1)))
        found.sort(key=lambda item: item[0])
        return [f for _, f in found[:MAX_CHANGE_FINDINGS]]

    def _rebin(self, counts: Iterable[tuple[int, int]], width: int) -> Counter[int]:
        out: Counter[int] = Counter()
        for bucket, c in counts:
            out[bucket // width] += c
        return out

    def _spikes(self, series: Counter[int], min_count: int, factor: float, *, own_start=True):
        """(bucket, count, typical, rise) of the highest bucket when it is a spike, else None;
        `rise` is the bucket where the rise to it starts (the peak when it has no lead-in).
        With `own_start`, the series starts at its own first bucket: a service that starts
        logging has not risen from zero."""
        if not series:
            return None
        lo, hi = self._range
        values = [series.get(b, 0) for b in range(lo, hi + 1)]
        if len(values) < 6:
            return None
        peak_i = max(range(len(values)), key=lambda i: (values[i], -i))
        peak_bucket, peak = lo + peak_i, values[peak_i]
        typical = median(values)
        if peak >= min_count and peak >= factor * max(typical, 1):
            start = next((i for i, v in enumerate(values) if v), 0) if own_start else 0
            k = rise_start(values[start:], peak=peak_i - start)
            return peak_bucket, peak, typical, peak_bucket if k is None else lo + start + k
        return None

    def _template_spikes(self, width: int) -> list[Finding]:
        hits = []
        for tid in self.timed_templates:
            t = self.templates[tid]
            if not self._in_baseline(tid, t):
                continue  # a new template: reported by new-template, not as a spike
            spike = self._spikes(self._rebin(t.buckets.items(), width), 20, 10)
            if spike:
                hits.append((spike[1] / max(spike[2], 1), tid, t, spike))
        hits.sort(key=lambda h: -h[0])
        out = []
        for _ratio, tid, t, (bucket, peak, typical, rise) in hits[:MAX_SPIKE_FINDINGS]:
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
                    _dt(rise * width),
                    t.last_ts,
                    list(t.services),
                    [t.group or tid],
                    confidence=0.35,
                )
            )
        return out

    def _service_spikes_and_silences(self, width: int) -> list[Finding]:
        lo, hi = self._range
        out = []
        for svc, state in self.services.items():
            counts = state.buckets
            series = self._rebin(counts.items(), width)
            spike = self._spikes(series, 50, 10)
            if spike:
                bucket, peak, typical, rise = spike
                starts = [b for b in state.bucket_first if b // width >= rise]
                first = EvidenceRef(*state.bucket_first[min(starts)]) if starts else state.first
                out.append(
                    _finding(
                        f"detect.rate-spike.{svc}",
                        "rate-spike",
                        Severity.INFO,
                        f"Log volume spike on {svc}",
                        f"{peak} lines in {width * BASE_BUCKET}s at {_ts(bucket * width)}, usually {typical:g}.",
                        "Look at the templates that make up the spike.",
                        [first],
                        sum(counts.values()),
                        _dt(rise * width),
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
        series = self._rebin(self.err_buckets.items(), width)
        spike = self._spikes(series, 10, 5, own_start=False)
        if spike is None:
            return []
        bucket, peak, typical, rise = spike
        first, end = rise * width, (bucket + 1) * width
        if width <= len(self.err_refs):
            in_peak = [b for b in range(first, end) if b in self.err_refs]
        else:  # wide buckets (uploads spanning years): walk the buckets that have errors
            in_peak = sorted(b for b in self.err_refs if first <= b < end)
        refs = [EvidenceRef(*ref) for b in in_peak[:4] for ref in self.err_refs[b]]
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
                _dt(rise * width),
                _dt((bucket + 1) * width),
                [],
                [],
                confidence=0.4,
            )
        ]


_ACTOR = re.compile(
    r"(?i)\b(?:user|usr|client|application_name|app|job|host|remote_addr|src|from)[=:]\s*"
    r"\"?([\w.@/:-]{2,60})|\b(\d{1,3}(?:\.\d{1,3}){3})\b"
)


def actors_of(message: str) -> list[str]:
    """Who a line names: `user=postgres`, `application_name=order-sync`, a source address."""
    out: dict[str, None] = {}
    for m in _ACTOR.finditer(message[:500]):
        out[m.group(0).strip() if m.group(1) else m.group(2)] = None
    return list(out)[:4]


def _change(
    kind: str,
    t: TemplateTally,
    tid: str,
    at: datetime,
    evidence: list[EvidenceRef],
    burst: int,
) -> Finding:
    what = "New activity" if kind == "new" else "Lifecycle event"
    lines = f"{burst} lines in its first minute" if burst > 1 else "one line"
    return _finding(
        f"detect.change.{kind}",
        "change",
        Severity.INFO,
        f"{what}: {t.sample[:120]}",
        (
            f"Not seen in the earlier part of the logs; {lines}."
            if kind == "new"
            else "A process, job or configuration changed state here."
        ),
        "Check whether this change started the incident.",
        evidence,
        burst,
        at,
        t.last_ts if kind == "new" else at,
        list(t.services),
        [t.group or tid],
        confidence=0.3,
    )


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
