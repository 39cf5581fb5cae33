"""Read side of ingestion: events with keyset pagination, group occurrences."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.db.models import F, Q, QuerySet

from apps.incidents.models import Incident
from apps.ingestion.models import LEVEL_NUMBER, Event, GroupOccurrence

PAGE_SIZE = 100


@dataclass(frozen=True, slots=True)
class EventFilters:
    level: str = ""  # minimum level name
    service: str = ""
    source: int | None = None
    group: str = ""
    q: str = ""

    @classmethod
    def from_query(cls, params) -> EventFilters:
        source = params.get("source", "")
        return cls(
            level=params.get("level", "").upper()
            if params.get("level", "").upper() in LEVEL_NUMBER
            else "",
            service=params.get("service", "")[:200],
            source=int(source) if source.isdigit() else None,
            group=params.get("group", "")[:32],
            q=params.get("q", "")[:200],
        )


def events_page(
    incident: Incident, filters: EventFilters, after: str = ""
) -> tuple[list[Event], str]:
    """One page of events in (ts, id) order and the cursor for the next page ('' at the end)."""
    qs: QuerySet[Event] = Event.objects.filter(incident=incident).select_related("source")
    if filters.level:
        qs = qs.filter(level__gte=LEVEL_NUMBER[filters.level])
    if filters.service:
        qs = qs.filter(service=filters.service)
    if filters.source:
        qs = qs.filter(source_id=filters.source)
    if filters.group:
        qs = qs.filter(group_id=filters.group)
    if filters.q:
        qs = qs.filter(message__icontains=filters.q)
    cursor = _parse_cursor(after)
    if cursor is not None:
        ts, last_id = cursor
        if ts is None:  # events without a timestamp come last
            qs = qs.filter(ts__isnull=True, id__gt=last_id)
        else:
            qs = qs.filter(Q(ts__gt=ts) | Q(ts=ts, id__gt=last_id) | Q(ts__isnull=True))
    rows = list(qs.order_by(F("ts").asc(nulls_last=True), "id")[: PAGE_SIZE + 1])
    more = len(rows) > PAGE_SIZE
    rows = rows[:PAGE_SIZE]
    next_cursor = _cursor(rows[-1]) if more and rows else ""
    return rows, next_cursor


def _cursor(event: Event) -> str:
    return f"{event.ts.isoformat() if event.ts else ''}|{event.pk}"


def _parse_cursor(value: str) -> tuple[datetime | None, int] | None:
    if not value or "|" not in value:
        return None
    ts_text, _, id_text = value.rpartition("|")
    if not id_text.isdigit():
        return None
    try:
        ts = datetime.fromisoformat(ts_text) if ts_text else None
    except ValueError:
        return None
    return ts, int(id_text)


def top_groups(incident: Incident, limit: int = 20) -> list[GroupOccurrence]:
    return list(
        GroupOccurrence.objects.filter(incident=incident)
        .select_related("group")
        .order_by("-group__level", "-count")[:limit]
    )
