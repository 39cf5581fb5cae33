"""Read side of error groups: per incident (new / seen in), per project, and one group's detail.

Other pages use `incident_groups(incident)` for "new in this incident" / "also seen in
incidents #12 and #31" and `new_templates(incident)` for templates new compared with the
project's earlier incidents. Every function here costs a fixed number of queries.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.db.models import Count, Max, Min, Q, QuerySet
from django.db.models.expressions import RawSQL
from django.shortcuts import get_object_or_404

from apps.core.grouping.fingerprint import head_line, parse_stack
from apps.core.grouping.masks import TOKEN_RE, WILDCARD, mask_token, tokenize
from apps.core.grouping.miner import Miner
from apps.incidents.models import Incident, Project
from apps.ingestion.models import ErrorGroup, Event, GroupOccurrence, GroupRule, Source

SEEN_IN_LIMIT = 10  # incident ids listed per group; the rest are counted
DISTRIBUTION_SAMPLE = 2_000  # latest events re-matched for the value distribution
TOP_VALUES = 10
SAMPLE_EVENTS = 20
SPARK_BUCKETS = 60
SPARK_W, SPARK_H = 300, 40


def get_group_for_request(request, project: Project, group_id: str) -> ErrorGroup:
    """The one getter for a group: scoped to a project the caller already checked."""
    return get_object_or_404(ErrorGroup, project=project, group_id=group_id[:32])


# --- per incident -------------------------------------------------------------------------------


def incident_groups(incident: Incident, limit: int | None = None) -> list[GroupOccurrence]:
    """The incident's groups (errors first, then by count) with `is_new` and `seen_in`.

    `seen_in`: ids of the project's other incidents with this group (at most SEEN_IN_LIMIT,
    most recent first; `seen_in_more` counts the rest). `is_new`: no earlier incident had it.
    Two queries."""
    qs = (
        GroupOccurrence.objects.filter(incident=incident)
        .select_related("group")
        .order_by("-group__level", "-count", "id")
    )
    occurrences = list(qs[:limit] if limit else qs)
    others = (
        GroupOccurrence.objects.filter(group_id__in=[o.group_id for o in occurrences])
        .exclude(incident_id=incident.pk)
        .order_by("-incident__created_at", "-incident_id")
        .values_list("group_id", "incident_id", "incident__created_at")
    )
    seen: dict[int, list[int]] = {}
    earlier: set[int] = set()
    for group_pk, incident_id, created_at in others:
        seen.setdefault(group_pk, []).append(incident_id)
        if (created_at, incident_id) < (incident.created_at, incident.pk):
            earlier.add(group_pk)
    for occ in occurrences:
        ids = seen.get(occ.group_id, [])
        occ.seen_in = ids[:SEEN_IN_LIMIT]
        occ.seen_in_more = max(0, len(ids) - SEEN_IN_LIMIT)
        occ.is_new = occ.group_id not in earlier
    return occurrences


def new_templates(incident: Incident) -> list[GroupOccurrence]:
    """The incident's occurrences whose *template* no earlier incident of the project had
    (a group can be new while its template is old: a new stack under a known message)."""
    earlier_templates = (
        GroupOccurrence.objects.filter(
            group__project_id=incident.project_id,
            incident__created_at__lt=incident.created_at,
        )
        .values_list("group__template_id", flat=True)
        .distinct()
    )
    return list(
        GroupOccurrence.objects.filter(incident=incident)
        .select_related("group")
        .exclude(group__template_id__in=earlier_templates)
        .order_by("-group__level", "-count", "id")
    )


# --- per project --------------------------------------------------------------------------------


def project_groups(project: Project) -> QuerySet[ErrorGroup]:
    """The project's live groups (merged-away ones have no events left), errors first."""
    return (
        ErrorGroup.objects.filter(project=project, count__gt=0)
        .annotate(incident_count=Count("occurrences"))
        .order_by("-level", "-count", "id")
    )


def group_occurrences(group: ErrorGroup) -> list[GroupOccurrence]:
    return list(
        GroupOccurrence.objects.filter(group=group)
        .select_related("incident")
        .order_by("-incident__created_at", "-incident_id")
    )


def group_rules(group: ErrorGroup) -> list[GroupRule]:
    """Merge/split rules that move events into or out of this group."""
    return list(
        GroupRule.objects.filter(project_id=group.project_id)
        .filter(Q(source_group=group.group_id) | Q(target_group=group.group_id))
        .order_by("id")
    )


def merged_into(rules: list[GroupRule], group: ErrorGroup) -> str:
    """The group this one was last merged into ('' if none): its events now live there."""
    merges = [
        r for r in rules if r.kind == GroupRule.Kind.MERGE and r.source_group == group.group_id
    ]
    return merges[-1].target_group if merges else ""


def sample_events(group: ErrorGroup, incident_ids: list[int], limit: int = SAMPLE_EVENTS):
    """The latest events of the group in these incidents (uses the (incident, group_id) index)."""
    return list(
        Event.objects.filter(incident_id__in=incident_ids, group_id=group.group_id)
        .select_related("source")
        .only("incident_id", "source__member", "line", "ts", "level", "service", "message", "host")
        .order_by("-id")[:limit]
    )


def group_services(group: ErrorGroup, incident_ids: list[int]) -> list[tuple[str, int]]:
    rows = (
        Event.objects.filter(incident_id__in=incident_ids, group_id=group.group_id)
        .values("service")
        .annotate(n=Count("id"))
        .order_by("-n", "service")
        .values_list("service", "n")[:20]
    )
    return list(rows)


# --- value distribution and why grouped --------------------------------------------------------


@dataclass
class Position:
    index: int  # ordinal of the `<*>` in the template
    total: int = 0
    values: list[dict] = field(default_factory=list)  # value, count, share (top values)
    distinct: int = 0
    other: int = 0


def value_distribution(
    template_id: str, template: str, messages: list[str], miner: Miner
) -> tuple[list[Position], int]:
    """Top values behind each `<*>` of the template, from re-matching sampled messages.

    Returns the positions and how many messages matched the template (events merged in from
    another template have other positions and are left out)."""
    width = template.count(WILDCARD)
    counters = [Counter() for _ in range(width)]
    matched = 0
    for message in messages:
        match = miner.match(head_line(message))
        if match is None or match.template_id != template_id or len(match.params) != width:
            continue
        matched += 1
        for counter, value in zip(counters, match.params, strict=True):
            counter[value[:300]] += 1
    positions = []
    for index, counter in enumerate(counters):
        total = sum(counter.values())
        top = counter.most_common(TOP_VALUES)
        positions.append(
            Position(
                index=index,
                total=total,
                distinct=len(counter),
                values=[
                    {"value": v, "count": n, "share": n / total if total else 0} for v, n in top
                ],
                other=total - sum(n for _, n in top),
            )
        )
    return positions, matched


def distribution_messages(group: ErrorGroup, incident_ids: list[int]) -> list[str]:
    return list(
        Event.objects.filter(incident_id__in=incident_ids, group_id=group.group_id)
        .order_by("-id")
        .values_list("message", flat=True)[:DISTRIBUTION_SAMPLE]
    )


def masked_tokens(message: str) -> list[dict]:
    """Each token of the head line, masked, with the masks that matched (why it varies)."""
    out = []
    for token in tokenize(head_line(message))[:200]:
        names = sorted({m.lastgroup for m in TOKEN_RE.finditer(token) if m.lastgroup})
        out.append({"raw": token, "masked": mask_token(token), "masks": names})
    return out


def why_grouped(group: ErrorGroup, sample_message: str | None) -> dict:
    """What the fingerprint used: template, masked tokens of a sample, exception and frames."""
    trace = parse_stack(sample_message) if sample_message else None
    return {
        "kind": "stack trace" if group.exception_type or group.frames else "message template",
        "language": trace.language if trace else "",
        "template": group.template,
        "exception_type": group.exception_type,
        "frames": group.frames,
        "tokens": masked_tokens(sample_message) if sample_message else [],
    }


# --- sparkline ----------------------------------------------------------------------------------


def incident_sparkline(incident: Incident, group_id: str) -> dict | None:
    """Event counts of one group over the incident's time range, as SVG bars: two queries."""
    bounds = Source.objects.filter(incident=incident).aggregate(
        first=Min("first_ts"), last=Max("last_ts")
    )
    first, last = bounds["first"], bounds["last"]
    if not first or not last:
        return None
    last = last + timedelta(seconds=1)
    width = max(1, math.ceil((last - first).total_seconds() / SPARK_BUCKETS))
    rows = (
        Event.objects.filter(incident=incident, group_id=group_id, ts__gte=first, ts__lt=last)
        .annotate(
            b=RawSQL(
                "floor((extract(epoch from ts) - %s) / %s)::int", (first.timestamp(), float(width))
            )
        )
        .values("b")
        .annotate(n=Count("id"))
        .order_by()
        .values_list("b", "n")
    )
    return _bars(dict(rows), first, width)


def _bars(cells: dict[int, int], first: datetime, width: int) -> dict:
    step = SPARK_W / SPARK_BUCKETS
    peak = max(cells.values(), default=0)
    bars = []
    for b, n in sorted(cells.items()):
        if not 0 <= b < SPARK_BUCKETS:
            continue
        h = max(n / peak * SPARK_H, 1) if peak else 0
        bars.append(
            {
                "x": round(b * step, 2),
                "w": round(max(step - 0.5, 0.5), 2),
                "h": round(h, 2),
                "y": round(SPARK_H - h, 2),
                "n": n,
                "from": first + timedelta(seconds=b * width),
            }
        )
    return {"bars": bars, "w": SPARK_W, "h": SPARK_H, "peak": peak, "first": first}


def project_sparkline(occurrences: list[GroupOccurrence]) -> dict:
    """One bar per incident (oldest left): how the group recurs across the project."""
    ordered = list(reversed(occurrences))[-SPARK_BUCKETS:]
    peak = max((o.count for o in ordered), default=0)
    step = SPARK_W / max(len(ordered), 1)
    bars = []
    for i, occ in enumerate(ordered):
        h = max(occ.count / peak * SPARK_H, 1) if peak else 0
        bars.append(
            {
                "x": round(i * step, 2),
                "w": round(max(step - 1, 0.5), 2),
                "h": round(h, 2),
                "y": round(SPARK_H - h, 2),
                "n": occ.count,
                "incident": occ.incident,
            }
        )
    return {"bars": bars, "w": SPARK_W, "h": SPARK_H, "peak": peak}
