"""The drain on a real `manage.py qcluster`: a real client's error burst opens an incident
within 10 s, and a drain delivered twice stores every record once."""

from __future__ import annotations

import logging
import time
import uuid

import pytest
from django_tenants.utils import tenant_context

from apps.ingestion.models import Event
from apps.rules.models import Finding
from apps.streams import draining
from apps.streams.models import SpoolBatch, StreamEvent, StreamIncident
from apps.tenants.jobs import send_tenant_task
from apps.tenants.tests.processes import running_qcluster, wait_for

from .conftest import make_token
from .test_drain import records, spool

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

# Its own project: a transactional test's rows survive it, and the isolation tests expect the
# marker projects to hold exactly one incident each.
WORKER_PROJECT = "streams-worker"
FAILURE = "FATAL:  sorry, too many clients already"


@pytest.fixture
def qcluster(tmp_path):
    """A real django-q2 cluster on the test database, answering a first task."""
    with running_qcluster(tmp_path / "qcluster.log") as proc:
        yield proc


def test_an_otel_error_burst_opens_an_incident_within_10_seconds(live_server, qcluster):
    from opentelemetry.exporter.otlp.proto.http._log_exporter import OTLPLogExporter
    from opentelemetry.instrumentation.logging.handler import LoggingHandler
    from opentelemetry.sdk._logs import LoggerProvider
    from opentelemetry.sdk._logs.export import BatchLogRecordProcessor
    from opentelemetry.sdk.resources import Resource

    token = make_token("alpha", WORKER_PROJECT, "burst")
    service = f"checkout-{uuid.uuid4().hex[:6]}"
    exporter = OTLPLogExporter(
        endpoint=f"{live_server.url}/ingest/otlp/v1/logs",
        headers={"Authorization": f"Bearer {token.text}"},
    )
    provider = LoggerProvider(resource=Resource.create({"service.name": service}))
    provider.add_log_record_processor(BatchLogRecordProcessor(exporter, schedule_delay_millis=200))
    handler = LoggingHandler(level=logging.INFO, logger_provider=provider)
    logger = logging.getLogger(f"burst-{service}")
    logger.propagate = False
    logger.addHandler(handler)
    try:
        for n in range(40):
            logger.info("GET /cart/%s 200", n)
        started = time.monotonic()
        for _ in range(5):
            logger.error(FAILURE)
        assert provider.force_flush(10_000)
    finally:
        logger.removeHandler(handler)
        provider.shutdown()

    def opened():
        with tenant_context(token.tenant):
            return StreamIncident.objects.filter(service=service).first()

    stream_incident = wait_for(opened, 10, "the incident to open")
    elapsed = time.monotonic() - started
    assert elapsed < 10, elapsed
    assert stream_incident.category == "db-too-many-connections"
    # its source goes through the upload path: events in the workspace, findings saved
    incident_id = stream_incident.incident_id

    def ingested():
        with tenant_context(token.tenant):
            return Finding.objects.filter(incident_id=incident_id).exists()

    wait_for(ingested, 90, "the incident's ingest job", every=0.5)
    with tenant_context(token.tenant):
        events = Event.objects.filter(incident_id=incident_id, service=service)
        assert events.count() == 45
        assert events.filter(level=4).count() == 5  # ERROR
        assert StreamEvent.objects.filter(service=service).count() == 45


def test_a_drain_delivered_twice_stores_every_record_once(qcluster):
    token = make_token("alpha", WORKER_PROJECT, "twice")
    service = f"twice-{uuid.uuid4().hex[:6]}"
    batches = [
        spool(token, records(500, service=service), f"{service}-{n}", received_at=None)
        for n in range(6)
    ]
    for n in range(2):  # two deliveries side by side, on two workers
        send_tenant_task(
            draining.DRAIN_TASK, schema_name=token.tenant.schema_name, task_name=f"{service}-{n}"
        )

    def drained():
        with tenant_context(token.tenant):
            return not SpoolBatch.objects.filter(pk__in=batches).exclude(status="done").exists()

    wait_for(drained, 60, "the batches to be drained", every=0.3)
    with tenant_context(token.tenant):
        keys = list(StreamEvent.objects.filter(service=service).values_list("batch_id", "seq"))
        assert sorted(keys) == [(b, s) for b in batches for s in range(500)]
        assert set(
            SpoolBatch.objects.filter(pk__in=batches).values_list("attempts", flat=True)
        ) == {1}
