"""Read side of a project's stream: per-service rates and the live tail (workspace pages)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db.models import Count, Max, Q
from django.utils import timezone

from apps.core.vocabulary import LEVEL_NUMBER
from apps.streams.models import StreamEvent

TAIL_SIZE = 100
RATE_WINDOW = timedelta(minutes=15)


@dataclass(frozen=True, slots=True)
class TailFilters:
    """The workspace's event filters, for the tail: minimum level, service, text."""

    level: str = ""  # a name from LEVELS: that level and worse
    service: str = ""
    q: str = ""

    @classmethod
    def from_query(cls, params) -> TailFilters:
        level = params.get("level", "")
        return cls(
            level=level if level in LEVEL_NUMBER else "",
            service=params.get("service", "")[:200],
            q=params.get("q", "").strip()[:200],
        )


@dataclass(frozen=True, slots=True)
class ServiceRate:
    service: str
    count: int  # records in the window
    errors: int  # ERROR and FATAL in the window
    last_ts: datetime | None

    @property
    def per_minute(self) -> float:
        return self.count / (RATE_WINDOW.total_seconds() / 60)


def service_rates(project_id: int, now: datetime | None = None) -> list[ServiceRate]:
    """Records per service over the last RATE_WINDOW (by record time), busiest first; one query."""
    since = (now or timezone.now()) - RATE_WINDOW
    rows = (
        StreamEvent.objects.filter(project_id=project_id, ts__gte=since)
        .values("service")
        .annotate(
            n=Count("*"), errors=Count("seq", filter=Q(level__gte=LEVEL_NUMBER["ERROR"])),
            last=Max("ts"),
        )
        .order_by("-n", "service")
    )  # fmt: skip
    return [ServiceRate(r["service"], r["n"], r["errors"], r["last"]) for r in rows]


def tail(project_id: int, filters: TailFilters, size: int = TAIL_SIZE) -> list[StreamEvent]:
    """The latest `size` events of the stream that pass the filters, newest first; one query."""
    events = StreamEvent.objects.filter(project_id=project_id)
    if filters.level:
        events = events.filter(level__gte=LEVEL_NUMBER[filters.level])
    if filters.service:
        events = events.filter(service=filters.service)
    if filters.q:
        events = events.filter(message__icontains=filters.q)
    return list(events.order_by("-ts", "-batch_id", "-seq")[:size])
