"""The incident's top error groups with a sparkline each."""

from __future__ import annotations

import math
from datetime import timedelta

from django.db import connection
from django.db.models import (
    Count,
)

from apps.incidents.models import Incident
from apps.ingestion.models import (
    Event,
)
from apps.workspace.selectors.events import EventFilters
from apps.workspace.selectors.groups import incident_groups
from apps.workspace.selectors.incidents import incident_bounds
from apps.workspace.selectors.timeline import bucket_expr, cached_rows

# --- error groups -------------------------------------------------------------------------------

SPARK_BUCKETS = 40
SPARK_W, SPARK_H = 120, 20


def top_groups(incident: Incident, limit: int = 15) -> list:
    """The incident's top groups, each with `is_new` and `seen_in` (earlier incidents)."""
    return incident_groups(incident, limit=limit)


SPARK_SQL = """
SELECT group_id, floor((extract(epoch from bucket) - %(origin)s) / %(width)s)::int,
       sum(count)::bigint
FROM ingestion_grouprollup
WHERE incident_id = %(incident)s AND group_id = ANY(%(ids)s)
  AND bucket >= %(first)s AND bucket < %(last)s
GROUP BY 1, 2
"""


def attach_sparklines(
    incident: Incident, occurrences, sources, filters: EventFilters, *, rollup: bool = False
) -> None:
    """A per-group event-count sparkline over the incident (or the zoom window): one query.

    With `rollup` (see `rollup_is_current`) the counts come from the per-group 10-second
    rollup, so a sparkline costs the same at a million events as at a thousand; a zoom window
    is then widened to whole 10-second buckets. Otherwise raw events are counted (and cached).
    """

    if not occurrences:
        return
    first, last = filters.window or incident_bounds(sources)
    if not first or not last:
        return
    last = last + timedelta(seconds=1) if not filters.window else last
    # whole 10-second buckets (the rollup's), so both ways of counting agree exactly
    first = first - timedelta(seconds=first.timestamp() % 10)
    width = 10 * max(1, math.ceil((last - first).total_seconds() / SPARK_BUCKETS / 10))
    ids = [occ.group.group_id for occ in occurrences]
    if rollup:
        with connection.cursor() as cursor:
            cursor.execute(
                SPARK_SQL,
                {
                    "origin": first.timestamp(),
                    "width": float(width),
                    "incident": incident.pk,
                    "ids": ids,
                    "first": first,
                    "last": last,
                },
            )
            rows = cursor.fetchall()
    else:
        rows = (
            Event.objects.filter(incident=incident, group_id__in=ids, ts__gte=first, ts__lt=last)
            .annotate(b=bucket_expr(first, width))
            .values("group_id", "b")
            .annotate(n=Count("*"))
            .order_by()
            .values_list("group_id", "b", "n")
        )
        rows = cached_rows(sources, "sparks", (incident.pk, first, last, width, *ids), rows)
    series: dict[str, dict[int, int]] = {}
    for group_id, b, n in rows:
        series.setdefault(group_id, {})[b] = n
    step = SPARK_W / SPARK_BUCKETS
    for occ in occurrences:
        cells = series.get(occ.group.group_id, {})
        peak = max(cells.values(), default=0)
        occ.spark = [
            {
                "x": round(b * step, 2),
                "w": round(max(step - 0.4, 0.4), 2),
                "h": round(max(n / peak * SPARK_H, 1), 2),
                "y": round(SPARK_H - max(n / peak * SPARK_H, 1), 2),
            }
            for b, n in sorted(cells.items())
            if 0 <= b < SPARK_BUCKETS
        ]
