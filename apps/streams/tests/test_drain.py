"""The drain in this process: spool → parse, group, rules → stream; alarms → incidents;
idempotency under re-delivery; a poison batch; retention by partition."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from django.db import OperationalError
from django.utils import timezone
from django_tenants.utils import tenant_context

from apps.ingestion import services as ingestion
from apps.ingestion.models import Event, IngestJob, Source
from apps.jobs.models import JobStatus
from apps.rules.models import Finding as SavedFinding
from apps.streams import draining, incidents, partitions, services
from apps.streams import spool as spool_format
from apps.streams.models import SpoolBatch, StreamAlarm, StreamEvent, StreamIncident
from apps.streams.protocols import StreamRecord

BASE = datetime(2026, 3, 14, 10, 0, tzinfo=UTC)


def records(n: int, *, errors: int = 0, service: str = "api", at: datetime = BASE) -> list:
    out = []
    for i in range(n):
        failing = i >= n - errors
        out.append(
            StreamRecord(
                time=at + timedelta(milliseconds=i),
                observed_time=at,
                service=service,
                level="FATAL" if failing else "INFO",
                message=(
                    "FATAL:  sorry, too many clients already"
                    if failing
                    else f"GET /orders/{i} 200 in {i % 50} ms"
                ),
                attributes={"http": {"status": 200, "route": "/orders"}, "n": i},
                resource={"service.name": service, "host.name": "web-1"},
                trace_id=f"{i:032x}",
                span_id=f"{i:016x}",
            )
        )
    return out


def spool(token, batch: list, digest: str, received_at: datetime | None = None) -> int:
    with tenant_context(token.tenant):
        return services.spool_batch(
            project_id=token.project.pk,
            token_id=token.row.pk,
            protocol="http",
            digest=digest,
            body_bytes=1,
            records=batch,
            received_at=received_at or timezone.now(),
        ).batch_id


def stream(token) -> list:
    with tenant_context(token.tenant):
        return list(
            StreamEvent.objects.filter(project_id=token.project.pk)
            .order_by("batch_id", "seq")
            .values_list("batch_id", "seq", "service", "level", "attributes", "template_id")
        )


def test_the_drain_stores_each_record_once_with_its_structure(alpha_token):
    first = spool(alpha_token, records(30), "a")
    second = spool(alpha_token, records(5, service="worker"), "b")
    with tenant_context(alpha_token.tenant):
        assert draining.drain_once() == 35
        assert draining.drain_once() == 0  # nothing left: a re-delivery stores nothing
        batches = dict(SpoolBatch.objects.values_list("pk", "status"))
        assert batches == {first: JobStatus.DONE, second: JobStatus.DONE}
        assert SpoolBatch.objects.filter(processed_at__isnull=False).count() == 2
    rows = stream(alpha_token)
    assert [(b, s) for b, s, *_ in rows] == [(first, i) for i in range(30)] + [
        (second, i) for i in range(5)
    ]
    assert rows[0][2:5] == ("api", 2, {"http": {"status": 200, "route": "/orders"}, "n": 0})
    assert rows[30][2] == "worker"
    # mined: the access lines share one template
    assert len({template for *_, template in rows[:30]}) == 1 and rows[0][5]


def test_every_field_reaches_the_stream_as_the_receiver_decoded_it(alpha_token):
    at = datetime(2026, 3, 14, 10, 0, 0, 999999, tzinfo=UTC)
    sent = [
        StreamRecord(
            time=at,
            observed_time=BASE,
            service="api",
            level="ERROR",
            message='line one\n\ttab \\ and "quotes" ünï',
            attributes={"nested": {"list": [1, 2.5, None, True]}, "big": 2**70},
            resource={"host.name": "web-1", "k8s.pod": "api-7"},
            trace_id="4bf92f3577b34da6a3ce929d0e0e4736",
            span_id="00f067aa0ba902b7",
            truncated=True,
        ),
        StreamRecord(
            time=None,  # no time from the sender: when it was observed
            observed_time=datetime(1969, 12, 31, 23, 59, 59, 1, tzinfo=UTC),
            service="",
            level=None,
            message="",
        ),
        StreamRecord(
            time=at,
            observed_time=BASE,
            service="worker",
            level="INFO",
            message="third",
            resource={"hostname": 7},  # not a string: its JSON text
        ),
    ]
    batch = spool(alpha_token, sent, "fields")
    with tenant_context(alpha_token.tenant):
        assert draining.drain_once() == 3
        rows = list(
            StreamEvent.objects.filter(batch_id=batch)
            .order_by("seq")
            .values_list(
                "seq", "ts", "level", "service", "host", "trace_id", "span_id", "message",
                "attributes", "resource", "truncated",
            )
        )  # fmt: skip
    assert rows == [
        (
            0, at, 4, "api", "web-1", sent[0].trace_id, sent[0].span_id, sent[0].message,
            sent[0].attributes, sent[0].resource, True,
        ),
        (1, sent[1].observed_time, None, "", "", "", "", "", None, None, False),
        (2, at, 2, "worker", "7", "", "", "third", None, {"hostname": 7}, False),
    ]  # fmt: skip


def test_a_lost_claim_rolls_back_and_a_stale_one_is_taken_over(alpha_token, monkeypatch):
    batch = spool(alpha_token, records(10), "c")
    with tenant_context(alpha_token.tenant):
        old = timezone.now() - timedelta(minutes=5)
        (claim,) = draining.claim_batches([batch], old)  # a drain that died after claiming
        assert draining.drain_once() == 10  # its heartbeat is stale: claimed again, stored
        row = SpoolBatch.objects.get(pk=batch)
        assert (row.status, row.attempts) == (JobStatus.DONE, 2)
        # the dead drain comes back: its claim is lost, so it stores nothing
        project = alpha_token.project
        with pytest.raises(draining.ClaimLost):
            draining.store(project, [claim])
    assert len(stream(alpha_token)) == 10


def test_one_spooled_row_is_drained_into_its_records_once_after_a_crash_mid_drain(
    alpha_token, monkeypatch
):
    batch = spool(alpha_token, records(250, errors=2), "crash")
    with tenant_context(alpha_token.tenant):
        row = SpoolBatch.objects.get(pk=batch)
        assert (row.record_count, len(spool_format.read(row.payload))) == (250, 250)
        insert = draining._insert

        def insert_then_lose_the_database(*args):  # the connection dies after the INSERT
            insert(*args)
            raise OperationalError("server closed the connection unexpectedly")

        monkeypatch.setattr(draining, "_insert", insert_then_lose_the_database)
        with pytest.raises(OperationalError):
            draining.drain_once()
        monkeypatch.undo()
        assert SpoolBatch.objects.get(pk=batch).status == JobStatus.RUNNING  # claim kept
        assert not StreamEvent.objects.filter(batch_id=batch).exists()  # rolled back
        assert not StreamAlarm.objects.exists()
        assert draining.drain_once() == 0  # claimed, heartbeat fresh: not taken twice
        stale = timezone.now() - timedelta(minutes=5)
        SpoolBatch.objects.filter(pk=batch).update(claimed_at=stale, heartbeat_at=stale)
        assert draining.drain_once() == 250
        assert draining.drain_once() == 0
        assert StreamAlarm.objects.count() == 1
    assert [(b, s) for b, s, *_ in stream(alpha_token)] == [(batch, i) for i in range(250)]


def test_a_poison_batch_fails_alone_with_its_reason(alpha_token):
    good = spool(alpha_token, records(3), "d")
    bad = spool(alpha_token, records(4), "e")
    with tenant_context(alpha_token.tenant):
        SpoolBatch.objects.filter(pk=bad).update(payload=b"\x01damaged on disk")
        assert draining.drain_once() == 3
        statuses = dict(SpoolBatch.objects.values_list("pk", "status"))
        assert statuses == {good: JobStatus.DONE, bad: JobStatus.FAILED}
        assert SpoolBatch.objects.get(pk=bad).error.startswith("Unreadable: damaged spool payload")
        assert draining.drain_once() == 0  # failed: never retried in a loop


def test_an_error_rule_opens_one_incident_that_grows_through_the_upload_path(alpha_token):
    spool(alpha_token, records(20, errors=3), "f")
    with tenant_context(alpha_token.tenant):
        draining.drain_once()
        (alarm,) = StreamAlarm.objects.all()
        assert (alarm.category, alarm.service, alarm.severity, alarm.count) == (
            "db-too-many-connections",
            "api",
            "critical",
            3,
        )
        now = BASE + timedelta(minutes=1)
        (opened,) = incidents.open_and_grow(now=now)
        assert not StreamAlarm.objects.exists()
        si = StreamIncident.objects.get(incident_id=opened)
        assert si.range_start == alarm.first_ts - timedelta(minutes=10)
        assert si.covered_until == now  # up to now: the failure may go on
        job = IngestJob.objects.get(incident_id=opened)
    # the incident's source is read like an upload; its findings reach the rules app
    with tenant_context(alpha_token.tenant):
        assert ingestion.run_ingest(job.pk) == JobStatus.DONE
        events = Event.objects.filter(incident_id=opened).order_by("line")
        assert events.count() == 20
        first = events.first()
        assert (first.service, first.level_name, first.trace_id) == ("api", "INFO", "0" * 32)
        assert SavedFinding.objects.filter(
            incident_id=opened, category="db-too-many-connections"
        ).exists()
    # more of the same failure 5 minutes later: the same incident, grown by a second source
    spool(alpha_token, records(4, errors=2, at=BASE + timedelta(minutes=5)), "g")
    with tenant_context(alpha_token.tenant):
        draining.drain_once()
        assert incidents.open_and_grow(now=BASE + timedelta(minutes=6)) == []
        si.refresh_from_db()
        assert si.matches == 5 and si.last_ts > BASE + timedelta(minutes=5)
        assert si.covered_until == BASE + timedelta(minutes=6)
        assert Source.objects.filter(incident_id=opened).count() == 1  # the first, read
        assert IngestJob.objects.filter(incident_id=opened).count() == 2
        # another service's failure is another incident
        spool(alpha_token, records(2, errors=1, service="billing"), "h")
        draining.drain_once()
        assert len(incidents.open_and_grow(now=BASE + timedelta(minutes=7))) == 1


def test_retention_drops_whole_day_partitions(alpha_token):
    today = date(2026, 3, 14)
    for days_ago in (0, 6, 7, 9):
        day = today - timedelta(days=days_ago)
        received = datetime(day.year, day.month, day.day, 12, tzinfo=UTC)
        spool(alpha_token, records(2), f"r{days_ago}", received_at=received)
    with tenant_context(alpha_token.tenant):
        draining.drain_once()
        assert StreamEvent.objects.filter(project_id=alpha_token.project.pk).count() == 8
        dropped = partitions.drop_expired(today=today)
        pid = alpha_token.project.pk
        assert sorted(dropped) == [
            f"streams_event_p{pid}_20260305",
            f"streams_event_p{pid}_20260307",
        ]
        assert StreamEvent.objects.filter(project_id=pid).count() == 4


def test_the_sweep_sends_again_a_drain_whose_task_was_taken_and_lost(alpha_token, monkeypatch):
    """A drain task taken by a worker that then died (SIGKILL, or its acknowledgement lost to a
    database restart) stays locked in the ORM broker for Q_CLUSTER["retry"] (~35 min): the
    sweep must not count it as queued once it is older than a turn could be."""
    from django.conf import settings
    from django_q.models import OrmQ
    from django_q.signing import SignedPackage

    from apps.ingestion.tokens.models import DrainLane

    sent: list[str] = []
    monkeypatch.setattr(draining, "_send", sent.append)
    spool(alpha_token, records(2), "lost-drain")
    schema = alpha_token.tenant.schema_name
    now = timezone.now()
    long_ago = now - timedelta(seconds=draining.LANE_LOST_SECONDS + 60)
    DrainLane.objects.update_or_create(
        tenant=alpha_token.tenant, defaults={"dispatched_at": long_ago}
    )
    retry = timedelta(seconds=settings.Q_CLUSTER["retry"])
    payload = SignedPackage.dumps({"args": (schema, draining.DRAIN_TASK), "kwargs": {}})

    def message(lock: datetime) -> OrmQ:
        OrmQ.objects.all().delete()
        return OrmQ.objects.create(key="aiops", payload=payload, lock=lock)

    # waiting in the queue, or taken a few seconds ago: the lane is alive, nothing is sent
    for lock in (now - timedelta(seconds=5), now - timedelta(seconds=5) + retry):
        kept = message(lock)
        assert draining.sweep() == 0 and sent == []
        assert OrmQ.objects.filter(pk=kept.pk).exists()
    # taken longer ago than any turn lasts: its worker is gone; sent again, the husk deleted
    lost = message(long_ago + retry)
    assert draining.sweep() == 1 and sent == [schema]
    assert not OrmQ.objects.filter(pk=lost.pk).exists()


@pytest.mark.django_db(transaction=True)
def test_a_partition_made_in_a_rolled_back_transaction_is_made_again():
    """A partition made inside a transaction that then rolled back is made again by the next
    `ensure` (a memory of partitions made would skip it, and the drain write into nothing)."""
    from django.db import connection, transaction

    from .conftest import make_token

    token = make_token("alpha", "alpha-marker", "partitions")
    day = date(2031, 1, 2)
    name = f"streams_event_p{token.project.pk}_20310102"
    with tenant_context(token.tenant):
        with transaction.atomic():
            partitions.ensure(token.project.pk, day)
            transaction.set_rollback(True)
        assert name not in {n for _, _, n in partitions.day_partitions()}
        partitions.ensure(token.project.pk, day)  # outside any transaction: made, not skipped
        assert name in {n for _, _, n in partitions.day_partitions()}
        with connection.cursor() as cursor:
            cursor.execute(f"DROP TABLE {name}")
