"""Incident windows and root-cause ranking over findings.

Windows: findings (signatures and detectors) whose time spans overlap or sit within `gap`
seconds of each other form one incident window with its start, end, services and first unusual
event (the earliest trigger). The window opens where behaviour changes: at its first signature
finding or loud detector (error burst, new error pattern, both read from where their rise
starts); `info` detector signals (volume spikes) join a window but never open it early, and
`change` findings (trigger candidates, trigger.py) take no part in windows.

Ranking — the rule, in order:

1. Only an incident that has a finding above `warning` is analysed; if there is none anywhere,
   the answer is "insufficient evidence" (None). The incident analysed is the one with the most
   severe finding, then the most evidence lines, then the earliest.
2. **Causal tier beats time.** Each category has a tier: *cause* (resources and dependencies:
   OOM, database, disk, TLS, DNS, config …) < *crash* (process-level consequences: crash loops,
   exit 137, probe failures, uncaught exceptions, worker kills) < *symptom* (what callers see:
   upstream timeouts, 5xx spikes, resets, rate limiting) < *signal* (detector findings). A cause
   outranks every symptom, even one that is far more frequent, and even a symptom that starts
   slightly earlier on another service: clocks across hosts skew, and callers' timeouts fire
   before the failing dependency gets around to logging why it failed.
3. Within a tier, findings at `warning` rank after findings above it.
4. Then the earliest first occurrence wins; occurrences within `simultaneity` seconds of the
   earliest count as simultaneous, and among those a finding on the *failing service* (a
   service that also shows crash/symptom findings) wins, then the higher severity, then the
   earlier one, then the higher count.
5. One candidate per category (its best-ranked rule); the others of that category drop out.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from enum import IntEnum

from .finding import EvidenceRef, Finding, Severity


class Tier(IntEnum):
    CAUSE = 0
    CRASH = 1
    SYMPTOM = 2
    SIGNAL = 3


CAUSAL_TIER: dict[str, Tier] = {
    # Causes: a resource ran out or a dependency is broken / misconfigured.
    **dict.fromkeys(
        (
            "oom-kernel",
            "k8s-oomkilled",
            "jvm-oom",
            "node-heap-oom",
            "memory-error",
            "db-too-many-connections",
            "db-connection-refused",
            "db-auth-failed",
            "db-deadlock",
            "db-lock-timeout",
            "db-statement-timeout",
            "disk-full",
            "read-only-fs",
            "disk-io-error",
            "too-many-open-files",
            "tls-cert",
            "dns-failure",
            "redis-oom",
            "redis-misconf",
            "kafka-broker",
            "rabbitmq",
            "elasticsearch",
            "port-in-use",
            "config-error",
            "permission-denied",
            "clock-skew",
            "k8s-image-pull",
            "k8s-scheduling",
            "k8s-mount",
            "k8s-evicted",
            "go-panic",
            "segfault",
            "zookeeper-session-expired",
            "mongodb-election",
            "nfs-stale-handle",
        ),
        Tier.CAUSE,
    ),
    # Consequences at the process level: something killed or broke the process.
    **dict.fromkeys(
        (
            "container-exit-137",
            "k8s-crashloop",
            "k8s-probe-failed",
            "python-worker-killed",
            "unhandled-exception",
            "pool-exhausted",
            "auth-failures",
            "android-crash",
            "spark-executor-lost",
            "kafka-rebalance",
        ),
        Tier.CRASH,
    ),
    # What callers and proxies see.
    **dict.fromkeys(
        (
            "upstream-timeout",
            "upstream-unavailable",
            "http-client-timeout",
            "http-5xx-spike",
            "connection-reset",
            "rate-limited",
        ),
        Tier.SYMPTOM,
    ),
    **dict.fromkeys(
        ("new-template", "rate-spike", "service-silent", "error-burst", "change", "trigger"),
        Tier.SIGNAL,
    ),
}


NOT_IN_WINDOWS = frozenset({"change"})  # trigger candidates: context, not the incident

# A failure a service reports → the underlying causes it is reported because of. When both are
# found, the root cause is the failure the user sees, cited from the earliest line of its cause
# and titled with both ("Redis refuses writes (MISCONF) — cause: Read-only file system").
REPORTED_BECAUSE_OF: dict[str, frozenset[str]] = {
    "redis-misconf": frozenset({"read-only-fs", "permission-denied", "disk-full"}),
}
# Findings that only say "something threw": a specific finding on the same line says what.
GENERIC = frozenset({"unhandled-exception"})
# With nothing above warning anywhere, a warning-level signature that repeats this often is
# still named (at low confidence), for the categories where repetition IS the incident: brute
# force, a client's read timeouts, throttling. Other warnings repeat on healthy systems too
# (consumer rebalances on a deploy, readiness probes while a pod starts, peers resetting).
REPEATED = 2
REPETITION_IS_THE_INCIDENT = frozenset({"auth-failures", "http-client-timeout", "rate-limited"})


def tier_of(category: str) -> Tier:
    """Unknown (custom) categories are treated as crash-level: above symptoms, below causes."""
    return CAUSAL_TIER.get(category, Tier.CRASH)


@dataclass(slots=True)
class Incident:
    start: datetime | None
    end: datetime | None
    services: list[str]
    findings: list[Finding]
    first_event: EvidenceRef | None  # the earliest trigger among the window's findings
    first_category: str | None = None

    @property
    def max_severity(self) -> Severity:
        return max((f.severity for f in self.findings), key=lambda severity: severity.rank)


@dataclass(slots=True)
class RootCause:
    category: str
    summary: str
    evidence: list[EvidenceRef]
    confidence: float
    rule_id: str = ""
    title: str = ""
    services: list[str] = field(default_factory=list)
    first_ts: datetime | None = None
    trigger: EvidenceRef | None = None
    explains: list[str] = field(default_factory=list)  # categories of the downstream findings


def build_incidents(findings: Iterable[Finding], *, gap: float = 300.0) -> list[Incident]:
    """Group findings into windows. Findings without timestamps join one untimed incident."""
    findings = [f for f in findings if f.category not in NOT_IN_WINDOWS]
    timed = sorted(
        ((f.first_ts, f) for f in findings if f.first_ts is not None),
        key=lambda timed_f: (timed_f[0], _ref_key(timed_f[1])),
    )
    untimed = [f for f in findings if f.first_ts is None]
    groups: list[list[Finding]] = []
    end: datetime | None = None
    for start, f in timed:
        f_end = f.last_ts or start
        if groups and end is not None and (start - end).total_seconds() <= gap:
            groups[-1].append(f)
            end = max(end, f_end)
        else:
            groups.append([f])
            end = f_end
    if untimed:
        groups.append(sorted(untimed, key=_ref_key))
    return [_incident(g) for g in groups]


def _opens(f: Finding) -> bool:
    """May this finding open a window? Signatures and loud detectors; not `info` signals."""
    return not (f.detector and f.severity == Severity.INFO)


def _incident(findings: list[Finding]) -> Incident:
    anchors = [f for f in findings if _opens(f)] or findings
    starts = [f.first_ts for f in anchors if f.first_ts is not None]
    ends = [f.last_ts or f.first_ts for f in findings if f.first_ts is not None]
    services: dict[str, None] = {}
    for f in findings:
        services.update(dict.fromkeys(f.services))
    first = min(anchors, key=lambda f: (_ts_key(f), f.detector, _ref_key(f)))
    return Incident(
        start=min(starts) if starts else None,
        end=max(ends) if ends else None,
        services=list(services),
        findings=findings,
        first_event=first.trigger,
        first_category=first.category,
    )


def rank_root_causes(
    findings: Sequence[Finding], *, gap: float = 300.0, simultaneity: float = 2.0
) -> list[RootCause]:
    """Root-cause candidates of the main incident, best first; [] when nothing is above warning."""
    windows = build_incidents(findings, gap=gap)
    incidents = [i for i in windows if i.max_severity.rank > Severity.WARNING.rank]
    only_warnings = not incidents
    if only_warnings:
        incidents = [i for i in windows if any(_repeated_warning(f) for f in i.findings)]
    if not incidents:
        return []
    main = max(
        incidents,
        key=lambda i: (
            i.max_severity.rank,
            sum(len(f.evidence) for f in i.findings if not f.detector),
            -(i.start.timestamp() if i.start else 0.0),
        ),
    )
    candidates = [f for f in main.findings if f.severity != Severity.INFO]
    if only_warnings:
        candidates = [f for f in candidates if _repeated_warning(f)]
    candidates, causes = _one_story(candidates)
    failing = {
        s
        for f in candidates
        if tier_of(f.category) in (Tier.CRASH, Tier.SYMPTOM)
        for s in f.services
    }
    ordered: list[Finding] = []
    seen: set[str] = set()
    for f in _order(candidates, failing, simultaneity):
        if f.category not in seen:
            seen.add(f.category)
            ordered.append(f)
    out = []
    for rank, f in enumerate(ordered):
        downstream = [
            g
            for g in ordered
            if g is not f and tier_of(g.category) > tier_of(f.category) and not g.detector
        ]
        rc = _root_cause(f, downstream, rank, ordered, causes.get(id(f)), only_warnings)
        out.append(rc)
    return out


def _repeated_warning(f: Finding) -> bool:
    return (
        not f.detector
        and f.severity == Severity.WARNING
        and f.count >= REPEATED
        and f.category in REPETITION_IS_THE_INCIDENT
    )


def _one_story(candidates: list[Finding]) -> tuple[list[Finding], dict[int, Finding]]:
    """One finding per fact: a generic "it threw" finding on a line a specific finding also
    cites is that finding (at the higher severity); a failure and the underlying cause it is
    reported because of (REPORTED_BECAUSE_OF) become one candidate, the failure's, cited from
    its cause's lines. Returns the candidates and, per merged failure (by id), its cause."""
    out = list(candidates)
    for g in [f for f in out if f.category in GENERIC]:
        lines = set(g.evidence)
        specific = [f for f in out if f.category not in GENERIC and not f.detector]
        same = next((f for f in specific if lines & set(f.evidence)), None)
        if same is not None:
            out.remove(g)
            if g.severity.rank > same.severity.rank:
                out[out.index(same)] = replace(same, severity=g.severity)
    causes: dict[int, Finding] = {}
    for failure in list(out):
        reasons = REPORTED_BECAUSE_OF.get(failure.category, frozenset())
        found = [f for f in out if f.category in reasons]
        if not found or failure not in out:
            continue
        cause = min(found, key=lambda f: (_ts_key(f), _ref_key(f)))
        first = min((cause, failure), key=lambda f: (_ts_key(f), _ref_key(f)))
        evidence = list(dict.fromkeys(sorted([*cause.evidence, *failure.evidence], key=_line)))
        merged = replace(
            failure,
            evidence=evidence,
            trigger=first.trigger,
            first_ts=first.first_ts,
            severity=max(cause.severity, failure.severity, key=lambda s: s.rank),
        )
        out.remove(cause)
        out[out.index(failure)] = merged
        causes[id(merged)] = cause
    return out, causes


def _line(ref: EvidenceRef) -> tuple[str, int]:
    return (ref.source, ref.line)


def root_cause(findings: Sequence[Finding], **kwargs) -> RootCause | None:
    """The best root-cause candidate, or None ("insufficient evidence")."""
    ranked = rank_root_causes(findings, **kwargs)
    return ranked[0] if ranked else None


def _order(candidates: list[Finding], failing: set[str], simultaneity: float) -> list[Finding]:
    def band(f: Finding) -> tuple[int, int]:
        return (tier_of(f.category), 1 if f.severity == Severity.WARNING else 0)

    out: list[Finding] = []
    by_band: dict[tuple[int, int], list[Finding]] = {}
    for f in candidates:
        by_band.setdefault(band(f), []).append(f)
    for key in sorted(by_band):
        remaining = sorted(by_band[key], key=lambda f: (_ts_key(f), _ref_key(f)))
        while remaining:
            t0 = _ts_key(remaining[0])
            if t0 == float("inf"):  # untimed: line order is the only order we have
                tied = [remaining[0]]
            else:
                tied = [f for f in remaining if _ts_key(f) - t0 <= simultaneity]
            best = min(
                tied,
                key=lambda f: (
                    0 if failing & set(f.services) else 1,
                    -f.severity.rank,
                    _ts_key(f),
                    -f.count,
                    _ref_key(f),
                ),
            )
            out.append(best)
            remaining.remove(best)
    return out


def _root_cause(
    f: Finding,
    downstream: list[Finding],
    rank: int,
    ordered: list[Finding],
    cause: Finding | None = None,
    only_warnings: bool = False,
) -> RootCause:
    tier = tier_of(f.category)
    confidence = f.confidence
    if only_warnings:
        confidence -= 0.2  # nothing was logged as an error: a repeated warning is a lead
    if downstream:
        confidence += 0.1
    if ordered and _ts_key(f) <= min(_ts_key(g) for g in ordered):
        confidence += 0.05
    if tier >= Tier.SYMPTOM:
        confidence -= 0.25  # no cause found: a symptom is only a pointer
    if rank > 0:
        confidence -= 0.1 * rank
    confidence = round(min(0.95, max(0.05, confidence)), 2)
    where = f" on {', '.join(f.services[:3])}" if f.services else ""
    when = f" at {f.first_ts.strftime('%Y-%m-%d %H:%M:%S')} UTC" if f.first_ts else ""
    first = f" (first line: {f.trigger.source}:{f.trigger.line})" if f.trigger else ""
    explains = sorted({g.category for g in downstream})
    title = f"{f.title} — cause: {cause.title}" if cause is not None else f.title
    summary = f"{title}{where}{when}{first}, {f.count} occurrence{'s' if f.count != 1 else ''}."
    if explains:
        summary += f" Likely explains: {', '.join(explains)}."
    if tier >= Tier.SYMPTOM:
        summary += " Only symptoms were found; the cause may be in logs not provided."
    evidence = list(f.evidence)
    if f.flashpoint is not None and f.flashpoint not in evidence:
        evidence.append(f.flashpoint)
    return RootCause(
        category=f.category,
        summary=summary,
        evidence=evidence,
        confidence=confidence,
        rule_id=f.rule_id,
        title=title,
        services=list(f.services),
        first_ts=f.first_ts,
        trigger=f.trigger,
        explains=explains,
    )


def _ts_key(f: Finding) -> float:
    return f.first_ts.timestamp() if f.first_ts is not None else float("inf")


def _ref_key(f: Finding) -> tuple[str, int]:
    return (f.trigger.source, f.trigger.line) if f.trigger else ("", 0)
