"""Background entry points (django-q2). Thin: the work is in delivery and services.

`deliver` is queued through `apps.tenants.jobs` (in the tenant's schema); `sweep` is the
once-a-minute schedule (public schema, migration alerts 0002) that, in every tenant, evaluates
the stream rules (error rate, deploy followed by errors), flushes alerts whose burst is over,
sends reminders and missed resolves, and re-sends retries that are due and deliveries whose
worker died.
"""

from __future__ import annotations

import logging

from django.db import connection
from django_tenants.utils import get_public_schema_name, get_tenant_model, schema_context

from aiops.outage import is_outage
from apps.alerts import delivery, services, stream_rules
from apps.tenants.jobs import send_tenant_task

log = logging.getLogger(__name__)


def deliver(notification_id: int) -> str:
    return delivery.deliver(notification_id)


def tick() -> int:
    """One turn in the current tenant's schema; the number of deliveries sent. A stream rule
    that fails is logged and never keeps the messages of this turn from going."""
    try:
        stream_rules.evaluate()
    except Exception as exc:
        if is_outage(exc):
            raise
        log.exception("alerts: stream rules of %s failed", connection.schema_name)
    services.flush_due()
    services.resolve_missed()
    due = services.due_notifications()
    for pk in due:
        send_tenant_task(services.DELIVER_TASK, pk, schema_name=connection.schema_name)
    return len(due)


def sweep() -> int:
    sent = 0
    tenants = get_tenant_model().objects.exclude(schema_name=get_public_schema_name())
    for schema_name in tenants.values_list("schema_name", flat=True):
        try:
            with schema_context(schema_name):
                sent += tick()
        except Exception:
            log.exception("alerts sweep failed for %s", schema_name)
    return sent
