"""Stream use cases: store a decoded batch in the tenant's spool, once."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime

from django.db import IntegrityError

from apps.incidents.models import Project
from apps.streams import spool
from apps.streams.models import DEFAULT_RETENTION_DAYS, SpoolBatch, StreamSettings
from apps.streams.protocols import StreamRecord


class ProjectGone(Exception):
    """The token's project no longer exists in its tenant's schema."""


@dataclass(frozen=True, slots=True)
class Spooled:
    batch_id: int
    records: int
    duplicate: bool  # the same batch was stored before: nothing new was written


def batch_digest(protocol: str, scope: str, body: bytes) -> str:
    """Identity of a request's content: a retry of the same body to the same place matches."""
    digest = hashlib.sha256()
    for part in (protocol.encode(), scope.encode("utf-8", "replace"), body):
        digest.update(len(part).to_bytes(8, "big"))
        digest.update(part)
    return digest.hexdigest()


def spool_batch(
    *,
    project_id: int,
    token_id: int | None,
    protocol: str,
    digest: str,
    body_bytes: int,
    records: list[StreamRecord],
    received_at: datetime,
) -> Spooled:
    """Store `records` as one batch (one row, the records packed: apps.streams.spool) in the
    current tenant schema; committed when this returns.

    When a batch with the same digest exists for the project, nothing is written and the
    stored batch is returned with `duplicate=True` (also when a concurrent request with the
    same body wins the race: the unique constraint decides). `Malformed` if a record cannot
    be stored (nothing is written).
    """
    existing = _existing(project_id, digest)
    if existing is not None:
        return existing
    payload = spool.pack(records)
    try:  # one INSERT: atomic on its own (no BEGIN/COMMIT round trips around it)
        batch = SpoolBatch.objects.create(
            project_id=project_id,
            token_id=token_id,
            protocol=protocol,
            digest=digest,
            record_count=len(records),
            body_bytes=body_bytes,
            received_at=received_at,
            payload=payload,
        )
    except IntegrityError:
        existing = _existing(project_id, digest)
        if existing is not None:
            return existing
        if not Project.objects.filter(pk=project_id).exists():
            raise ProjectGone(project_id) from None
        raise
    return Spooled(batch_id=batch.pk, records=len(records), duplicate=False)


def _existing(project_id: int, digest: str) -> Spooled | None:
    row = (
        SpoolBatch.objects.filter(project_id=project_id, digest=digest)
        .values_list("pk", "record_count")
        .first()
    )
    return Spooled(batch_id=row[0], records=row[1], duplicate=True) if row else None


RETENTION_DAYS_MAX = 365


def retention_days(project: Project) -> int:
    """How many days of the project's stream are kept (partitions older are dropped daily)."""
    row = StreamSettings.objects.filter(project=project).values_list("retention_days").first()
    return row[0] if row else DEFAULT_RETENTION_DAYS


def set_retention(*, project: Project, days: int) -> StreamSettings:
    """Keep `days` (1..RETENTION_DAYS_MAX) of the project's stream; the daily retention job
    (partitions.sweep) drops the day partitions past it."""
    if not 1 <= days <= RETENTION_DAYS_MAX:
        raise ValueError(f"retention must be 1 to {RETENTION_DAYS_MAX} days")
    row, _ = StreamSettings.objects.update_or_create(
        project=project, defaults={"retention_days": days}
    )
    return row
