"""The incident timeline: bucketed counts per level and lane, from the rollup when it is
current and from raw events otherwise, cached per data version."""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from django.core.cache import cache
from django.db import connection
from django.db.models.expressions import RawSQL

from apps.core.vocabulary import Level
from apps.deploys.selectors import correlation_of, deploys_between
from apps.incidents.models import Incident
from apps.ingestion.models import (
    EventRollup,
)
from apps.workspace.selectors.events import EventFilters, parse_ts
from apps.workspace.selectors.incidents import incident_bounds

AGGREGATE_TTL = 6 * 3600


def _data_version(sources) -> str | None:
    if any(s.status == "ingesting" for s in sources):
        return None
    return ",".join(f"{s.pk}:{s.event_count}" for s in sources)


def cached_rows(sources, name: str, params: tuple, queryset) -> list:
    """`list(queryset)` (or `queryset()` for a function returning rows), cached per tenant
    schema, incident data version and parameters."""

    def fetch() -> list:
        return list(queryset() if callable(queryset) else queryset)

    version = _data_version(sources)
    if version is None:
        return fetch()
    digest = hashlib.sha256(repr((name, params, version)).encode()).hexdigest()[:32]
    key = f"workspace:{connection.schema_name}:{digest}"
    rows = cache.get(key)
    if rows is None:
        rows = fetch()
        cache.set(key, rows, AGGREGATE_TTL)
    return rows


# --- timeline -----------------------------------------------------------------------------------

NICE_STEPS = [
    1,
    2,
    5,
    10,
    20,  # bar widths from 10 s up are whole 10-second rollup buckets
    30,
    60,
    120,
    300,
    600,
    900,
    1800,
    3600,
    7200,
    10800,
    21600,
    43200,
    86400,
    172800,
    604800,
]
TIMELINE_BUCKETS = 120
LEVEL_COLOURS = {  # stacked bottom to top
    Level.TRACE: "fill-slate-300",
    Level.DEBUG: "fill-slate-300",
    Level.INFO: "fill-sky-400",
    Level.WARN: "fill-amber-400",
    Level.ERROR: "fill-red-500",
    Level.FATAL: "fill-fuchsia-700",
}
MAX_LANES = 12


def bucket_width(start: datetime, end: datetime, buckets: int = TIMELINE_BUCKETS) -> int:
    span = max((end - start).total_seconds(), 1.0)
    target = span / buckets
    step = next((step for step in NICE_STEPS if step >= target), None)
    # Past a week per bar (logs spanning years: archives, misdated lines) whole weeks, so the
    # chart keeps at most `buckets` bars however long the span.
    return step or math.ceil(target / NICE_STEPS[-1]) * NICE_STEPS[-1]


def bucket_expr(origin: datetime, width: int) -> RawSQL:
    return RawSQL(
        "floor((extract(epoch from ts) - %s) / %s)::int", (origin.timestamp(), float(width))
    )


@dataclass
class Timeline:
    start: datetime
    end: datetime
    width: int  # seconds per bucket
    buckets: int
    zoomed: bool
    bars: list[dict] = field(default_factory=list)  # per bucket: x, w, segments, total, times
    lanes: list[dict] = field(default_factory=list)  # per service: name, cells
    markers: list[dict] = field(default_factory=list)  # findings
    windows: list[dict] = field(default_factory=list)  # incident windows
    deploys: list[dict] = field(default_factory=list)  # deploys in range (x) and just before
    correlation: Any = None  # apps.deploys IncidentCorrelation: the lanes' order, verdicts
    max_count: int = 0
    total: int = 0
    height: int = 0
    ticks: list[dict] = field(default_factory=list)

    @property
    def services(self) -> list[str]:
        return [lane["name"] for lane in self.lanes]


# SVG geometry (viewBox units); the SVG scales to its container's width.
SVG_W, LABEL_W, HIST_H, LANE_H, AXIS_H = 1000, 120, 80, 16, 18


def rollup_is_current(sources, jobs) -> bool:
    """Whether the event rollup holds every event of these sources.

    The ingest job rebuilds it as its last step, and a failed job after removing its rows, so
    it is current when every job has ended and no source is still being written (a source left
    `ingesting` by an older failure: the timeline then counts raw events, as while a job runs)."""
    return all(s.status != "ingesting" for s in sources) and all(
        job.status in ("done", "failed") for job in jobs
    )


TIMELINE_SQL = """
SELECT b, level, service, GROUPING(level, service),
       sum(n)::bigint, (sum(n) FILTER (WHERE level >= 4))::bigint
FROM (
    SELECT floor((extract(epoch from t) - %(origin)s) / %(width)s)::int AS b, level, service, n
    FROM (
        SELECT bucket AS t, level, service, count AS n FROM ingestion_eventrollup
        WHERE incident_id = %(incident)s AND bucket >= %(lo)s AND bucket < %(hi)s
        UNION ALL
        SELECT ts, level, service, 1 FROM ingestion_event
        WHERE incident_id = %(incident)s AND ts >= %(start)s AND ts < %(lo)s
        UNION ALL
        SELECT ts, level, service, 1 FROM ingestion_event
        WHERE incident_id = %(incident)s AND ts >= %(hi)s AND ts < %(end)s
    ) AS counted
) AS bucketed
GROUP BY GROUPING SETS ((b, level), (b, service))
"""


def timeline_counts(
    incident: Incident, start: datetime, end: datetime, origin: datetime, width: int, *, rollup
) -> list[tuple]:
    """Event counts in [start, end) per bar (`width` seconds from `origin`): one query.

    Rows are (bar, level, None, 1, n, None) per level and (bar, None, service, 2, n, errors)
    per service. With `rollup`, whole 10-second rollup buckets inside the range come from
    the rollup and only the partial buckets at its edges (a zoom window need not be aligned)
    from raw events; bars narrower than a rollup bucket count raw events (a short range, so
    a cheap scan of the (incident, ts) index).
    """

    seconds = EventRollup.SECONDS
    lo = hi = end  # no rollup rows: raw events in [start, end)
    if rollup and width % seconds == 0:
        first = math.ceil(start.timestamp() / seconds) * seconds
        last = math.floor(end.timestamp() / seconds) * seconds
        if first < last:
            lo = datetime.fromtimestamp(first, tz=UTC)
            hi = datetime.fromtimestamp(last, tz=UTC)
    params = {
        "incident": incident.pk,
        "origin": origin.timestamp(),
        "width": float(width),
        "start": start,
        "end": end,
        "lo": lo,
        "hi": hi,
    }
    with connection.cursor() as cursor:
        cursor.execute(TIMELINE_SQL, params)
        return cursor.fetchall()


def build_timeline(
    incident: Incident, sources, filters: EventFilters, findings, diagnosis, *, rollup: bool
) -> Timeline | None:
    """Histogram stacked by level, swimlanes per service, finding and window markers: 1 query.

    Counts come from the event rollup when it is current (`rollup_is_current`), otherwise
    (a job is running) from raw events; either way in one query.
    """
    first, last = incident_bounds(sources)
    zoomed = filters.window is not None
    if zoomed:
        start, end = filters.window
    elif first and last:
        start, end = first, last + timedelta(seconds=1)
    else:
        return None
    width = bucket_width(start, end)
    origin = datetime.fromtimestamp(math.floor(start.timestamp() / width) * width, tz=UTC)
    buckets = max(1, math.ceil((end - origin).total_seconds() / width))
    key = (incident.pk, start, end, width, rollup)
    rows = cached_rows(
        sources,
        "timeline",
        key,
        lambda: timeline_counts(incident, start, end, origin, width, rollup=rollup),
    )
    timeline = Timeline(start=origin, end=end, width=width, buckets=buckets, zoomed=zoomed)
    step = (SVG_W - LABEL_W) / buckets
    _add_bars(timeline, rows, step)
    _add_lanes(timeline, rows, step)
    _add_markers(timeline, findings, diagnosis, step)
    _add_deploys(timeline, incident, step)
    _order_lanes(timeline, incident, step)
    timeline.ticks = _ticks(origin, end, width, buckets, step)
    timeline.height = HIST_H + AXIS_H + len(timeline.lanes) * LANE_H + 4
    return timeline


def _add_bars(timeline: Timeline, rows, step: float) -> None:
    """One bar per bucket, stacked by level (rows of grouping 1: bucket, level, count)."""
    counts: dict[int, dict[int | None, int]] = {}
    for b, level, _, grouping, n, _ in rows:
        if grouping == 1:
            counts.setdefault(b, {})[level] = n
    timeline.max_count = max((sum(levels.values()) for levels in counts.values()), default=0)
    timeline.total = sum(sum(levels.values()) for levels in counts.values())
    scale = (HIST_H - 4) / timeline.max_count if timeline.max_count else 0
    width, origin = timeline.width, timeline.start
    for b in range(timeline.buckets):
        levels = counts.get(b, {})
        t0 = origin + timedelta(seconds=b * width)
        bar = {
            "x": LABEL_W + b * step,
            "w": max(step - 0.5, 0.5),
            "total": sum(levels.values()),
            "from": t0,
            "to": t0 + timedelta(seconds=width),
            "zoom_from": t0 - timedelta(seconds=3 * width),
            "zoom_to": t0 + timedelta(seconds=4 * width),
            "segments": [],
        }
        y = HIST_H
        for level in (None, *Level):
            n = levels.get(level, 0)
            if not n:
                continue
            h = max(n * scale, 1.0)
            y -= h
            bar["segments"].append(
                {"y": y, "h": h, "n": n, "cls": LEVEL_COLOURS.get(level, "fill-slate-300")}
            )
        bar["errors"] = levels.get(Level.ERROR, 0) + levels.get(Level.FATAL, 0)
        timeline.bars.append(bar)


def _add_lanes(timeline: Timeline, rows, step: float) -> None:
    """A swimlane per service, the busiest MAX_LANES, alphabetical (rows of grouping 2)."""
    lanes: dict[str, dict[int, int]] = {}
    lane_errors: dict[str, dict[int, int]] = {}
    for b, _, service, grouping, n, errors in rows:
        if grouping == 2:
            lanes.setdefault(service, {})[b] = n
            if errors:
                lane_errors.setdefault(service, {})[b] = errors
    ranked = sorted(lanes, key=lambda s: (-sum(lanes[s].values()), s))[:MAX_LANES]
    for index, service in enumerate(sorted(ranked)):
        cells = lanes[service]
        peak = max(cells.values())
        errs = lane_errors.get(service, {})
        timeline.lanes.append(
            {
                "name": service,
                "label": service or "(no service)",
                "y": HIST_H + AXIS_H + index * LANE_H,
                "total": sum(cells.values()),
                "errors": sum(errs.values()),
                "cells": [
                    {
                        "x": LABEL_W + b * step,
                        "w": max(step - 0.5, 0.5),
                        "n": n,
                        "errors": errs.get(b, 0),
                        "opacity": round(0.25 + 0.75 * n / peak, 2),
                    }
                    for b, n in sorted(cells.items())
                    if 0 <= b < timeline.buckets
                ],
            }
        )


def _add_markers(timeline: Timeline, findings, diagnosis, step: float) -> None:
    """A marker where each finding starts, a band over each incident window."""

    def x_of(ts: datetime) -> float:
        return LABEL_W + (ts - timeline.start).total_seconds() / timeline.width * step

    for finding in findings:
        if finding.first_ts is not None and LABEL_W <= (x := x_of(finding.first_ts)) <= SVG_W:
            timeline.markers.append({"x": x, "finding": finding})
    for window in (diagnosis.windows if diagnosis else []) or []:
        ws, we = parse_ts(window.get("start") or ""), parse_ts(window.get("end") or "")
        if not ws or not we:
            continue
        x0 = max(x_of(ws), LABEL_W)
        x1 = min(x_of(we + timedelta(seconds=1)), SVG_W)
        if x1 > x0:
            timeline.windows.append({"x": x0, "w": x1 - x0, "window": window})


def _add_deploys(timeline: Timeline, incident: Incident, step: float) -> None:
    """The project's deploys up to the range's end and from two hours before it (one query): a
    marker for those in range (`x`), and all of them for "what changed" (`x` None before)."""
    for deploy in deploys_between(incident.project_id, timeline.start, timeline.end)[-20:]:
        x = LABEL_W + (deploy.started_at - timeline.start).total_seconds() / timeline.width * step
        timeline.deploys.append({"x": x if LABEL_W <= x <= SVG_W else None, "deploy": deploy})


def _order_lanes(timeline: Timeline, incident: Incident, step: float) -> None:
    """The lanes of the services that failed first, in the order they began failing (origin
    on top, marked, with a tick at each one's onset), then the others; the deploys' verdicts
    beside their markers (one query: the stored correlation)."""
    correlation = timeline.correlation = correlation_of(incident.pk)
    if correlation is None:
        return
    verdicts = {d["deploy_id"]: d for d in correlation.deploys}
    for d in timeline.deploys:
        d["verdict"] = verdicts.get(d["deploy"].pk)
    order = {s["name"]: i for i, s in enumerate(correlation.services)}
    steps = {s["name"]: s for s in correlation.services}
    timeline.lanes.sort(key=lambda lane: (order.get(lane["name"], len(order)), lane["name"]))
    for index, lane in enumerate(timeline.lanes):
        lane["y"] = HIST_H + AXIS_H + index * LANE_H
        step_ = steps.get(lane["name"])
        if step_ is None:
            continue
        lane["role"] = step_["role"]
        onset = parse_ts(step_.get("onset") or "")
        if onset is not None:
            x = LABEL_W + (onset - timeline.start).total_seconds() / timeline.width * step
            lane["onset_x"] = x if LABEL_W <= x <= SVG_W else None
            lane["onset"] = onset


def _ticks(origin: datetime, end: datetime, width: int, buckets: int, step: float) -> list[dict]:
    every = max(1, buckets // 6)
    fmt = "%H:%M:%S" if width < 60 else "%H:%M"
    if (end - origin) > timedelta(days=1):
        fmt = "%m-%d %H:%M"
    if (end - origin) > timedelta(days=365):
        fmt = "%Y-%m-%d"
    return [
        {
            "x": LABEL_W + b * step,
            "label": (origin + timedelta(seconds=b * width)).strftime(fmt),
        }
        for b in range(0, buckets, every)
    ]
