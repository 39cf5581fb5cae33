"""The events table: filters from the query string, keyset pages, and the search path.

Every query is scoped to one incident and uses the event indexes
(incident, ts, id) / (incident, level, ts) for WARN and up / (incident, service, ts) /
(incident, group_id), so the workspace stays fast deep into a million events.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from datetime import UTC, datetime

from django.db.models import (
    BooleanField,
    ExpressionWrapper,
    F,
    QuerySet,
)
from django.db.models.expressions import RawSQL

from apps.incidents.models import Incident
from apps.ingestion.models import LEVEL_NUMBER, Event
from apps.workspace.selectors.search import search_ids, text_filter

# --- filters ------------------------------------------------------------------------------------

PAGE_SIZE = 100
# Substring search runs on a trigram index (apps/ingestion/search.py), which needs a
# term with at least 3 letters or digits in a row: shorter terms would scan every message of
# the incident, so they are not applied (the search box says so).
MIN_SEARCH_RUN = 3
_SEARCHABLE = re.compile(rf"[^\W_]{{{MIN_SEARCH_RUN}}}")


def searchable(q: str) -> bool:
    return bool(_SEARCHABLE.search(q))


def parse_ts(value: str) -> datetime | None:
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

        level = params.get("level", "").upper()
        source = params.get("source", "")
        start, end = parse_ts(params.get("from", "")), parse_ts(params.get("to", ""))
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
    ts = parse_ts(ts_text) if ts_text else None
    if ts_text and ts is None:
        return None
    return ts, int(id_text)


# --- aggregate cache --------------------------------------------------------------------------
# Bucket counts over a million events cost a full index scan (the timeline reads the rollup
# instead; the sparklines still count events); they only change when events are added or
# deleted, so they are also cached under a key that carries the tenant's schema and the
# sources' event counts (new or deleted events give a new key). Never cached mid-ingest.
