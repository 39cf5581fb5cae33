"""The stream table's partitions: made before the drain writes, dropped by retention.

`streams_event` (migration 0002) is partitioned by project (LIST), and each project's partition
by day of reception (RANGE on `received_at`, UTC days):

    streams_event
      └─ streams_event_p12                 project 12
           ├─ streams_event_p12_20261206   records received on 2026-12-06
           └─ streams_event_p12_20261207

Retention is per project (`StreamSettings.retention_days`, default 7): the daily sweep drops
the day partitions older than that, which costs nothing like deleting rows. Partitioning by
reception, not by the records' own time, means a record with a wrong clock still lands in
today's partition and leaves with it.
"""

from __future__ import annotations

import logging
import re
from datetime import UTC, date, datetime, timedelta

from django.db import ProgrammingError, connection, transaction
from django_tenants.utils import get_tenant_model, schema_context

from apps.incidents.models import Project
from apps.streams.models import DEFAULT_RETENTION_DAYS, StreamSettings

log = logging.getLogger(__name__)

_DAY_PARTITION = re.compile(r"^streams_event_p(\d+)_(\d{8})$")


def day_of(moment: datetime) -> date:
    return moment.astimezone(UTC).date()


def ensure(project_id: int, day: date) -> None:
    """Make the project's partition and its partition for `day`, unless they exist.

    Always asks PostgreSQL (one name lookup per drain unit; `CREATE … IF NOT EXISTS` only when
    the day's partition is missing): a per-process memory of partitions made went stale when a
    schema or partition was dropped elsewhere or a creating transaction rolled back, and the
    drain then wrote into nothing."""
    parent = f"streams_event_p{int(project_id)}"
    child = f"{parent}_{day:%Y%m%d}"
    with connection.cursor() as cursor:  # the day's partition exists only under its parent
        cursor.execute("SELECT to_regclass(%s) IS NOT NULL", [child])
        if cursor.fetchone()[0]:
            return
    start = datetime(day.year, day.month, day.day, tzinfo=UTC)
    statements = [
        f"CREATE TABLE IF NOT EXISTS {parent} PARTITION OF streams_event "
        f"FOR VALUES IN ({int(project_id)}) PARTITION BY RANGE (received_at)",
        f"CREATE TABLE IF NOT EXISTS {child} PARTITION OF {parent} "
        f"FOR VALUES FROM ('{start.isoformat()}') TO ('{(start + timedelta(days=1)).isoformat()}')",
    ]
    for statement in statements:
        try:
            with transaction.atomic(), connection.cursor() as cursor:
                cursor.execute(statement)
        except ProgrammingError as exc:  # made by a concurrent drain between check and create
            if getattr(exc.__cause__, "sqlstate", None) != "42P07":  # duplicate_table
                raise


def day_partitions() -> list[tuple[int, date, str]]:
    """(project id, day, table name) of every day partition in the current schema."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE n.nspname = current_schema() AND c.relname LIKE 'streams\\_event\\_p%%\\_%%'"
        )
        names = [name for (name,) in cursor.fetchall()]
    out = []
    for name in names:
        if match := _DAY_PARTITION.match(name):
            day = datetime.strptime(match[2], "%Y%m%d").replace(tzinfo=UTC).date()
            out.append((int(match[1]), day, name))
    return sorted(out)


def drop_expired(today: date | None = None) -> list[str]:
    """Drop, in the current schema, day partitions past their project's retention (and the
    partitions of deleted projects); the names dropped."""
    today = today or day_of(datetime.now(UTC))
    retention = dict(StreamSettings.objects.values_list("project_id", "retention_days"))
    projects = set(Project.objects.values_list("pk", flat=True))
    dropped = []
    for project_id, day, name in day_partitions():
        keep = retention.get(project_id, DEFAULT_RETENTION_DAYS)
        if project_id in projects and day > today - timedelta(days=keep):
            continue
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(f"DROP TABLE IF EXISTS {name}")
        dropped.append(name)
    return dropped


def sweep() -> int:
    """The daily django-q2 schedule: retention in every tenant schema; partitions dropped."""
    dropped = 0
    for schema_name in (
        get_tenant_model()
        .objects.exclude(schema_name="public")
        .values_list("schema_name", flat=True)
    ):
        try:
            with schema_context(schema_name):
                dropped += len(drop_expired())
        except Exception:
            log.exception("stream retention failed in %s", schema_name)
    return dropped
