"""Per-tenant ingest quotas, checked at upload time (services.add_files).

INGEST_TENANT_MAX_QUEUED bounds a tenant's ingest jobs queued or running,
INGEST_TENANT_STORAGE_BYTES the bytes of its stored uploads, and INGEST_TENANT_MAX_EVENTS the
events it stores (what its database takes: a small gzip can hold millions of lines). Both are checked before anything
is stored (cheap, a clear early refusal), the storage one again while each file streams to
disk, and both once more at the end under a per-tenant advisory lock held until the upload
commits, so two concurrent uploads of one tenant cannot both slip under a limit.
All queries run in the current tenant schema.

The event count is a running counter, not a COUNT(*): each finished source keeps its
`event_count`, and a running job its `events_done`, so `stored_events()` adds up one row per
source and per running job. The job itself checks its own rows against the room it had when it
started, per batch, in memory (jobs._write), and stops before passing the quota.
"""

from __future__ import annotations

from django.conf import settings
from django.db import connection
from django.db.models import Sum

from apps.core.logparse.limits import human_bytes
from apps.ingestion.models import IngestJob, Source, StoredFile

LOCK_CLASS = 0x41494F51  # pg_advisory_xact_lock(class, key) namespace for per-tenant locks


def lock_tenant() -> None:
    """Serialise the quota check of this tenant's uploads until the transaction ends."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_advisory_xact_lock(%s, hashtext(%s))", [LOCK_CLASS, connection.schema_name]
        )


def pending_jobs() -> int:
    return IngestJob.objects.filter(
        status__in=(IngestJob.Status.QUEUED, IngestJob.Status.RUNNING)
    ).count()


def stored_bytes() -> int:
    return StoredFile.objects.aggregate(total=Sum("size"))["total"] or 0


def queue_refusal(new_jobs: int, *, pending: int | None = None) -> str | None:
    """Why `new_jobs` more jobs would exceed the tenant's queue, or None."""
    limit = settings.INGEST_TENANT_MAX_QUEUED
    pending = pending_jobs() if pending is None else pending
    if pending + new_jobs <= limit:
        return None
    return (
        f"Your team has {pending} file(s) waiting for or in ingestion and may queue at most "
        f"{limit}; this upload adds {new_jobs}. Try again when some have finished."
    )


def storage_room() -> int:
    """Bytes this tenant may still store (never negative)."""
    return max(settings.INGEST_TENANT_STORAGE_BYTES - stored_bytes(), 0)


def storage_refusal(name: str, *, in_use: int) -> str:
    limit = settings.INGEST_TENANT_STORAGE_BYTES
    return (
        f"{name}: this upload would take your team's stored logs past its "
        f"{human_bytes(limit)} quota ({human_bytes(in_use)} in use). "
        "Delete old sources or incidents first."
    )


def stored_events() -> int:
    """Events this tenant stores: its finished sources' counts plus its running jobs' rows."""
    done = Source.objects.filter(status=Source.Status.DONE).aggregate(n=Sum("event_count"))["n"]
    running = IngestJob.objects.filter(status=IngestJob.Status.RUNNING).aggregate(
        n=Sum("events_done")
    )["n"]
    return (done or 0) + (running or 0)


def event_room(*, exclude_job: int | None = None) -> int:
    """Events this tenant may still store (never negative); `exclude_job`: the caller's own."""
    in_use = stored_events()
    if exclude_job is not None:
        mine = IngestJob.objects.filter(pk=exclude_job, status=IngestJob.Status.RUNNING)
        in_use -= mine.values_list("events_done", flat=True).first() or 0
    return max(settings.INGEST_TENANT_MAX_EVENTS - in_use, 0)


def events_refusal(*, in_use: int | None = None) -> str | None:
    """Why an upload is refused because the tenant's event quota is used up, or None."""
    limit = settings.INGEST_TENANT_MAX_EVENTS
    in_use = stored_events() if in_use is None else in_use
    if in_use < limit:
        return None
    return (
        f"Your team stores {in_use:,} log events, its event quota is {limit:,}. "
        "Delete old incidents or sources first."
    )


def events_stop_reason(name: str) -> str:
    """The reason a running job gives when its next rows would pass the event quota."""
    return (
        f"{name}: stopped, storing it would pass your team's event quota of "
        f"{settings.INGEST_TENANT_MAX_EVENTS:,} events; what it had stored was removed. "
        "Delete old incidents or sources, then upload it again."
    )
