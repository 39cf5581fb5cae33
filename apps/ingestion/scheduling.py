"""Fair queuing of ingest jobs across tenants.

django-q2 runs tasks first in, first out across all tenants, so a tenant that uploads 40 files
would delay another tenant's one file by all 40 jobs. Ingest jobs therefore do not go to
django-q2 when they are uploaded: `submit` records a ticket per job (public schema, in the
upload's transaction) and `dispatch` hands tickets over so that a tenant has at most
INGEST_TENANT_CONCURRENCY jobs in django-q2 (queued or running) at a time. The next ticket
comes from the tenant served least recently (round-robin); within a tenant, oldest first.

The bound this gives: django-q2 holds at most `concurrency` jobs per tenant, so a job of a
tenant with nothing else pending is handed over at once and waits behind at most
`concurrency` jobs of each other busy tenant, spread over the workers. One tenant flooding
against one other, with the defaults: 2 workers → it starts at once; 1 worker → it waits for
at most the flooder's job in progress.

`dispatch` runs (serialised by a PostgreSQL advisory lock) after every upload commits, after
every ingest job ends (apps.ingestion.tasks) and once a minute (the django-q2 schedule
`sweep`, created by migration tenants 0003, pointed here by tenants 0006). Each run first re-checks the tickets already
handed over: the ticket of a finished or deleted job is dropped; a job whose worker died
(heartbeat stale: apps.jobs.lifecycle's one rule) or whose task never reached a worker (still queued long after it was handed
over and, with the ORM broker, no longer in it: a task that failed before claiming its job, a
lost Redis message) is handed over again. Handing a job over twice is harmless: the job claims
itself by compare-and-set (apps.jobs.lifecycle) and a second delivery is skipped.
A ticket is deleted only once its job is terminal or gone, so no job is lost.
"""

from __future__ import annotations

import logging
from collections import Counter, defaultdict
from datetime import datetime, timedelta

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Count, Min
from django.utils import timezone
from django_q.models import OrmQ
from django_tenants.utils import get_public_schema_name, schema_context

from apps.ingestion.models import IngestJob
from apps.jobs import lifecycle
from apps.jobs.models import TERMINAL
from apps.tenants.jobs import send_tenant_task
from apps.tenants.models import IngestLane, IngestTicket, Tenant

log = logging.getLogger(__name__)

INGEST_TASK = "apps.ingestion.tasks.ingest"
SWEEP_NAME = "ingest-dispatch-sweep"  # the django-q2 schedule (migrations tenants 0003, 0006)
SWEEP_FUNC = "apps.ingestion.scheduling.sweep"
# A handed-over job still `queued` after this long lost its task: hand it over again
# (doubling each time, so a long legitimate django-q2 backlog does not fill with duplicates).
DISPATCH_STALE_SECONDS = 120
LOCK_CLASS = 0x41494F50  # pg_advisory_xact_lock(class, key) namespace: "AIOP"
DISPATCH_LOCK_KEY = 1


def submit(schema_name: str, job_ids: list[int]) -> None:
    """Record tickets for new ingest jobs (in the caller's transaction) and dispatch on commit."""
    if not job_ids:
        return
    tenant_id = Tenant.objects.values_list("pk", flat=True).get(schema_name=schema_name)
    IngestTicket.objects.bulk_create(
        [IngestTicket(tenant_id=tenant_id, job_id=job_id) for job_id in job_ids]
    )
    # robust: the upload has committed; a failed dispatch is retried by the next one or the sweep
    transaction.on_commit(dispatch, robust=True)


def job_ended(schema_name: str, job_id: int) -> None:
    """An ingest task returned or raised: drop its ticket if the job is over, dispatch the next."""
    if _job_is_over(schema_name, job_id):
        IngestTicket.objects.filter(tenant__schema_name=schema_name, job_id=job_id).delete()
    dispatch()


def sweep() -> int:
    """The once-a-minute django-q2 schedule: re-check handed-over tickets, dispatch."""
    return dispatch()


def dispatch() -> int:
    """Hand waiting tickets to django-q2 as far as each tenant's limit allows.

    Returns the number of tasks sent (new and re-sent).
    """
    concurrency = settings.INGEST_TENANT_CONCURRENCY
    with schema_context(get_public_schema_name()), transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s, %s)", [LOCK_CLASS, DISPATCH_LOCK_KEY])
        now = timezone.now()
        sent = _recheck_dispatched(now)
        in_flight = Counter(
            dict(
                IngestTicket.objects.filter(state=IngestTicket.State.DISPATCHED)
                .values("tenant_id")
                .annotate(n=Count("pk"))
                .values_list("tenant_id", "n")
            )
        )
        waiting = dict(
            IngestTicket.objects.filter(state=IngestTicket.State.WAITING)
            .values("tenant_id")
            .annotate(oldest=Min("created_at"))
            .values_list("tenant_id", "oldest")
        )
        served = dict(
            IngestLane.objects.filter(tenant_id__in=waiting).values_list("tenant_id", "served_at")
        )
        schemas = dict(Tenant.objects.filter(pk__in=waiting).values_list("pk", "schema_name"))
        never = datetime.min.replace(tzinfo=now.tzinfo)
        while True:
            open_lanes = [t for t in waiting if in_flight[t] < concurrency]
            if not open_lanes:
                break
            tenant_id = min(open_lanes, key=lambda t: (served.get(t, never), waiting[t], t))
            ticket = (
                IngestTicket.objects.filter(tenant_id=tenant_id, state=IngestTicket.State.WAITING)
                .order_by("created_at", "pk")
                .first()
            )
            if ticket is None:
                del waiting[tenant_id]
                continue
            if _job_is_over(schemas[tenant_id], ticket.job_id):
                ticket.delete()  # run directly (a test, a script) or deleted with its incident
                continue
            now = timezone.now()
            _hand_over(ticket, schemas[tenant_id], now)
            sent += 1
            in_flight[tenant_id] += 1
            served[tenant_id] = now
            IngestLane.objects.update_or_create(tenant_id=tenant_id, defaults={"served_at": now})
    return sent


def _hand_over(ticket: IngestTicket, schema_name: str, now: datetime) -> None:
    """Send the job to django-q2 and mark the ticket, in the dispatcher's transaction.

    Sent before commit on purpose: the job row is already committed, the ORM broker's message
    commits with the ticket, and with Redis a send whose transaction then fails only means
    one more delivery, which the job's claim turns into a no-op.
    """
    send_tenant_task(
        INGEST_TASK,
        ticket.job_id,
        schema_name=schema_name,
        task_name=f"ingest-{schema_name}-{ticket.job_id}-{ticket.dispatches + 1}",
    )
    IngestTicket.objects.filter(pk=ticket.pk).update(
        state=IngestTicket.State.DISPATCHED, dispatched_at=now, dispatches=ticket.dispatches + 1
    )
    ticket.dispatches += 1


def _recheck_dispatched(now: datetime) -> int:
    """Drop tickets of ended jobs; hand over again those whose worker or task was lost."""
    tickets = list(
        IngestTicket.objects.filter(state=IngestTicket.State.DISPATCHED).select_related("tenant")
    )
    by_schema: dict[str, list[IngestTicket]] = defaultdict(list)
    for ticket in tickets:
        by_schema[ticket.tenant.schema_name].append(ticket)
    resent = 0
    in_broker: set[tuple[str, int]] | None = None
    for schema_name, group in by_schema.items():
        with schema_context(schema_name):
            jobs = {
                pk: (status, heartbeat)
                for pk, status, heartbeat in IngestJob.objects.filter(
                    pk__in=[t.job_id for t in group]
                ).values_list("pk", "status", "heartbeat_at")
            }
        for ticket in group:
            status, heartbeat = jobs.get(ticket.job_id, (None, None))
            if status is None or status in TERMINAL:
                ticket.delete()
                continue
            if status == IngestJob.Status.RUNNING:
                lost = lifecycle.is_stale(heartbeat, now)
            else:  # queued: the task never reached a worker, or is still waiting for one
                backoff = DISPATCH_STALE_SECONDS * 2 ** min(ticket.dispatches - 1, 5)
                lost = ticket.dispatched_at < now - timedelta(seconds=backoff)
                if lost and in_broker is None:
                    in_broker = _ingest_tasks_in_broker()
                if lost and in_broker is not None:
                    lost = (schema_name, ticket.job_id) not in in_broker
            if lost:
                log.warning(
                    "ingest job %s in %s: %s, handing it over again",
                    ticket.job_id,
                    schema_name,
                    "worker lost" if status == IngestJob.Status.RUNNING else "task lost",
                )
                _hand_over(ticket, schema_name, now)
                resent += 1
    return resent


def _ingest_tasks_in_broker() -> set[tuple[str, int]] | None:
    """(schema, job id) of every ingest task the ORM broker still holds, waiting or taken by
    a worker (it deletes a message once the task ends); None with another broker (Redis),
    which cannot be asked: the time-out alone decides there."""
    if "orm" not in settings.Q_CLUSTER:
        return None
    held = set()
    for message in OrmQ.objects.only("payload"):
        task = message.task
        args = task.get("args") or ()
        if len(args) == 3 and args[1] == INGEST_TASK:  # run_tenant_task(schema, path, job_id)
            held.add((args[0], args[2]))
    return held


def _job_is_over(schema_name: str, job_id: int) -> bool:
    with schema_context(schema_name):
        status = IngestJob.objects.filter(pk=job_id).values_list("status", flat=True).first()
    return status is None or status in TERMINAL
