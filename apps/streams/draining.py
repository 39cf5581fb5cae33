"""The drain: spooled batches → parse, group, rules (apps.ingestion.records) → the stream.

Each spooled batch is a job row (apps.jobs): a drain claims some batches of one project by
compare-and-set (queued, or running with a stale heartbeat: lifecycle's one rule), runs their
records (unpacked from the batch's spool payload) through the ingestion path and, in **one
transaction**, inserts them into the project's stream (`streams_event`), stores the alarms of rules of severity error or worse, and finishes
the batches `done` while still holding their claims. A re-delivered or concurrent drain finds
them done (or loses the claim and rolls back), so a record is stored once: natural key
(batch, seq). A batch that fails on its own ends `failed` with the reason; attempts are
bounded by Q_CLUSTER["max_attempts"].

Fair across tenants: a tenant has at most one drain task in django-q2 (its `DrainLane`, public
schema). The receiver kicks the lane after a batch commits; a drain works for DRAIN_TURN_SECONDS
then, with work left, sends itself again to the back of the queue (round robin with the other
tenants' drains and jobs), else deletes the lane. The once-a-minute `sweep` re-sends a lane
whose task was lost and kicks tenants with batches waiting and no lane.
"""

from __future__ import annotations

import logging
import time
from datetime import datetime, timedelta

from django.conf import settings
from django.db import connection, transaction
from django.db.models import F
from django.utils import timezone
from django_q.models import OrmQ
from django_tenants.utils import get_public_schema_name, get_tenant_model, schema_context

from aiops.outage import is_outage
from apps.core.rules.catalogue import Catalogue
from apps.core.vocabulary import LEVELS, Severity
from apps.incidents.models import Project
from apps.ingestion import hooks
from apps.ingestion.records import NormalisedRecord, RecordsRun
from apps.ingestion.tokens.models import DrainLane
from apps.jobs import lifecycle
from apps.jobs.models import JobStatus
from apps.streams import incidents, partitions, spool
from apps.streams.models import SpoolBatch, StreamAlarm
from apps.tenants.jobs import send_tenant_task

log = logging.getLogger(__name__)

DRAIN_TASK = "apps.streams.draining.drain"
DRAIN_TURN_SECONDS = 5.0  # a drain's turn before it goes to the back of the queue
SLICE_RECORDS = 20_000  # records per unit of work (one transaction)
SLICE_BATCHES = 500
# A unit of work costs ~30 queries and a load and save of the project's miner whatever its
# size: after a unit smaller than GATHER_BELOW records the drain waits GATHER_SECONDS for more
# batches to arrive, so a steady stream is drained in fewer, larger units (a record becomes
# searchable at most that much later).
GATHER_BELOW = 5_000
GATHER_SECONDS = 0.25
LANE_LOST_SECONDS = 120  # a lane's task not seen for this long is sent again


class ClaimLost(Exception):
    """A later delivery took one of the batches over: this unit of work rolls back."""


# ----------------------------------------------------------------------------- the lane


def kick(tenant_id: int, schema_name: str) -> bool:
    """After a batch committed: send the tenant's drain unless one is in the queue already."""
    with schema_context(get_public_schema_name()), connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO stream_tokens_drainlane (tenant_id, dispatched_at) VALUES (%s, now()) "
            "ON CONFLICT (tenant_id) DO NOTHING RETURNING tenant_id",
            [tenant_id],
        )
        inserted = cursor.fetchone() is not None
    if inserted:
        _send(schema_name)
    return inserted


def _send(schema_name: str) -> None:
    send_tenant_task(DRAIN_TASK, schema_name=schema_name, task_name=f"drain-{schema_name}")


def _next_turn(schema_name: str) -> None:
    """End of a drain's turn: go again (to the back of the queue) or leave the lane."""
    tenant_id = get_tenant_model().objects.values_list("pk", flat=True).get(schema_name=schema_name)
    if pending():
        with schema_context(get_public_schema_name()):
            DrainLane.objects.update_or_create(
                tenant_id=tenant_id, defaults={"dispatched_at": timezone.now()}
            )
        _send(schema_name)
        return
    with schema_context(get_public_schema_name()):
        DrainLane.objects.filter(tenant_id=tenant_id).delete()
    if pending():  # a batch committed after the check above found the lane still there
        kick(tenant_id, schema_name)


def pending() -> bool:
    """Batches in the current schema that a drain may claim now."""
    return SpoolBatch.objects.filter(lifecycle.claimable(timezone.now())).exists()


def sweep() -> int:
    """The once-a-minute schedule (public schema): lanes whose task was lost are sent again,
    tenants with waiting batches and no lane are kicked. The number of drains sent."""
    sent = 0
    now = timezone.now()
    in_broker = _drains_in_broker(now)
    lanes = dict(DrainLane.objects.values_list("tenant_id", "dispatched_at"))
    for tenant_id, schema_name in (
        get_tenant_model()
        .objects.exclude(schema_name=get_public_schema_name())
        .values_list("pk", "schema_name")
    ):
        try:
            if tenant_id in lanes:
                lost = lanes[tenant_id] < now - timedelta(seconds=LANE_LOST_SECONDS)
                if lost and (in_broker is None or schema_name not in in_broker):
                    DrainLane.objects.filter(tenant_id=tenant_id).update(dispatched_at=now)
                    _send(schema_name)
                    sent += 1
                continue
            with schema_context(schema_name):
                waiting = pending()
            if waiting and kick(tenant_id, schema_name):
                sent += 1
        except Exception:
            log.exception("stream drain sweep failed for %s", schema_name)
    return sent


def _drains_in_broker(now: datetime) -> set[str] | None:
    """Schemas with a live drain task in the ORM broker; None with Redis (cannot be asked).

    A message a worker took (its `lock` moved to take time + Q_CLUSTER["retry"]) more than
    LANE_LOST_SECONDS ago belongs to a worker that died (a turn lasts DRAIN_TURN_SECONDS), or
    to a task whose acknowledgement was lost with the database: it is deleted, so the lane is
    sent again now rather than when django-q2 would deliver it again (retry, ~35 min)."""
    if "orm" not in settings.Q_CLUSTER:
        return None
    retry = timedelta(seconds=settings.Q_CLUSTER["retry"])
    lost_before = now - timedelta(seconds=LANE_LOST_SECONDS)
    held = set()
    for message in OrmQ.objects.only("payload", "lock"):
        args = message.task.get("args") or ()
        if len(args) < 2 or args[1] != DRAIN_TASK:
            continue
        if message.lock > now and message.lock - retry < lost_before:
            OrmQ.objects.filter(pk=message.pk, lock=message.lock).delete()
            log.warning("stream drain of %s: its task was taken and lost; sent again", args[0])
            continue
        held.add(args[0])
    return held


# ----------------------------------------------------------------------------- the task


def drain() -> int:
    """The drain task (in the tenant's schema): work for one turn, open or grow incidents,
    then take the next turn or leave the lane. The number of records stored."""
    schema_name = connection.schema_name
    stored = 0
    try:
        deadline = time.monotonic() + DRAIN_TURN_SECONDS
        catalogue = hooks.catalogue()  # once a turn: building the rules costs ~0.1 s
        while time.monotonic() < deadline:
            done = drain_once(catalogue)
            stored += done
            if not done and not pending():
                break
            if done < GATHER_BELOW:
                time.sleep(GATHER_SECONDS)
        incidents.open_and_grow()
    finally:
        try:
            _next_turn(schema_name)
        except Exception:
            log.exception("stream drain of %s: could not take the next turn", schema_name)
    return stored


def drain_once(catalogue: Catalogue | None = None) -> int:
    """One unit of work: claim the oldest waiting batches of one project (up to SLICE_RECORDS
    records), process and store them. The number of records stored (0: nothing waiting)."""
    now = timezone.now()
    candidates = list(
        SpoolBatch.objects.filter(lifecycle.claimable(now))
        .order_by("received_at", "pk")
        .values_list("pk", "project_id", "record_count")[:SLICE_BATCHES]
    )
    if not candidates:
        return 0
    project_id = candidates[0][1]
    chosen, total = [], 0
    for pk, owner, count in candidates:
        if owner != project_id:
            continue
        if chosen and total + count > SLICE_RECORDS:
            break
        chosen.append(pk)
        total += count
    claims = claim_batches(chosen, now)
    if not claims:
        return 0
    limit = lifecycle.max_attempts()
    for claim in [c for c in claims if c.attempts > limit]:
        lifecycle.fail(claim, f"gave up after {limit} attempts")
        claims.remove(claim)
    project = Project.objects.filter(pk=project_id).first()
    if project is None:  # deleted with its project: the cascade takes the batches too
        return 0
    try:
        return store(project, claims, catalogue)
    except Exception as exc:
        if is_outage(exc) or len(claims) == 1:
            _fail_or_raise(claims, exc)
            return 0
    # one of them is poison: each on its own, so the others get through
    stored = 0
    for claim in claims:
        try:
            stored += store(project, [claim], catalogue)
        except Exception as exc:
            _fail_or_raise([claim], exc)
    return stored


def _fail_or_raise(claims: list[lifecycle.Claim], exc: Exception) -> None:
    if is_outage(exc):
        raise exc  # the rows stay running; their heartbeat goes stale and a drain resumes
    if isinstance(exc, ClaimLost):
        return
    log.error("stream batch %s failed: %s", [c.pk for c in claims], exc, exc_info=exc)
    for claim in claims:
        lifecycle.fail(claim, f"{type(exc).__name__}: {exc}")


def claim_batches(pks: list[int], now: datetime) -> list[lifecycle.Claim]:
    """Claim the claimable ones of `pks` in one compare-and-set (lifecycle.claim's rule)."""
    SpoolBatch.objects.filter(pk__in=pks).filter(lifecycle.claimable(now)).update(
        status=JobStatus.RUNNING, attempts=F("attempts") + 1, claimed_at=now, heartbeat_at=now
    )
    held = SpoolBatch.objects.filter(pk__in=pks, status=JobStatus.RUNNING, claimed_at=now)
    return [
        lifecycle.Claim(SpoolBatch, pk, now, attempts)
        for pk, attempts in held.order_by("received_at", "pk").values_list("pk", "attempts")
    ]


def store(
    project: Project, claims: list[lifecycle.Claim], catalogue: Catalogue | None = None
) -> int:
    """Process the claimed batches' records and store them with their batches' outcome."""
    pks = [claim.pk for claim in claims]
    batches = SpoolBatch.objects.filter(pk__in=pks).order_by("pk")
    received, records, unpacked = {}, [], []
    for pk, received_at, payload in batches.values_list("pk", "received_at", "payload"):
        received[pk] = received_at
        unpacked.append((pk, *_unpacked(pk, payload, records)))
    for day in {partitions.day_of(moment) for moment in received.values()}:
        partitions.ensure(project.pk, day)
    with RecordsRun.open(project, catalogue) as run:
        grouped, findings = run.process(records)
        now = timezone.now()
        with transaction.atomic():
            # finished first, while the claims hold: the rows stay locked to commit, so a
            # delivery that lost its claim writes nothing
            finished = SpoolBatch.objects.filter(
                pk__in=pks, status=JobStatus.RUNNING, claimed_at=claims[0].claimed_at
            ).update(status=JobStatus.DONE, finished_at=now, processed_at=now, error="")
            if finished != len(claims):
                raise ClaimLost(pks)
            _insert(project.pk, received, unpacked, grouped)
            _note_templates(project.pk, records, grouped)
            StreamAlarm.objects.bulk_create(alarms(project, findings, now))
    return len(records)


def _unpacked(batch_id: int, payload, records: list) -> tuple[str, str, str, int]:
    """Append a batch's records, as ingestion takes them, to `records`; its JSON document,
    its resources and their hosts (JSON arrays) and how many records it has."""
    if payload is None:
        raise ValueError(f"batch {batch_id} has no payload (drained before migration 0004)")
    text = spool.text_of(payload)
    resources, packed = spool.parse(text)
    hosts = [spool.host_of(resource) for resource in resources]
    moment, append = spool.moment, records.append
    for ts, observed, service, level, message, attributes, resource, trace, span, cut in packed:
        append(
            NormalisedRecord(
                ts=moment(observed if ts is None else ts),
                level=LEVELS[level] if level is not None else None,
                service=service,
                message=message,
                attributes=attributes,
                host=hosts[resource],
                trace_id=trace,
                span_id=span,
                truncated=cut,
            )
        )
    return text, spool.dumps(resources), spool.dumps(hosts), len(packed)


# A batch's records into the stream in one statement: PostgreSQL reads them from the spool's
# JSON document itself (attributes and resources go into jsonb without a trip through Python
# text), zipped with the template and group of each (spool.py's record positions).
INSERT_BATCH = """
INSERT INTO streams_event (project_id, received_at, batch_id, seq, ts, level, service, host,
                           trace_id, span_id, message, attributes, resource, template_id,
                           group_id, truncated)
SELECT %(project)s, %(received)s, %(batch)s, r.n - 1,
       to_timestamp(t.us / 1000000) + (t.us %% 1000000) * interval '1 microsecond',
       (r.rec->>3)::smallint, r.rec->>2, s.host, r.rec->>7, r.rec->>8, r.rec->>4,
       NULLIF(r.rec->5, '{}'::jsonb), s.resource, r.template_id, r.group_id,
       (r.rec->>9)::boolean
FROM ROWS FROM (jsonb_array_elements(%(records)s::jsonb->'records'),
                jsonb_array_elements_text(%(templates)s::jsonb),
                jsonb_array_elements_text(%(groups)s::jsonb))
         WITH ORDINALITY AS r(rec, template_id, group_id, n)
     LEFT JOIN (SELECT n - 1 AS i, NULLIF(resource, '{}'::jsonb) AS resource, host
           FROM ROWS FROM (jsonb_array_elements(%(resources)s::jsonb),
                           jsonb_array_elements_text(%(hosts)s::jsonb))
               WITH ORDINALITY AS x(resource, host, n)) AS s ON s.i = (r.rec->>6)::int,
     LATERAL (SELECT coalesce(r.rec->>0, r.rec->>1)::bigint AS us) AS t
"""


def _insert(project_id: int, received: dict, unpacked: list, grouped: list) -> None:
    """Store the batches' records in the stream (the partition of their project and day of
    receipt), one statement per batch."""
    start = 0
    with connection.cursor() as cursor:
        for batch_id, text, resources, hosts, count in unpacked:
            items = grouped[start : start + count]
            start += count
            cursor.execute(
                INSERT_BATCH,
                {
                    "project": project_id,
                    "received": received[batch_id],
                    "batch": batch_id,
                    "records": text,
                    "resources": resources,
                    "hosts": hosts,
                    "templates": spool.dumps([item.match.template_id for item in items]),
                    "groups": spool.dumps([item.group for item in items]),
                },
            )
            if cursor.rowcount != count:  # never silently short: the unit rolls back
                raise ValueError(f"batch {batch_id}: {cursor.rowcount} of {count} rows stored")


# one row per template of a batch: first and last time, count (history.py reads it)
NOTE_TEMPLATES = """
INSERT INTO streams_streamtemplate (project_id, template_id, first_seen, last_seen, count)
SELECT %s, t, f, l, n FROM unnest(%s::text[], %s::timestamptz[], %s::timestamptz[], %s::bigint[])
    AS b(t, f, l, n)
ON CONFLICT (project_id, template_id) DO UPDATE SET
    first_seen = LEAST(streams_streamtemplate.first_seen, EXCLUDED.first_seen),
    last_seen = GREATEST(streams_streamtemplate.last_seen, EXCLUDED.last_seen),
    count = streams_streamtemplate.count + EXCLUDED.count
"""


def _note_templates(project_id: int, records, grouped) -> None:
    """Upsert when the stream showed each of this batch's templates (one statement)."""
    seen: dict[str, list] = {}
    for record, item in zip(records, grouped, strict=True):
        tid, ts = item.match.template_id, record.ts
        row = seen.get(tid)
        if row is None:
            seen[tid] = [ts, ts, 1]
        else:
            row[0], row[1], row[2] = min(row[0], ts), max(row[1], ts), row[2] + 1
    if not seen:
        return
    tids = sorted(seen)  # one lock order for concurrent drains of a project
    with connection.cursor() as cursor:
        cursor.execute(
            NOTE_TEMPLATES,
            [
                project_id,
                tids,
                [seen[t][0] for t in tids],
                [seen[t][1] for t in tids],
                [seen[t][2] for t in tids],
            ],
        )


def alarms(project: Project, findings, now: datetime) -> list[StreamAlarm]:
    """An alarm per finding of severity error or worse (its first service names it)."""
    out = []
    for finding in findings:
        if finding.severity.rank < Severity.ERROR.rank:
            continue
        out.append(
            StreamAlarm(
                project=project,
                category=finding.category[:100],
                service=(finding.services[0] if finding.services else "")[:200],
                rule_id=finding.rule_id[:200],
                title=finding.title[:300],
                severity=str(finding.severity),
                count=finding.count,
                first_ts=finding.first_ts or now,
                last_ts=finding.last_ts or finding.first_ts or now,
            )
        )
    return out
