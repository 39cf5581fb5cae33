"""Stream use cases: store a decoded batch in the tenant's spool, once."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime

from django.db import IntegrityError, connection, transaction

from apps.core.vocabulary import LEVEL_NUMBER
from apps.incidents.models import Project
from apps.streams.models import (
    DEFAULT_RETENTION_DAYS,
    SpoolBatch,
    SpoolRecord,
    StreamSettings,
)
from apps.streams.protocols import StreamRecord

RECORD_COLUMNS = (
    "batch_id", "seq", "ts", "observed_ts", "service", "level", "message", "attributes",
    "resource", "trace_id", "span_id", "truncated",
)  # fmt: skip
_encode_json = json.JSONEncoder(ensure_ascii=False, allow_nan=False).encode


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
    """Store `records` as one batch in the current tenant schema, in one transaction.

    When a batch with the same digest exists for the project, nothing is written and the
    stored batch is returned with `duplicate=True` (also when a concurrent request with the
    same body wins the race: the unique constraint decides).
    """
    existing = _existing(project_id, digest)
    if existing is not None:
        return existing
    try:
        with transaction.atomic():
            batch = SpoolBatch.objects.create(
                project_id=project_id,
                token_id=token_id,
                protocol=protocol,
                digest=digest,
                record_count=len(records),
                body_bytes=body_bytes,
                received_at=received_at,
            )
            _copy_records(batch.pk, records)
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


def _copy_records(batch_id: int, records: list[StreamRecord]) -> None:
    """COPY the batch's records into the spool (~5× faster than bulk_create per record)."""
    statement = f"COPY {SpoolRecord._meta.db_table} ({', '.join(RECORD_COLUMNS)}) FROM STDIN"
    dumps = _encode_json
    shared: tuple[object, str] = (None, "{}")  # records of a batch often share one resource
    with (
        connection.cursor() as cursor,
        connection.wrap_database_errors,
        cursor.cursor.copy(statement) as copy,
    ):
        write = copy.write_row
        for seq, record in enumerate(records):
            level = record.level
            if record.resource is not shared[0]:
                shared = (record.resource, dumps(record.resource) if record.resource else "{}")
            write(
                (
                    batch_id,
                    seq,
                    record.time,
                    record.observed_time,
                    record.service,
                    LEVEL_NUMBER.get(level) if level else None,
                    record.message,
                    dumps(record.attributes) if record.attributes else "{}",
                    shared[1],
                    record.trace_id,
                    record.span_id,
                    record.truncated,
                )
            )


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
