"""Read side of the incident workspace: projects, incidents, timeline, events, evidence.

Every query here is scoped to one incident and uses the event indexes
(incident, ts, id) / (incident, level, ts) for WARN and up / (incident, service, ts) /
(incident, group_id),
so the workspace stays fast deep into a million events.
"""

from __future__ import annotations

import hashlib
import math
import re
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta

from django.core.cache import cache
from django.db import connection
from django.db.models import (
    BooleanField,
    Case,
    Count,
    ExpressionWrapper,
    F,
    IntegerField,
    Max,
    Min,
    OuterRef,
    Prefetch,
    Q,
    QuerySet,
    Subquery,
    Sum,
    Value,
    When,
)
from django.db.models.expressions import RawSQL
from django.db.models.functions import Coalesce
from django.http import Http404
from django.shortcuts import get_object_or_404

from apps.incidents.models import Incident, Project

# --- projects and incidents -------------------------------------------------------------------


def projects_with_stats() -> QuerySet[Project]:
    return Project.objects.annotate(
        incident_count=Count("incidents"), last_incident_at=Max("incidents__created_at")
    ).order_by("name")


def get_project_for_request(request, slug: str) -> Project:
    """The one access-checked getter for a project: the middleware already checked membership
    and selected the tenant's schema, so a slug from another tenant simply does not exist here."""
    return get_object_or_404(Project, slug=slug)


def get_incident_for_request(request, incident_id: int, *, bounds: bool = False) -> Incident:
    """The one access-checked getter for an incident (schema already selected and checked).
    `bounds`: with `first_ts` / `last_ts` of its sources, in the same query."""
    qs = Incident.objects.select_related("project")
    if bounds:
        from apps.ingestion.models import Source

        sources = Source.objects.filter(incident=OuterRef("pk")).values("incident")
        qs = qs.annotate(
            first_ts=Subquery(sources.annotate(t=Min("first_ts")).values("t")),
            last_ts=Subquery(sources.annotate(t=Max("last_ts")).values("t")),
        )
    return get_object_or_404(qs, pk=incident_id)


SEVERITY_RANK = Case(
    When(severity="critical", then=Value(3)),
    When(severity="error", then=Value(2)),
    When(severity="warning", then=Value(1)),
    default=Value(0),
    output_field=IntegerField(),
)

INCIDENT_SORTS = {
    "recent": ("-created_at", "-id"),
    "oldest": ("created_at", "id"),
    "severity": ("severity", "-created_at"),
    "events": ("-event_count", "-id"),
    "errors": ("-error_count", "-id"),
    "title": ("title", "id"),
}


def incidents_for_project(project: Project, *, q: str = "", sort: str = "recent", status=""):
    """The project's incidents with counts, time range and top finding: one query per page.

    Counts come from the per-source and per-group totals the ingest job maintains, never from
    counting events."""
    from apps.ingestion.models import GroupOccurrence, Source
    from apps.rules.models import Finding

    sources = Source.objects.filter(incident=OuterRef("pk")).values("incident")
    errors = (
        GroupOccurrence.objects.filter(incident=OuterRef("pk"), group__level__gte=4)
        .values("incident")
        .annotate(n=Sum("count"))
        .values("n")
    )
    top = Finding.objects.filter(incident=OuterRef("pk")).order_by(
        SEVERITY_RANK.desc(), "first_ts", "id"
    )
    qs = project.incidents.annotate(
        event_count=Coalesce(Subquery(sources.annotate(n=Sum("event_count")).values("n")), 0),
        first_ts=Subquery(sources.annotate(t=Min("first_ts")).values("t")),
        last_ts=Subquery(sources.annotate(t=Max("last_ts")).values("t")),
        error_count=Coalesce(Subquery(errors), 0),
        top_finding=Subquery(top.values("title")[:1]),
        top_finding_severity=Subquery(top.values("severity")[:1]),
    )
    if q:
        qs = qs.filter(title__icontains=q)
    if status in Incident.Status.values:
        qs = qs.filter(status=status)
    return qs.order_by(*INCIDENT_SORTS.get(sort, INCIDENT_SORTS["recent"]))


def incident_sources_and_jobs(incident: Incident):
    from apps.ingestion.models import IngestJob, Source

    jobs = list(
        IngestJob.objects.filter(incident=incident)
        .select_related("stored_file")
        .prefetch_related(Prefetch("stored_file__sources", queryset=Source.objects.order_by("id")))
        .order_by("created_at")
    )
    return jobs


def sources_of(jobs) -> list:
    return [source for job in jobs for source in job.stored_file.sources.all()]


def upload_problems(jobs) -> list[str]:
    """One line per upload or member that stored no lines, for the top of the incident: a
    binary file, an empty one, one refused part-way. From the prefetched jobs: no query."""
    problems = []
    for job in jobs:
        sources = job.stored_file.sources.all()
        if job.status == "failed" and not sources:
            problems.append(f"{job.stored_file.original_name} was not ingested: {job.error}")
        for source in sources:
            if source.status == "skipped":
                problems.append(f"{source.member} looks binary: 0 lines stored")
            elif source.status == "failed":
                reason = source.warnings[0] if source.warnings else job.error
                problems.append(f"{source.member} was not ingested: {reason}")
            elif source.status == "done" and not source.line_count:
                problems.append(f"{source.member} is empty: 0 lines stored")
    return problems


def incident_bounds(sources) -> tuple[datetime | None, datetime | None]:
    firsts = [s.first_ts for s in sources if s.first_ts]
    lasts = [s.last_ts for s in sources if s.last_ts]
    return (min(firsts) if firsts else None, max(lasts) if lasts else None)


def diagnosis_of(incident: Incident):
    from apps.rules.models import Diagnosis

    return Diagnosis.objects.filter(incident=incident).first()


def findings_of(incident: Incident, window: tuple | None = None, diagnosis=None) -> list:
    """Findings, one per fact, as a story: the root cause, the symptoms it explains, then the
    rest most severe first; with a zoom window, those overlapping it."""
    from apps.rules.diagnosis import story_findings
    from apps.rules.models import Finding

    rows = list(Finding.objects.filter(incident=incident).order_by("id"))
    root = diagnosis.root_category if diagnosis is not None else ""
    findings = story_findings(rows, root)
    if window:
        start, end = window
        findings = [
            f
            for f in findings
            if (f.last_ts is None or f.last_ts >= start)
            and (f.first_ts is None or f.first_ts < end)
        ]
    return findings


def events_at(refs) -> dict[tuple[int, int], object]:
    """The events at [source_id, line] refs (natural keys), in one query."""
    from apps.ingestion.models import Event

    keys = {(int(r[0]), int(r[1])) for r in refs if r and len(r) == 2}
    if not keys:
        return {}
    condition = Q()
    for source_id, line in keys:
        condition |= Q(source_id=source_id, line=line)
    rows = (
        Event.objects.filter(condition)
        .select_related("source")
        .only("source__member", "line", "end_line", "message", "level", "ts", "service")
    )
    return {(e.source_id, e.line): e for e in rows}


# --- filters ------------------------------------------------------------------------------------

PAGE_SIZE = 100
# Substring search runs on a trigram index (apps/ingestion/search.py), which needs a
# term with at least 3 letters or digits in a row: shorter terms would scan every message of
# the incident, so they are not applied (the search box says so).
MIN_SEARCH_RUN = 3
_SEARCHABLE = re.compile(rf"[^\W_]{{{MIN_SEARCH_RUN}}}")


def searchable(q: str) -> bool:
    return bool(_SEARCHABLE.search(q))


def _parse_ts(value: str) -> datetime | None:
    if not value or len(value) > 40:
        return None
    value = value.strip().replace("Z", "+00:00")
    try:
        ts = datetime.fromisoformat(value)
    except ValueError:
        try:  # a '+' that arrived unencoded in a query string became a space
            ts = datetime.fromisoformat(value[:-6] + value[-6:].replace(" ", "+"))
        except ValueError:
            return None
    return ts if ts.tzinfo else ts.replace(tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class EventFilters:
    """What the workspace shows: a zoom window (`start`, `end`) and event filters."""

    level: str = ""  # minimum level name
    service: str = ""
    source: int | None = None
    group: str = ""
    q: str = ""
    start: datetime | None = None
    end: datetime | None = None

    @classmethod
    def from_query(cls, params) -> EventFilters:
        from apps.ingestion.models import LEVEL_NUMBER

        level = params.get("level", "").upper()
        source = params.get("source", "")
        start, end = _parse_ts(params.get("from", "")), _parse_ts(params.get("to", ""))
        if start and end and end <= start:
            start, end = end, start
        return cls(
            level=level if level in LEVEL_NUMBER else "",
            service=params.get("service", "")[:200],
            source=int(source) if source.isdigit() and len(source) < 18 else None,
            group=params.get("group", "")[:32],
            q=params.get("q", "").strip()[:200],
            start=start,
            end=end,
        )

    @property
    def window(self) -> tuple[datetime, datetime] | None:
        return (self.start, self.end) if self.start and self.end else None

    @property
    def any_event_filter(self) -> bool:
        return bool(self.level or self.service or self.source or self.group or self.search)

    @property
    def search(self) -> str:
        """The text filter applied: `q` if the trigram index can serve it, else ''."""
        return self.q if searchable(self.q) else ""

    @property
    def search_too_short(self) -> bool:
        return bool(self.q) and not self.search

    def params(self, **overrides) -> dict[str, str]:
        """The filters as query parameters (for links and hidden inputs), '' values dropped."""
        values = replace(self, **overrides) if overrides else self
        out = {
            "from": values.start.isoformat() if values.start else "",
            "to": values.end.isoformat() if values.end else "",
            "level": values.level,
            "service": values.service,
            "source": str(values.source) if values.source else "",
            "group": values.group,
            "q": values.q,
        }
        return {key: value for key, value in out.items() if value}


def filtered_events(incident: Incident, filters: EventFilters) -> QuerySet:
    """Every event matching the filters (the event page searches text by `search.search_ids`
    instead: bounded work per page)."""
    from apps.ingestion.models import LEVEL_NUMBER, Event

    qs = Event.objects.filter(incident=incident)
    if filters.level:
        qs = qs.filter(level__gte=LEVEL_NUMBER[filters.level])
    if filters.service:
        qs = qs.filter(service=filters.service)
    if filters.source:
        qs = qs.filter(source_id=filters.source)
    if filters.group:
        qs = qs.filter(group_id=filters.group)
    if filters.search:
        from apps.incidents.search import text_filter

        qs = text_filter(qs, incident, filters.search)
    if filters.start:
        qs = qs.filter(ts__gte=filters.start)
    if filters.end:
        qs = qs.filter(ts__lt=filters.end)
    return qs


EVENT_COLUMNS = (
    "source__member",
    "source__id",
    "line",
    "end_line",
    "ts",
    "level",
    "service",
    "message",
    "raw",
    "group_id",
    "truncated",
)


@dataclass
class EventPage:
    rows: list
    next_cursor: str  # '' at the end
    # a text search that stopped before the page was full (search.SEARCH_BUDGET): the time of
    # the last event it tested (None past the timestamped ones); next_cursor continues from it
    searched_to: datetime | None = None
    search_cut: bool = False


def events_page(incident: Incident, filters: EventFilters, after: str = "") -> tuple[list, str]:
    """One page of events in (ts, id) order and the cursor for the next page ('' at the end)."""
    page = event_page(incident, filters, after)
    return page.rows, page.next_cursor


def event_page(
    incident: Incident, filters: EventFilters, after: str = "", search_budget: float | None = None
) -> EventPage:
    """One page of events in (ts, id) order and the cursor for the next page.

    Keyset pagination: the 500th page costs what the first does. A text search goes through
    `search.search_ids` (bounded work; it may return a short page that says how far it got)."""
    if filters.search:
        return _search_page(incident, filters, parse_cursor(after), search_budget)
    qs = filtered_events(incident, filters).select_related("source").only(*EVENT_COLUMNS)
    cursor = parse_cursor(after)
    order = (F("ts").asc(nulls_last=True), "id")
    if cursor is None:
        rows = list(qs.order_by(*order)[: PAGE_SIZE + 1])
    elif cursor[0] is None:  # events without a timestamp come last
        rows = list(
            qs.filter(ts__isnull=True, id__gt=cursor[1]).order_by("ts", "id")[: PAGE_SIZE + 1]
        )
    else:
        # a row comparison is an index range condition on (incident, ts, id): page 500 costs
        # what page 1 does; the untimestamped tail is fetched only when the timed rows run out
        after_row = RawSQL('("ingestion_event"."ts", "ingestion_event"."id") > (%s, %s)', cursor)
        rows = list(
            qs.filter(ExpressionWrapper(after_row, output_field=BooleanField())).order_by(*order)[
                : PAGE_SIZE + 1
            ]
        )
        if len(rows) <= PAGE_SIZE:
            rows += list(
                qs.filter(ts__isnull=True).order_by("ts", "id")[: PAGE_SIZE + 1 - len(rows)]
            )
    more = len(rows) > PAGE_SIZE
    rows = rows[:PAGE_SIZE]
    return EventPage(rows=rows, next_cursor=make_cursor(rows[-1]) if more and rows else "")


def _search_page(incident: Incident, filters: EventFilters, cursor, budget) -> EventPage:
    from apps.incidents.search import search_ids
    from apps.ingestion.models import Event

    base = filtered_events(incident, replace(filters, q=""))
    found = search_ids(base, incident, filters.search, cursor, PAGE_SIZE + 1, budget)
    ids = found.ids[: PAGE_SIZE + 1]
    rows = sorted(
        Event.objects.filter(pk__in=ids).select_related("source").only(*EVENT_COLUMNS),
        key=lambda e: (e.ts is None, e.ts or datetime.min.replace(tzinfo=UTC), e.pk),
    )
    if len(rows) > PAGE_SIZE:
        rows = rows[:PAGE_SIZE]
        return EventPage(rows=rows, next_cursor=make_cursor(rows[-1]))
    if found.resume:
        ts, pk = found.resume
        return EventPage(
            rows=rows,
            next_cursor=f"{ts.isoformat() if ts else ''}|{pk}",
            searched_to=ts,
            search_cut=True,
        )
    return EventPage(rows=rows, next_cursor="")


def make_cursor(event) -> str:
    return f"{event.ts.isoformat() if event.ts else ''}|{event.pk}"


def parse_cursor(value: str) -> tuple[datetime | None, int] | None:
    if not value or "|" not in value:
        return None
    ts_text, _, id_text = value.rpartition("|")
    if not id_text.isdigit() or len(id_text) > 18:
        return None
    ts = _parse_ts(ts_text) if ts_text else None
    if ts_text and ts is None:
        return None
    return ts, int(id_text)


# --- aggregate cache --------------------------------------------------------------------------
# Bucket counts over a million events cost a full index scan (the timeline reads the rollup
# instead; the sparklines still count events); they only change when events are added or
# deleted, so they are also cached under a key that carries the tenant's schema and the
# sources' event counts (new or deleted events give a new key). Never cached mid-ingest.
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
    0: "fill-slate-300",
    1: "fill-slate-300",
    2: "fill-sky-400",
    3: "fill-amber-400",
    4: "fill-red-500",
    5: "fill-fuchsia-700",
}
MAX_LANES = 12


def bucket_width(start: datetime, end: datetime, buckets: int = TIMELINE_BUCKETS) -> int:
    span = max((end - start).total_seconds(), 1.0)
    target = span / buckets
    return next((step for step in NICE_STEPS if step >= target), NICE_STEPS[-1])


def _bucket_expr(origin: datetime, width: int) -> RawSQL:
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
    from apps.ingestion.models import EventRollup

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
    by_level = [(b, level, n) for b, level, _, grouping, n, _ in rows if grouping == 1]
    by_service = [(b, service, n) for b, _, service, grouping, n, _ in rows if grouping == 2]
    errors_by_service = [
        (b, service, errors)
        for b, _, service, grouping, _, errors in rows
        if grouping == 2 and errors
    ]
    timeline = Timeline(start=origin, end=end, width=width, buckets=buckets, zoomed=zoomed)
    counts: dict[int, dict[int | None, int]] = {}
    for b, level, n in by_level:
        counts.setdefault(b, {})[level] = n
    plot_w = SVG_W - LABEL_W
    step = plot_w / buckets
    timeline.max_count = max((sum(levels.values()) for levels in counts.values()), default=0)
    timeline.total = sum(sum(levels.values()) for levels in counts.values())
    scale = (HIST_H - 4) / timeline.max_count if timeline.max_count else 0
    for b in range(buckets):
        levels = counts.get(b, {})
        total = sum(levels.values())
        t0 = origin + timedelta(seconds=b * width)
        bar = {
            "x": LABEL_W + b * step,
            "w": max(step - 0.5, 0.5),
            "total": total,
            "from": t0,
            "to": t0 + timedelta(seconds=width),
            "zoom_from": t0 - timedelta(seconds=3 * width),
            "zoom_to": t0 + timedelta(seconds=4 * width),
            "segments": [],
        }
        y = HIST_H
        for level in (None, 0, 1, 2, 3, 4, 5):
            n = levels.get(level, 0)
            if not n:
                continue
            h = max(n * scale, 1.0)
            y -= h
            bar["segments"].append(
                {"y": y, "h": h, "n": n, "cls": LEVEL_COLOURS.get(level, "fill-slate-300")}
            )
        bar["errors"] = levels.get(4, 0) + levels.get(5, 0)
        timeline.bars.append(bar)

    lanes: dict[str, dict[int, int]] = {}
    for b, service, n in by_service:
        lanes.setdefault(service, {})[b] = n
    lane_errors: dict[str, dict[int, int]] = {}
    for b, service, n in errors_by_service:
        lane_errors.setdefault(service, {})[b] = n
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
                    if 0 <= b < buckets
                ],
            }
        )

    def x_of(ts: datetime | None) -> float | None:
        if ts is None:
            return None
        return LABEL_W + (ts - origin).total_seconds() / width * step

    for finding in findings:
        x = x_of(finding.first_ts)
        if x is not None and LABEL_W <= x <= SVG_W:
            timeline.markers.append({"x": x, "finding": finding})
    for window in (diagnosis.windows if diagnosis else []) or []:
        ws, we = _parse_ts(window.get("start") or ""), _parse_ts(window.get("end") or "")
        if not ws or not we:
            continue
        x0 = max(x_of(ws), LABEL_W)
        x1 = min(x_of(we + timedelta(seconds=1)), SVG_W)
        if x1 > x0:
            timeline.windows.append({"x": x0, "w": x1 - x0, "window": window})
    timeline.ticks = _ticks(origin, end, width, buckets, step)
    timeline.height = HIST_H + AXIS_H + len(timeline.lanes) * LANE_H + 4
    return timeline


def _ticks(origin: datetime, end: datetime, width: int, buckets: int, step: float) -> list[dict]:
    every = max(1, buckets // 6)
    fmt = "%H:%M:%S" if width < 60 else "%H:%M"
    if (end - origin) > timedelta(days=1):
        fmt = "%m-%d %H:%M"
    return [
        {
            "x": LABEL_W + b * step,
            "label": (origin + timedelta(seconds=b * width)).strftime(fmt),
        }
        for b in range(0, buckets, every)
    ]


# --- error groups -------------------------------------------------------------------------------

SPARK_BUCKETS = 40
SPARK_W, SPARK_H = 120, 20


def top_groups(incident: Incident, limit: int = 15) -> list:
    """The incident's top groups, each with `is_new` and `seen_in` (earlier incidents)."""
    from apps.ingestion.group_selectors import incident_groups

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
    from apps.ingestion.models import Event

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
            .annotate(b=_bucket_expr(first, width))
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


# --- evidence -----------------------------------------------------------------------------------

EVIDENCE_CONTEXT = 10
EVIDENCE_CONTEXT_MAX = 500


def evidence_context(incident: Incident, source_id: int, line: int, context: str | None) -> dict:
    """Physical lines line±N of one source, rebuilt from its events' raw text."""
    from apps.ingestion.models import Event, Source

    source = get_object_or_404(
        Source.objects.select_related("stored_file"), pk=source_id, incident=incident
    )
    try:
        n = max(0, min(int(context or EVIDENCE_CONTEXT), EVIDENCE_CONTEXT_MAX))
    except ValueError:
        n = EVIDENCE_CONTEXT
    low, high = max(1, line - n), line + n
    # events never span more than a few hundred lines; bound the scan of the natural-key index
    events = list(
        Event.objects.filter(
            source=source, line__gte=low - EVIDENCE_CONTEXT_MAX * 4, line__lte=high
        )
        .filter(end_line__gte=low)
        .order_by("line")
        .values("line", "end_line", "raw", "level", "ts", "service")
    )
    target = next((e for e in events if e["line"] <= line <= e["end_line"]), None)
    if target is None:
        raise Http404("No such line in this source")
    rows = []
    for event in events:
        for offset, text in enumerate(event["raw"].split("\n")):
            number = event["line"] + offset
            if low <= number <= high:
                rows.append(
                    {
                        "number": number,
                        "text": text,
                        "hit": target["line"] <= number <= target["end_line"],
                    }
                )
    return {
        "source": source,
        "line": line,
        "target": target,
        "rows": rows,
        "context": n,
        "more": min(n * 2 or EVIDENCE_CONTEXT, EVIDENCE_CONTEXT_MAX),
        "at_start": low == 1,
        "at_end": high >= source.line_count,
        "hit_text": "\n".join(r["text"] for r in rows if r["hit"]),
    }
