"""Read side of a project's stream: per-service rates and the live tail (workspace pages)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import connection
from django.db.models import Count, Max, Q
from django.utils import timezone

from apps.core.vocabulary import LEVEL_NUMBER
from apps.streams.models import StreamEvent, StreamTemplate

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


# window name → (span, bucket): the histogram shows about 60 bars whatever the window
HISTOGRAM_WINDOWS = {
    "1h": (timedelta(hours=1), timedelta(minutes=1)),
    "6h": (timedelta(hours=6), timedelta(minutes=6)),
    "24h": (timedelta(hours=24), timedelta(minutes=24)),
}
DEFAULT_WINDOW = "1h"


@dataclass(frozen=True, slots=True)
class Bucket:
    start: datetime
    end: datetime
    total: int
    errors: int  # ERROR and FATAL


@dataclass(frozen=True, slots=True)
class Histogram:
    window: str
    start: datetime
    end: datetime
    buckets: list[Bucket]

    @property
    def peak(self) -> int:
        return max((b.total for b in self.buckets), default=0)

    def bars(self, width: float = 1000, height: float = 80) -> list[dict]:
        """SVG geometry per bucket: x, w, and the total's and the errors' bars standing on the
        bottom (y, h; ey, eh)."""
        step = width / max(len(self.buckets), 1)
        peak = self.peak or 1
        return [
            {
                "bucket": b,
                "x": round(i * step, 2),
                "w": round(max(step - 1, 1), 2),
                "y": round(height - b.total / peak * (height - 4), 2),
                "h": round(b.total / peak * (height - 4), 2),
                "ey": round(height - b.errors / peak * (height - 4), 2),
                "eh": round(b.errors / peak * (height - 4), 2),
            }
            for i, b in enumerate(self.buckets)
        ]


def histogram(project_id: int, window: str, now: datetime | None = None) -> Histogram:
    """Records per time bucket (by record time) over the window ending now, with the errors
    among them; every bucket present, empty ones as zero. One query."""
    span, step = HISTOGRAM_WINDOWS.get(window, HISTOGRAM_WINDOWS[DEFAULT_WINDOW])
    now = now or timezone.now()
    end = datetime.fromtimestamp(
        (now.timestamp() // step.total_seconds() + 1) * step.total_seconds(), tz=now.tzinfo
    )  # the bucket holding `now` is the last one
    start = end - span
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT date_bin(%s, ts, %s) AS bucket, count(*), "
            "count(*) FILTER (WHERE level >= %s) FROM streams_event "
            "WHERE project_id = %s AND ts >= %s AND ts < %s GROUP BY bucket",
            [step, start, LEVEL_NUMBER["ERROR"], project_id, start, end],
        )
        counts = {bucket: (total, errors) for bucket, total, errors in cursor.fetchall()}
    buckets = []
    at = start
    while at < end:
        total, errors = counts.get(at, (0, 0))
        buckets.append(Bucket(at, at + step, total, errors))
        at += step
    return Histogram(window if window in HISTOGRAM_WINDOWS else DEFAULT_WINDOW, start, end, buckets)


def template_history(project_id: int) -> dict[str, datetime]:
    """When the project's stream first showed each template (the ingest job's history
    provider: a template the stream carried well before an upload shows it is not new)."""
    return dict(
        StreamTemplate.objects.filter(project_id=project_id).values_list(
            "template_id", "first_seen"
        )
    )
