"""The likely trigger: what changed just before the first symptom of the incident.

Only asked when there is a root cause (an incident above warning): on healthy logs a restart is
a restart, not a trigger. Candidates, each with its evidence line:

- **change findings** of the detectors (detect.py `_changes`): a kind of line first seen
  shortly before the onset that is not trouble itself (a job connecting, a batch request), with
  its first-minute burst and the actors it names (user=, application_name=, a source address);
  or a rare lifecycle line (start, restart, reload, deploy, renewal).
- **a deadline** quoted by the first failing line: "current time 12:00:00Z is after 11:59:59Z",
  "token is expired at …": a certificate, token or credential validity ended just before.

Ranking: proximity to the onset (the cause's first line, or the window start if earlier) with a
five-minute scale, plus novelty, plus the burst; lines in the same second as the onset are part
of the failure, and lines after it only count when new and recurring (a retry that precedes each
repeat of the failure), at a lower weight.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from math import exp, log10

from .detect import CHANGE_AFTER, CHANGE_BEFORE, actors_of
from .finding import EvidenceRef, Finding

SCALE = 300.0  # seconds: a change this far before the onset weighs 1/e of one right before it
MIN_SCORE = 0.35
DEADLINE_BEFORE = 86400  # seconds: a quoted deadline this long before the onset still counts

# A validity end quoted in a failing line: "is after 2024-03-14T11:59:59Z", "expired at …",
# "notAfter=…", "valid until …". The timestamp is ISO 8601 with a zone (Z or ±hh:mm).
_DEADLINE = re.compile(
    r"(?i)\b(?:is after|expired? (?:at|on)|not ?after[=:]?|valid until|expires? (?:at|on))\s*"
    r"(\d{4}-\d\d-\d\d[T ]\d\d:\d\d:\d\d(?:\.\d+)?(?:Z|[+-]\d\d:?\d\d))"
)


@dataclass(slots=True)
class Trigger:
    summary: str
    evidence: list[EvidenceRef]
    at: datetime | None
    kind: str  # "new", "lifecycle", "deadline"
    score: float = 0.0
    others: list[Trigger] = field(default_factory=list)  # runners-up, best first


def likely_trigger(
    findings: Sequence[Finding],
    onset: datetime | None,
    *,
    cause_lines: Mapping[EvidenceRef, str] | None = None,
) -> Trigger | None:
    """The best-ranked candidate before `onset` (the first symptom), or None."""
    if onset is None:
        return None
    ranked: list[Trigger] = []
    deadline = _deadline(onset, cause_lines or {})
    if deadline is not None:
        ranked.append(deadline)
    changes = [f for f in findings if f.category == "change" and f.first_ts is not None]
    for cluster in _clusters(changes):
        t = _from_changes(cluster, onset)
        if t is not None:
            ranked.append(t)
    ranked = [t for t in ranked if t.score >= MIN_SCORE]
    if not ranked:
        return None
    ranked.sort(key=lambda t: -t.score)
    best = ranked[0]
    best.others = ranked[1:3]
    return best


def _when(change: Finding) -> datetime:
    """When a change happened: changes without a timestamp are left out before clustering."""
    assert change.first_ts is not None
    return change.first_ts


def _first(change: Finding) -> tuple[datetime, str, int]:
    """Order of changes: by time, then by where their first line sits, so that changes in the
    same second lead with the line that came first (not whichever template was mined first)."""
    ref = change.trigger
    return (_when(change), ref.source if ref else "", ref.line if ref else 0)


def _clusters(changes: list[Finding]) -> list[list[Finding]]:
    """Changes starting within two seconds of each other on the same services: one event
    (a job's "connection received" and "connection authorized" lines)."""
    out: list[list[Finding]] = []
    for f in sorted(changes, key=_first):
        last = out[-1][0] if out else None
        if (
            last is not None
            and (_when(f) - _when(last)).total_seconds() <= 2
            and set(f.services) == set(last.services)
            and f.rule_id == last.rule_id
        ):
            out[-1].append(f)
        else:
            out.append([f])
    return out


def _from_changes(cluster: list[Finding], onset: datetime) -> Trigger | None:
    head = cluster[0]
    dt = (onset - _when(head)).total_seconds()
    new = head.rule_id.endswith(".new")
    burst = max(f.count for f in cluster)  # for the score; the text counts the cited line
    if dt >= 1:
        if dt > CHANGE_BEFORE:
            return None
        score = exp(-dt / SCALE) * (1.0 if new else 0.7)
    elif dt > -1:
        return None  # the same second as the onset: part of the failure
    else:
        if -dt > CHANGE_AFTER or not new or burst < 2:
            return None
        score = 0.4 * exp(dt / SCALE)
    score += 0.5 * min(1.0, log10(max(burst, 1)) / 2)
    # The line that says most about who did it (user=, application_name=, an address).
    told = max(cluster, key=lambda f: (len(actors_of(_sample(f))), -cluster.index(f)))
    actors = list(dict.fromkeys(a for f in cluster for a in actors_of(_sample(f))))[:4]
    when = f"{head.first_ts:%H:%M:%S}"
    gap = (
        _gap(dt)
        if dt >= 0
        else f"{_gap(-dt).split(' before')[0]} after the first failure, before its repeats"
    )
    what = "New activity" if new else "A lifecycle event"
    lines = f"{told.count} lines in its first minute" if told.count > 1 else "one line"
    by = f", naming {', '.join(actors)}" if actors else ""
    where = f" on {', '.join(head.services[:2])}" if head.services else ""
    summary = (
        f"{what}{where} at {when} UTC, {gap}: {lines}{by}: “{_sample(told)[:160]}”."
        if new
        else f"{what}{where} at {when} UTC, {gap}: “{_sample(told)[:160]}”."
    )
    evidence = [told.trigger] if told.trigger else []
    evidence += [f.trigger for f in cluster if f.trigger and f.trigger not in evidence]
    return Trigger(summary, evidence[:3], head.first_ts, "new" if new else "lifecycle", score)


def _deadline(onset: datetime, lines: Mapping[EvidenceRef, str]) -> Trigger | None:
    for ref, text in lines.items():
        m = _DEADLINE.search(text[:2000])
        if m is None:
            continue
        try:
            at = datetime.fromisoformat(m.group(1).replace(" ", "T").replace("Z", "+00:00"))
        except ValueError:
            continue
        at = at.astimezone(UTC)
        dt = (onset - at).total_seconds()
        if not -60 <= dt <= DEADLINE_BEFORE:
            continue
        summary = (
            f"A validity period ended at {at:%Y-%m-%d %H:%M:%S} UTC, {_gap(max(dt, 0))}: "
            "the certificate, token or credential expired and was not renewed in time "
            f"(“…{m.group(0)}”)."
        )
        return Trigger(summary, [ref], at, "deadline", 1.5)
    return None


def _sample(f: Finding) -> str:
    return f.title.split(": ", 1)[-1]


def _gap(seconds: float) -> str:
    if seconds < 1:
        return "right at the first failure"
    if seconds < 90:
        return f"{seconds:.0f} s before the first failure"
    if seconds < 5400:
        return f"{seconds / 60:.0f} min before the first failure"
    return f"{seconds / 3600:.1f} h before the first failure"
