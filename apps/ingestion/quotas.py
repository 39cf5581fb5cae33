"""Per-tenant ingest quotas, checked at upload time (services.add_files).

INGEST_TENANT_MAX_QUEUED bounds a tenant's ingest jobs queued or running, and
INGEST_TENANT_STORAGE_BYTES the bytes of its stored uploads. Both are checked before anything
is stored (cheap, a clear early refusal), the storage one again while each file streams to
disk, and both once more at the end under a per-tenant advisory lock held until the upload
commits, so two concurrent uploads of one tenant cannot both slip under a limit.
All queries run in the current tenant schema.
"""

from __future__ import annotations

from django.conf import settings
from django.db import connection
from django.db.models import Sum

from apps.ingestion.logparse.limits import human_bytes
from apps.ingestion.models import IngestJob, StoredFile

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
