"""Per-tenant limits on streamed records, answered the way shippers understand.

- **Rate and burst** (429 + Retry-After): a token bucket per tenant in PostgreSQL (public
  schema, `QuotaBucket`), refilled at STREAM_TENANT_RATE records per second up to
  STREAM_TENANT_BURST. A request takes as many tokens as it carries records (a request larger
  than the burst takes the whole burst). One statement per request, so every web process and
  the syslog listener share one bucket; the row lock serialises one tenant's requests only.
  After a refusal, the process refuses that tenant again before reading the body until the
  bucket may have refilled what was missing (at most REFUSED_HOLD_SECONDS): a tenant that
  floods without waiting for Retry-After costs one token lookup per request, not a decode,
  so other tenants' latency stays flat.
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
REFUSED_HOLD_SECONDS = 1.0
_backlog_cache: dict[str, tuple[float, int]] = {}
_refused: dict[int, tuple[float, Refusal]] = {}  # tenant → (refused until, the refusal)

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
    missing = max(params["n"] - available, 1.0)
    refusal = Refusal(
        429,
        min(max(math.ceil(missing / rate), 1), MAX_RETRY_AFTER),
        f"over the tenant's quota of {rate:.0f} records/s (burst {burst:.0f}); retry later",
    )
    _refused[tenant_id] = (time.monotonic() + min(missing / rate, REFUSED_HOLD_SECONDS), refusal)
    return refusal


def refused_recently(tenant_id: int) -> Refusal | None:
    """The tenant's last refusal while its bucket cannot have refilled (this process only):
    checked before the body is read."""
    held = _refused.get(tenant_id)
    if held is None:
        return None
    if time.monotonic() >= held[0]:
        del _refused[tenant_id]
        return None
    return held[1]


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
