"""Incidents that open themselves: stream alarms → an incident per failure, grown while it lasts.

The drain stores an alarm (`StreamAlarm`) whenever a rule of severity error or worse fires on
the stream. Here, after each drain turn:

- **open or extend**: an alarm joins the incident of its project, category and service whose
  latest match is within STREAM_INCIDENT_DEDUP_MINUTES (default 30) of it, or an open
  service-wide incident of its service around that time (SERVICE_WIDE: one an alert opened,
  apps.alerts); otherwise a new `Incident` opens, covering the stream from
  STREAM_INCIDENT_LEAD_MINUTES (default 10) before its first matching record. One alarm is
  taken once (locked, then deleted in the same transaction); opening and joining are
  serialised per (project, service) by an advisory lock (`lock_service`), shared with alerts.
- **widen**: an alarm or an alert that began before the incident's range widens it backwards
  (the stream events of the added stretch become one more source).
- **grow**: an incident covers the stream up to STREAM_INCIDENT_TAIL_MINUTES after its latest
  match. The stream events of the range not covered yet become one more source of the incident
  through the upload path (`apps.ingestion.services.add_files`: a stored NDJSON file and an
  ingest job), so the workspace (timeline, events, groups, findings, evidence) reads it like
  an upload, and the job's findings reach the rules app through the findings sink. A source
  is added at once when the incident opens, then at most every STREAM_INCIDENT_GROW_SECONDS.
  The range and the advance of `covered_until` commit with the stored file, so a source is
  never added twice.

Caveat: an event that arrives after its time range was covered (a late shipper) is not added.
"""

from __future__ import annotations

import json
import logging
import zlib
from collections.abc import Iterator
from datetime import datetime, timedelta

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Q
from django.utils import timezone

from apps.core.vocabulary import LEVELS, Severity
from apps.incidents import services as incidents
from apps.incidents.models import Incident
from apps.ingestion import services as ingestion
from apps.streams.models import StreamAlarm, StreamEvent, StreamIncident

log = logging.getLogger(__name__)

LOCK_CLASS = 0x5354524D  # "STRM": pg_advisory_xact_lock(class, key)
# The category of a service-wide incident (and the prefix of "alert:<rule category>"): opened
# from outside the stream's rules (an alert in, an alert rule on the stream; apps.alerts), it
# covers its whole service, so every alarm of the service around its time joins it.
SERVICE_WIDE = "alert"
ALARMS_PER_TURN = 500
FILE_CHUNK = 256 * 1024


def _minutes(name: str, default: int) -> timedelta:
    return timedelta(minutes=getattr(settings, name, default))


def open_and_grow(now: datetime | None = None) -> list[int]:
    """Take every waiting alarm, then grow the incidents that cover less than they should.
    The ids of the incidents opened."""
    opened = []
    for pk in StreamAlarm.objects.values_list("pk", flat=True)[:ALARMS_PER_TURN]:
        with transaction.atomic():
            alarm = StreamAlarm.objects.select_for_update(skip_locked=True).filter(pk=pk).first()
            if alarm is None:  # taken by a concurrent drain
                continue
            stream_incident, created = take(alarm)
            if created:
                opened.append(stream_incident.incident_id)
    now = now or timezone.now()
    tail = _minutes("STREAM_INCIDENT_TAIL_MINUTES", 5)
    for stream_incident in StreamIncident.objects.filter(covered_until__lt=now):
        if stream_incident.covered_until < stream_incident.last_ts + tail:
            try:
                grow(stream_incident.pk, now)
            except ingestion.UploadRejected as exc:  # a quota: tried again next turn
                log.warning("stream incident %s not grown: %s", stream_incident.pk, exc)
    return opened


def lock_service(project_id: int, service: str) -> None:
    """Serialise opening and joining incidents of (project, service) until the transaction
    ends: the stream's alarms here, alerts in and alert rules in apps.alerts."""
    key = f"{connection.schema_name}:{project_id}:{service}"
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_advisory_xact_lock(%s, %s)", [LOCK_CLASS, zlib.crc32(key.encode()) >> 1]
        )


def take(alarm: StreamAlarm) -> tuple[StreamIncident, bool]:
    """Add the alarm to its open incident or open one; the alarm is deleted. In the caller's
    transaction. (stream incident, whether it was opened now)."""
    lock_service(alarm.project_id, alarm.service)
    window = _minutes("STREAM_INCIDENT_DEDUP_MINUTES", 30)
    service_wide = (
        (Q(category=SERVICE_WIDE) | Q(category__startswith=f"{SERVICE_WIDE}:"))
        & Q(first_ts__lte=alarm.last_ts + window)
        & ~Q(incident__status=Incident.Status.RESOLVED)
    )
    current = (
        StreamIncident.objects.select_for_update(of=("self",))
        .filter(
            Q(category=alarm.category) | service_wide,
            project_id=alarm.project_id,
            service=alarm.service,
            last_ts__gte=alarm.first_ts - window,
        )
        .order_by("-last_ts")
        .first()
    )
    created = current is None
    if current is None:
        incident = incidents.open_incident(
            project=alarm.project,
            title=_title(alarm),
            severity=(
                Incident.Severity.SEV2
                if alarm.severity == Severity.CRITICAL
                else Incident.Severity.SEV3
            ),
        )
        start = alarm.first_ts - _minutes("STREAM_INCIDENT_LEAD_MINUTES", 10)
        current = StreamIncident.objects.create(
            project_id=alarm.project_id,
            incident=incident,
            category=alarm.category,
            service=alarm.service,
            first_ts=alarm.first_ts,
            last_ts=alarm.last_ts,
            matches=alarm.count,
            range_start=start,
            covered_until=start,
        )
    else:
        current.first_ts = min(current.first_ts, alarm.first_ts)
        current.last_ts = max(current.last_ts, alarm.last_ts)
        current.matches += alarm.count
        current.save(update_fields=["first_ts", "last_ts", "matches"])
        widen(current.pk, alarm.first_ts - _minutes("STREAM_INCIDENT_LEAD_MINUTES", 10))
    alarm.delete()
    return current, created


def _title(alarm: StreamAlarm) -> str:
    where = f" in {alarm.service}" if alarm.service else ""
    return f"{alarm.title}{where} (stream)"[:200]


def grow(pk: int, now: datetime) -> bool:
    """Add the stream events of the range not yet covered as a source of the incident (at
    once for a new incident, then at most every STREAM_INCIDENT_GROW_SECONDS). Whether a
    source was added."""
    every = timedelta(seconds=getattr(settings, "STREAM_INCIDENT_GROW_SECONDS", 60))
    tail = _minutes("STREAM_INCIDENT_TAIL_MINUTES", 5)
    with transaction.atomic():
        current = (
            StreamIncident.objects.select_for_update(skip_locked=True)
            .select_related("incident")
            .filter(pk=pk)
            .first()
        )
        if current is None:
            return False
        end = min(now, current.last_ts + tail)
        if end <= current.covered_until:
            return False
        if current.grown_at is not None and now - current.grown_at < every:
            return False
        events = StreamEvent.objects.filter(
            project_id=current.project_id, ts__gte=current.covered_until, ts__lt=end
        )
        if events.exists():
            name = f"stream {current.covered_until:%Y-%m-%d %H%M%S} to {end:%H%M%S}.jsonl"
            upload = ingestion.Upload(name=name, chunks=_ndjson(events))
            ingestion.add_files(incident=current.incident, uploads=[upload])
        current.covered_until = end
        current.grown_at = now
        current.save(update_fields=["covered_until", "grown_at"])
    return True


def widen(pk: int, start: datetime) -> bool:
    """Let the incident's range begin at `start` when it begins later (something that joined
    it began earlier): the stream events from `start` to the old beginning become one more
    source. A quota refusal is logged and leaves the range as it was. Whether it widened."""
    try:
        with transaction.atomic():
            current = (
                StreamIncident.objects.select_for_update(of=("self",))
                .select_related("incident")
                .get(pk=pk)
            )
            if start >= current.range_start:
                return False
            if current.covered_until > current.range_start:  # grow() covers the rest
                events = StreamEvent.objects.filter(
                    project_id=current.project_id, ts__gte=start, ts__lt=current.range_start
                )
                if events.exists():
                    name = f"stream {start:%Y-%m-%d %H%M%S} to {current.range_start:%H%M%S}.jsonl"
                    upload = ingestion.Upload(name=name, chunks=_ndjson(events))
                    ingestion.add_files(incident=current.incident, uploads=[upload])
            else:
                current.covered_until = start
            current.range_start = start
            current.save(update_fields=["range_start", "covered_until"])
    except ingestion.UploadRejected as exc:
        log.warning("stream incident %s not widened: %s", pk, exc)
        return False
    return True


def _ndjson(events) -> Iterator[bytes]:
    """The events as JSON lines (time, level, service, host, trace and span ids, message, the
    record's attributes and resource kept structured), in time order, in chunks."""
    rows = events.order_by("ts", "batch_id", "seq").values_list(
        "ts",
        "level",
        "service",
        "host",
        "trace_id",
        "span_id",
        "message",
        "attributes",
        "resource",
    )
    out: list[str] = []
    size = 0
    for ts, level, service, host, trace, span, message, attributes, resource in rows.iterator(
        chunk_size=2000
    ):
        item = {"time": ts.isoformat(), "level": LEVELS[level] if level is not None else None}
        item.update(service=service, host=host or None, trace_id=trace or None)
        item.update(span_id=span or None, message=message)
        if attributes:
            item["attributes"] = attributes
        if resource:
            item["resource"] = resource
        line = json.dumps({k: v for k, v in item.items() if v is not None}) + "\n"
        out.append(line)
        size += len(line)
        if size >= FILE_CHUNK:
            yield "".join(out).encode()
            out, size = [], 0
    if out:
        yield "".join(out).encode()


class EmptyRange(Exception):
    """No stream events in the range asked for."""


MAX_RANGE = timedelta(days=1)


@transaction.atomic
def open_from_range(
    *, project, start: datetime, end: datetime, title: str = "", created_by=None
) -> Incident:
    """Open an incident from a range of the project's stream (selected on its histogram): the
    range's events become its first source through the upload path. Raises EmptyRange, and
    `ingestion.UploadRejected` when the tenant's upload quotas refuse it."""
    if not start < end or end - start > MAX_RANGE:
        raise ValueError("a range must end after it starts and span at most a day")
    events = StreamEvent.objects.filter(project_id=project.pk, ts__gte=start, ts__lt=end)
    if not events.exists():
        raise EmptyRange(f"no stream records from {start:%H:%M:%S} to {end:%H:%M:%S} UTC")
    incident = incidents.open_incident(
        project=project,
        title=title.strip()[:200] or f"Stream {start:%Y-%m-%d %H:%M} to {end:%H:%M} UTC",
        created_by=created_by,
    )
    name = f"stream {start:%Y-%m-%d %H%M%S} to {end:%H%M%S}.jsonl"
    ingestion.add_files(
        incident=incident, uploads=[ingestion.Upload(name=name, chunks=_ndjson(events))]
    )
    return incident
