"""Alerts and the stream's own alarms share one incident per service and time: an alarm joins
the incident an alert opened (instead of a second one), and an alert that began before the
range of the stream's incident it joins widens that range backwards."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django_tenants.utils import tenant_context

from apps.alerts.inbound import services as inbound
from apps.alerts.tests.test_inbound import AM, AT, am_payload, bearer, post
from apps.incidents import services as incidents
from apps.incidents.models import Incident
from apps.ingestion import services as ingestion
from apps.ingestion.models import Event
from apps.streams import draining
from apps.streams import incidents as stream_incidents
from apps.streams.models import StreamAlarm, StreamIncident
from apps.streams.tests.conftest import make_token
from apps.streams.tests.test_drain import records, spool

pytestmark = pytest.mark.django_db


@pytest.fixture
def token():
    return make_token("alpha", "alerts-in", "alertmanager")


def alarm(token, *, service="checkout", first=AT, category="db-too-many-connections"):
    return StreamAlarm.objects.create(
        project=token.project, category=category, service=service, rule_id="db",
        title="Too many connections", severity="critical", count=4, first_ts=first,
        last_ts=first + timedelta(seconds=20),
    )  # fmt: skip


def test_the_streams_alarm_joins_the_incident_an_alert_opened(client, token):
    (incident_id,) = post(client, AM, am_payload(), bearer(token)).json()["opened"]
    with tenant_context(token.tenant):
        covering, created = stream_incidents.take(alarm(token, first=AT + timedelta(minutes=2)))
        assert not created and covering.incident_id == incident_id
        assert covering.matches == 1 + 4  # the alert, then the alarm's four records
        # another service, or long after: an incident of its own
        _, other = stream_incidents.take(alarm(token, service="search"))
        _, later = stream_incidents.take(alarm(token, first=AT + timedelta(hours=2)))
        assert other and later
        # resolved, the alert's incident takes no more alarms
        incident = Incident.objects.get(pk=incident_id)
        incidents.update_triage(incident=incident, status="resolved", severity=incident.severity)
        again, _ = stream_incidents.take(alarm(token, first=AT + timedelta(minutes=3)))
        assert again.incident_id != incident_id


def test_an_alert_rule_on_the_stream_is_joined_too(token):
    """The alert rules' own stream incidents (error rate, deploy errors) are service-wide."""
    with tenant_context(token.tenant):
        inbound.lock(token.project, "checkout")
        covering, _ = inbound.open_or_join(
            token.project, service="checkout", at=AT, title="error rate", severity="sev3",
            category=f"{stream_incidents.SERVICE_WIDE}:error-rate",
        )  # fmt: skip
        joined, created = stream_incidents.take(alarm(token))
        assert not created and joined.pk == covering.pk


def test_an_earlier_alert_widens_the_streams_incident_backwards(client, token, settings):
    settings.STREAM_INCIDENT_LEAD_MINUTES = 10
    early = AT - timedelta(minutes=20)
    spool(token, records(5, service="checkout", at=early - timedelta(minutes=5)), "early")
    spool(token, records(10, errors=4, service="checkout", at=AT), "failure")
    with tenant_context(token.tenant):
        while draining.drain_once():
            pass
        StreamAlarm.objects.all().delete()
        covering, created = stream_incidents.take(alarm(token))
        assert created and covering.range_start == AT - timedelta(minutes=10)
        assert stream_incidents.grow(covering.pk, AT + timedelta(minutes=1))
    # the alert began 20 minutes before the stream's first error: its records were left out
    body = post(client, AM, am_payload(starts=early), bearer(token)).json()
    assert body["joined"] == [covering.incident_id]
    with tenant_context(token.tenant):
        covering = StreamIncident.objects.get(pk=covering.pk)
        assert covering.range_start == early.replace(microsecond=123456) - timedelta(minutes=10)
        incident = covering.incident
        for job in incident.jobs.all():
            ingestion.run_ingest(job.pk)
        events = Event.objects.filter(incident=incident)
        assert events.filter(ts__lt=AT - timedelta(minutes=10)).count() == 5  # widened
        assert events.count() == 15 and incident.jobs.count() == 2  # nothing twice
        # an alert inside the range widens nothing
        assert not stream_incidents.widen(covering.pk, covering.range_start)
