"""One finding per fact, and the story they tell: a cause with its symptoms under it.

Where duplicates come from, and what this module does about each:

- **Several rules of one category on the same lines** (an access-log line is both an
  "access-log 5xx" and a "structured status ≥ 500" match): the engine counts a record once per
  category (`shared` below says how many matches were repeats) and `merge_findings` folds the
  category's findings whose time spans touch (within `gap`) into one.
- **The same rule in several uploads** (one ingest job, hence one engine, per uploaded file):
  the incident's findings are merged the same way when they are read back.
- **A detector on a line a rule already explains** (a "new template" whose first line is the
  rule's trigger): the detector finding is dropped; the rule says more. Detector findings of one
  detector starting at the same moment on the same services (three templates of one spike)
  become one.

The folded finding takes its name, rule, trigger and flashpoint from its *primary* member (the
most severe, then the earliest, then the most frequent), its span from all members, and its
evidence from the primary first, then the others in time order.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import datetime

from .finding import EvidenceRef, Finding
from .incidents import Tier, tier_of

GAP = 300.0  # seconds: the incident-window gap (incidents.build_incidents)


def merge_findings(
    findings: Sequence[Finding], *, gap: float = GAP, shared: Mapping[int, int] | None = None
) -> list[Finding]:
    """`findings` with one finding per fact, ordered by first occurrence.

    `shared` maps id(finding) to how many of its matches were on records another rule of its
    category had already matched (the engine knows; merged counts subtract them)."""
    shared = shared or {}
    signatures = [f for f in findings if not f.detector]
    folded = [_fold(c, shared) for c in _clusters(signatures, gap, key=lambda f: f.category)]
    cited: set[EvidenceRef] = set()
    for f in folded:
        cited.update(f.evidence)
        cited.update(r for r in (f.trigger, f.flashpoint) if r is not None)
    detectors = [f for f in findings if f.detector and f.trigger not in cited]
    folded += [_fold(c, {}, first=True) for c in _clusters(detectors, 0.0, key=_detector_key)]
    return sorted(folded, key=lambda f: (_start(f), _ref_key(f), f.detector, f.rule_id))


def symptoms_of(cause: Finding, findings: Sequence[Finding], *, gap: float = GAP) -> list[Finding]:
    """The signature findings a cause likely explains: of a later causal tier, in the cause's
    time neighbourhood (overlapping its span or within `gap` of it), in time order."""
    tier = tier_of(cause.category)
    out = [
        f
        for f in findings
        if f is not cause
        and not f.detector
        and tier_of(f.category) > tier
        and tier_of(f.category) < Tier.SIGNAL
        and _near(cause, f, gap)
    ]
    return sorted(out, key=lambda f: (_start(f), _ref_key(f)))


def _near(a: Finding, b: Finding, gap: float) -> bool:
    if a.first_ts is None or b.first_ts is None:
        return a.first_ts is None and b.first_ts is None
    a_end, b_end = a.last_ts or a.first_ts, b.last_ts or b.first_ts
    return (b.first_ts - a_end).total_seconds() <= gap and (
        a.first_ts - b_end
    ).total_seconds() <= gap


def _detector_key(f: Finding) -> tuple:
    return (f.rule_id.split(".")[1] if "." in f.rule_id else f.rule_id, f.first_ts, *f.services)


def _clusters(findings: list[Finding], gap: float, *, key) -> list[list[Finding]]:
    """Findings with the same key whose spans lie within `gap` seconds of each other."""
    by_key: dict[object, list[Finding]] = {}
    for f in findings:
        by_key.setdefault(key(f), []).append(f)
    out: list[list[Finding]] = []
    for group in by_key.values():
        untimed = [f for f in group if f.first_ts is None]
        timed = sorted(
            ((f.first_ts, f) for f in group if f.first_ts is not None),
            key=lambda timed_f: _start(timed_f[1]),
        )
        mine: list[list[Finding]] = []
        end: datetime | None = None
        for start, f in timed:
            if mine and end is not None and (start - end).total_seconds() <= gap:
                mine[-1].append(f)
                end = max(end, f.last_ts or start)
            else:
                mine.append([f])
                end = f.last_ts or start
        out += mine
        if untimed:
            out.append(untimed)
    return out


def _fold(members: list[Finding], shared: Mapping[int, int], *, first: bool = False) -> Finding:
    """One finding for `members`, led by the most severe, earliest, most frequent; with
    `first` (detector findings of one kind in the same second), led by the line that came
    first: what changed is shown by its first line, not by the busiest of its kinds."""
    if len(members) == 1:
        return members[0]
    primary = min(
        members,
        key=lambda f: (
            (-f.severity.rank, _start(f), _ref_key(f))
            if first
            else (-f.severity.rank, _start(f), -f.count, _ref_key(f))
        ),
    )
    others = sorted(
        (f for f in members if f is not primary), key=lambda f: (_start(f), _ref_key(f))
    )
    # the primary's trigger, every other member's first line, then the rest (caps keep sources)
    firsts = [f.trigger for f in others if f.trigger is not None]
    rest = [r for f in others for r in f.evidence]
    evidence = list(dict.fromkeys([*primary.evidence[:1], *firsts, *primary.evidence[1:], *rest]))
    distinct = sum(f.count - shared.get(id(f), 0) for f in members)
    starts = [f.first_ts for f in members if f.first_ts is not None]
    ends = [f.last_ts or f.first_ts for f in members if f.first_ts is not None]
    merged = replace(
        primary,
        evidence=evidence,
        count=max(distinct, max(f.count for f in members)),
        first_ts=min(starts) if starts else None,
        last_ts=max(ends) if ends else None,
        services=list(dict.fromkeys(s for f in (primary, *others) for s in f.services)),
        groups=list(dict.fromkeys(g for f in (primary, *others) for g in f.groups)),
        confidence=max(f.confidence for f in members),
    )
    return merged


def _start(f: Finding) -> float:
    return f.first_ts.timestamp() if f.first_ts is not None else float("inf")


def _ref_key(f: Finding) -> tuple[str, int]:
    return (f.trigger.source, f.trigger.line) if f.trigger else ("", 0)
