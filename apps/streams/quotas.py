"""Per-tenant limits on streamed records, answered the way shippers understand.

- **Rate and burst** (429 + Retry-After): a token bucket per tenant in PostgreSQL (public
  schema, `QuotaBucket`), refilled at STREAM_TENANT_RATE records per second up to
  STREAM_TENANT_BURST. A request takes as many tokens as it carries records (a request larger
  than the burst takes the whole burst). One statement per request, so every web process and
  the syslog listener share one bucket; the row lock serialises one tenant's requests only.
- **Overload** (503 + Retry-After): the tenant's spool holds more than STREAM_MAX_BACKLOG
  records not yet drained. Checked before the body is read, from a count cached
  BACKLOG_CACHE_SECONDS per process, so a backed-up tenant costs little to refuse.

Retry-After stays within what the OpenTelemetry exporters wait for (they drop a batch whose
Retry-After passes their remaining timeout, 10 s by default).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

from django.conf import settings
from django.db import connection
from django.db.models import Sum
from django_tenants.utils import get_public_schema_name, schema_context

from apps.jobs.models import JobStatus
from apps.streams.models import SpoolBatch

BACKLOG_CACHE_SECONDS = 1.0
MAX_RETRY_AFTER = 10
_backlog_cache: dict[str, tuple[float, int]] = {}

_TAKE = """
INSERT INTO stream_tokens_quotabucket AS b (tenant_id, tokens, updated_at)
VALUES (%(tenant)s, %(burst)s - %(n)s, clock_timestamp())
ON CONFLICT (tenant_id) DO UPDATE SET
    tokens = LEAST(%(burst)s, b.tokens
        + GREATEST(EXTRACT(EPOCH FROM clock_timestamp() - b.updated_at), 0) * %(rate)s) - %(n)s,
    updated_at = clock_timestamp()
WHERE LEAST(%(burst)s, b.tokens
        + GREATEST(EXTRACT(EPOCH FROM clock_timestamp() - b.updated_at), 0) * %(rate)s) >= %(n)s
RETURNING tokens
"""
_AVAILABLE = """
SELECT LEAST(%(burst)s, tokens
    + GREATEST(EXTRACT(EPOCH FROM clock_timestamp() - updated_at), 0) * %(rate)s)
FROM stream_tokens_quotabucket WHERE tenant_id = %(tenant)s
"""


@dataclass(frozen=True, slots=True)
class Refusal:
    status: int  # 429 or 503
    retry_after: int  # seconds
    reason: str


def take(tenant_id: int, records: int) -> Refusal | None:
    """Take `records` from the tenant's bucket; a 429 refusal when it holds too few."""
    rate = float(settings.STREAM_TENANT_RATE)
    burst = float(settings.STREAM_TENANT_BURST)
    params = {"tenant": tenant_id, "burst": burst, "rate": rate, "n": float(min(records, burst))}
    with schema_context(get_public_schema_name()), connection.cursor() as cursor:
        cursor.execute(_TAKE, params)
        if cursor.fetchone() is not None:
            return None
        cursor.execute(_AVAILABLE, params)
        row = cursor.fetchone()
    available = float(row[0]) if row else 0.0
    wait = math.ceil(max(params["n"] - available, 1.0) / rate)
    return Refusal(
        429,
        min(max(wait, 1), MAX_RETRY_AFTER),
        f"over the tenant's quota of {rate:.0f} records/s (burst {burst:.0f}); retry later",
    )


def overloaded() -> Refusal | None:
    """A 503 refusal when the current tenant's spool backlog is over STREAM_MAX_BACKLOG."""
    bound = settings.STREAM_MAX_BACKLOG
    if backlog() <= bound:
        return None
    return Refusal(
        503,
        settings.STREAM_OVERLOAD_RETRY_AFTER,
        f"more than {bound} records are waiting to be processed; retry later",
    )


def backlog() -> int:
    """Records spooled and not yet drained in the current tenant schema (cached briefly)."""
    schema = connection.schema_name
    now = time.monotonic()
    cached = _backlog_cache.get(schema)
    if cached is not None and now - cached[0] < BACKLOG_CACHE_SECONDS:
        return cached[1]
    waiting = SpoolBatch.objects.filter(status__in=[JobStatus.QUEUED, JobStatus.RUNNING])
    count = waiting.aggregate(n=Sum("record_count"))["n"] or 0
    _backlog_cache[schema] = (now, count)
    return count
