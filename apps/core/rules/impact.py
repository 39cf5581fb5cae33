"""Incident severity from impact: how much failed, where, for how long, and whether it crashed.

Inputs are the per-bucket event counts (bucket start, level, service, count) and the findings
of the incident window. Measured inside the window:

- **error share**: ERROR/FATAL events out of all events (in the window's error span), and the
  same share in the logs *before* the window (the baseline): a service that always logs 30%
  errors is not an incident at 30%.
- **services affected**: services with more errors in the window than their baseline predicts.
- **duration**: first to last bucket holding errors, inside the window.
- **crash**: a crash-class finding (OOM kill, segfault, panic, crash loop, killed worker …).

The rule, first match wins (thresholds are deliberately round: the reasons say which held):

| level | when |
|---|---|
| SEV1 | error share ≥ 50% for ≥ 10 min on ≥ 2 services; or ≥ 3 services affected with ≥ 25% for ≥ 10 min |
| SEV2 | error share ≥ 10% and ≥ 3× the baseline for ≥ 5 min; or ≥ 3 services affected; or a crash |
| SEV3 | errors above the baseline, or a finding above warning |
| SEV4 | otherwise (warnings, nothing above the baseline) |
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum

from apps.core.vocabulary import Level

from .finding import Finding, Severity

BUCKET = timedelta(seconds=10)

# Findings that mean a process died or was killed, whatever their tier in the ranking.
CRASH_CATEGORIES = frozenset(
    {
        "oom-kernel",
        "k8s-oomkilled",
        "jvm-oom",
        "node-heap-oom",
        "memory-error",
        "go-panic",
        "segfault",
        "container-exit-137",
        "k8s-crashloop",
        "python-worker-killed",
        "android-crash",
    }
)


class Sev(StrEnum):
    SEV1 = "sev1"
    SEV2 = "sev2"
    SEV3 = "sev3"
    SEV4 = "sev4"


Row = tuple[datetime, int | None, str, int]  # bucket start, level, service, events


@dataclass(slots=True)
class Assessment:
    level: Sev
    reasons: list[str] = field(default_factory=list)
    error_share: float = 0.0
    baseline_share: float | None = None
    services: list[str] = field(default_factory=list)
    minutes: float = 0.0
    crash: str = ""  # the crash-class category, if any

    @property
    def text(self) -> str:
        """ "SEV2: 3 services, 41% of events were errors for 12 min"."""
        label = self.level.value.upper()
        return f"{label}: {', '.join(self.reasons)}" if self.reasons else label


def assess(
    rows: Iterable[Row],
    findings: Sequence[Finding],
    start: datetime | None,
    end: datetime | None,
) -> Assessment:
    """The severity of the window [start, end] (None: the whole logs) from impact."""
    rows = list(rows)
    c = _count(rows, start, end)
    minutes = 0.0
    span_total = c.inside_total
    if c.error_buckets:  # the share is measured over the error span, not the calm before it
        first, last = min(c.error_buckets), max(c.error_buckets)
        minutes = (last + BUCKET - first).total_seconds() / 60
        span_total = Counter()
        for bucket, _level, service, count in rows:
            if first <= bucket <= last:
                span_total[service] += count
    errors = sum(c.inside_errors.values())
    total = sum(span_total.values()) or sum(c.inside_total.values())
    share = errors / total if total else 0.0
    before = sum(c.before_total.values())
    baseline = sum(c.before_errors.values()) / before if before else None
    affected = [
        s or "(no service)"
        for s, n in c.inside_errors.most_common()
        if n and _above_baseline(n, c.inside_total[s], c.before_errors[s], c.before_total[s])
    ]
    crash = next((f.category for f in findings if f.category in CRASH_CATEGORIES), "")
    loud = any(f.severity.rank > Severity.WARNING.rank for f in findings)
    above_baseline = errors > 0 and (baseline is None or share > baseline)
    return Assessment(
        level=_verdict(share, minutes, affected, baseline, crash, above_baseline or loud),
        reasons=_reasons(affected, share, baseline, minutes, crash, errors),
        error_share=share,
        baseline_share=baseline,
        services=affected,
        minutes=minutes,
        crash=crash,
    )


@dataclass(slots=True)
class _Counts:
    """Events and error events per service, inside the window and before it."""

    inside_total: Counter[str] = field(default_factory=Counter)
    inside_errors: Counter[str] = field(default_factory=Counter)
    before_total: Counter[str] = field(default_factory=Counter)
    before_errors: Counter[str] = field(default_factory=Counter)
    error_buckets: list[datetime] = field(default_factory=list)  # inside, with errors


def _count(rows: list[Row], start: datetime | None, end: datetime | None) -> _Counts:
    c = _Counts()
    for bucket, level, service, count in rows:
        is_error = level is not None and level >= Level.ERROR
        if start is not None and bucket + BUCKET <= start:
            c.before_total[service] += count
            if is_error:
                c.before_errors[service] += count
        elif end is None or bucket <= end:
            c.inside_total[service] += count
            if is_error:
                c.inside_errors[service] += count
                c.error_buckets.append(bucket)
    return c


def _verdict(
    share: float,
    minutes: float,
    affected: list[str],
    baseline: float | None,
    crash: str,
    noticeable: bool,
) -> Sev:
    """The table in the module's docstring; `noticeable`: errors above the baseline, or a
    finding above warning."""
    if (share >= 0.5 and minutes >= 10 and len(affected) >= 2) or (
        len(affected) >= 3 and share >= 0.25 and minutes >= 10
    ):
        return Sev.SEV1
    if (
        (share >= 0.10 and minutes >= 5 and (baseline is None or share >= 3 * baseline))
        or len(affected) >= 3
        or crash
    ):
        return Sev.SEV2
    return Sev.SEV3 if noticeable else Sev.SEV4


def _above_baseline(errors: int, total: int, base_errors: int, base_total: int) -> bool:
    """More errors in the window than the service's own earlier error share predicts."""
    if not base_total:
        return True
    return errors > 2 * (base_errors / base_total) * total


def _reasons(
    affected: list[str],
    share: float,
    baseline: float | None,
    minutes: float,
    crash: str,
    errors: int,
) -> list[str]:
    out = []
    if affected:
        out.append(f"{len(affected)} service{'s' if len(affected) != 1 else ''}")
    if errors:
        span = f" for {_minutes(minutes)}" if minutes else ""
        was = ""
        if baseline is not None and share > baseline:
            was = f", up from {baseline:.0%}" if baseline >= 0.005 else ", none before"
        out.append(f"{share:.0%} of events were errors{span}{was}")
    if crash:
        out.append(f"a crash ({crash})")
    return out


def _minutes(minutes: float) -> str:
    return f"{minutes:.0f} min" if minutes >= 1 else f"{minutes * 60:.0f} s"
