"""Alerts in, through the whole middleware stack (Django's test client): Alertmanager and
Grafana webhooks open or join an incident for the alert's service with the stream around it,
run the analysis, are idempotent on resends and resolve the incident. The real Alertmanager
is in test_alertmanager.py."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta

import pytest
from django_tenants.utils import tenant_context

from apps.alerts.inbound import payloads
from apps.alerts.inbound import services as inbound
from apps.alerts.models import InboundAlert
from apps.analysis import services as analysis
from apps.analysis.models import AnalysisRun
from apps.incidents.models import Incident
from apps.ingestion import services as ingestion
from apps.ingestion.models import Event
from apps.ingestion.tokens import services as tokens
from apps.streams import draining
from apps.streams import incidents as stream_incidents
from apps.streams.models import StreamAlarm, StreamIncident
from apps.streams.tests.conftest import make_token
from apps.streams.tests.test_drain import records, spool

pytestmark = pytest.mark.django_db

AT = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=3)
AM = "/ingest/alerts/alertmanager"
GRAFANA = "/ingest/alerts/grafana"


@pytest.fixture
def token():
    return make_token("alpha", "alerts-in", "alertmanager")


def am_payload(status="firing", *, service="checkout", starts=AT, ends=None, fp="a1b2c3d4e5f60718"):
    alert = {
        "status": status,
        "labels": {
            "alertname": "HighErrorRate",
            "service": service,
            "severity": "critical",
            "team": "payments",
        },
        "annotations": {"summary": "5xx above 5% for 2 minutes"},
        "startsAt": starts.isoformat().replace("+00:00", ".123456789Z"),
        "endsAt": (ends or datetime(1, 1, 1, tzinfo=UTC)).isoformat().replace("+00:00", "Z"),
        "generatorURL": "http://prometheus:9090/graph?g0.expr=rate",
        "fingerprint": fp,
    }
    return {
        "version": "4",
        "groupKey": '{}:{alertname="HighErrorRate"}',
        "truncatedAlerts": 0,
        "status": status,
        "receiver": "aiops",
        "groupLabels": {"alertname": "HighErrorRate"},
        "commonLabels": {"alertname": "HighErrorRate"},
        "commonAnnotations": {},
        "externalURL": "http://alertmanager:9093",
        "alerts": [alert],
    }


def post(client, path, body, auth):
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    return client.generic(
        "POST", path, data, content_type="application/json", HTTP_AUTHORIZATION=auth
    )


def bearer(token) -> str:
    return f"Bearer {token.text}"


def basic(token) -> str:
    return "Basic " + base64.b64encode(f"alertmanager:{token.text}".encode()).decode()


def stream_around(token, service="checkout"):
    """Records of the service around the alert's start, drained into the project's stream."""
    batch = records(20, errors=4, service=service, at=AT - timedelta(seconds=30))
    batch += records(5, service="other-service", at=AT - timedelta(hours=3))  # far before
    spool(token, batch, f"around-{service}")
    with tenant_context(token.tenant):
        draining.drain_once()
        StreamAlarm.objects.all().delete()  # this test is about alerts, not the stream's own


def ingest_and_analyse(token, incident_id):
    with tenant_context(token.tenant):
        for job in Incident.objects.get(pk=incident_id).jobs.all():
            ingestion.run_ingest(job.pk)
        runs = list(AnalysisRun.objects.filter(incident_id=incident_id))
        for run in runs:
            analysis.execute_run(run.pk)
        return runs


def test_a_firing_alert_opens_an_incident_with_the_stream_and_its_analysis(client, token):
    stream_around(token)
    response = post(client, AM, am_payload(), bearer(token))
    assert response.status_code == 200, response.content
    body = response.json()
    (incident_id,) = body["opened"]
    assert body["alerts"] == 1 and body["joined"] == []

    runs = ingest_and_analyse(token, incident_id)
    with tenant_context(token.tenant):
        incident = Incident.objects.get(pk=incident_id)
        assert incident.title == "HighErrorRate in checkout: 5xx above 5% for 2 minutes"
        assert incident.severity == Incident.Severity.SEV2  # severity=critical
        covering = StreamIncident.objects.get(incident=incident)
        assert covering.service == "checkout"
        events = Event.objects.filter(incident=incident)
        assert events.filter(service="checkout").count() == 20  # the stream of that moment
        assert not events.filter(service="other-service").exists()  # hours before: not in
        assert events.filter(message__contains="too many clients").count() == 4
        (run,) = runs
        run.refresh_from_db()
        assert run.status == AnalysisRun.Status.DONE
        row = InboundAlert.objects.get(incident=incident)
        assert row.labels["team"] == "payments" and row.analysis_requested_at is not None
        tags = inbound.incident_labels(incident)
        assert tags["team"] == ["payments"] and tags["service"] == ["checkout"]
        assert row.starts_at == AT.replace(microsecond=123456)


def test_resends_change_nothing_and_a_resolve_resolves(client, token):
    first = post(client, AM, am_payload(), basic(token)).json()
    (incident_id,) = first["opened"]
    for _ in range(3):  # Alertmanager's repeat_interval and retries
        again = post(client, AM, am_payload(), bearer(token)).json()
        assert again["opened"] == [] and again["joined"] == [] and again["repeated"] == 1
    ends = AT + timedelta(minutes=2)
    resolved = post(client, AM, am_payload("resolved", ends=ends), bearer(token)).json()
    assert resolved["resolved"] == [incident_id]
    replay = post(client, AM, am_payload("resolved", ends=ends), bearer(token)).json()
    assert replay["resolved"] == [] and replay["repeated"] == 1
    stale = post(client, AM, am_payload(), bearer(token)).json()  # a late firing resend
    assert stale["opened"] == [] and stale["repeated"] == 1
    with tenant_context(token.tenant):
        assert Incident.objects.filter(project=token.project).count() == 1
        incident = Incident.objects.get(pk=incident_id)
        assert incident.status == Incident.Status.RESOLVED
        (row,) = InboundAlert.objects.filter(incident=incident)
        assert row.status == "resolved" and row.ends_at == ends and row.received == 7


def test_the_next_occurrence_opens_a_new_incident_after_a_resolve(client, token):
    (first,) = post(client, AM, am_payload(), bearer(token)).json()["opened"]
    post(client, AM, am_payload("resolved", ends=AT + timedelta(minutes=1)), bearer(token))
    later = am_payload(starts=AT + timedelta(minutes=2))
    (second,) = post(client, AM, later, bearer(token)).json()["opened"]
    assert second != first


def test_an_alert_joins_the_incident_the_stream_opened_for_its_service(client, token):
    with tenant_context(token.tenant):
        alarm = StreamAlarm.objects.create(
            project=token.project,
            category="db-too-many-connections",
            service="checkout",
            rule_id="db",
            title="Too many connections",
            severity="critical",
            count=4,
            first_ts=AT - timedelta(minutes=1),
            last_ts=AT,
        )
        covering, _ = stream_incidents.take(alarm)
    body = post(client, AM, am_payload(), bearer(token)).json()
    assert body["joined"] == [covering.incident_id] and body["opened"] == []
    other = post(client, AM, am_payload(service="search", fp="ffff"), bearer(token)).json()
    assert other["opened"] and other["opened"] != [covering.incident_id]
    # the alert resolving leaves the stream's incident to people
    resolved = post(client, AM, am_payload("resolved", ends=AT), bearer(token)).json()
    assert resolved["resolved"] == []
    with tenant_context(token.tenant):
        assert Incident.objects.get(pk=covering.incident_id).status == "investigating"


def test_grafana_unified_and_legacy_webhooks(client, token):
    unified = am_payload(service="search", fp="0a0b0c0d")
    unified.update(version="1", orgId=1, state="alerting", title="[FIRING:1] HighErrorRate")
    unified["alerts"][0]["labels"].pop("service")
    unified["alerts"][0]["labels"]["app"] = "search"  # another service label
    body = post(client, GRAFANA, unified, bearer(token)).json()
    assert len(body["opened"]) == 1
    legacy = {
        "title": "[Alerting] Disk full",
        "ruleId": 7,
        "ruleName": "Disk full",
        "state": "alerting",
        "message": "disk / at 98%",
        "tags": {"service": "storage"},
        "ruleUrl": "http://grafana/d/abc",
    }
    (incident_id,) = post(client, GRAFANA, legacy, basic(token)).json()["opened"]
    assert post(client, GRAFANA, legacy, bearer(token)).json()["repeated"] == 1
    legacy["state"] = "ok"
    assert post(client, GRAFANA, legacy, bearer(token)).json()["resolved"] == [incident_id]
    with tenant_context(token.tenant):
        services = set(InboundAlert.objects.values_list("sender", "service"))
        assert services == {("grafana", "search"), ("grafana", "storage")}


@pytest.mark.parametrize(
    "body",
    [
        b"not json",
        b"[]",
        b'{"version": "3", "alerts": []}',
        b'{"version": "4", "alerts": {}}',
        b'{"version": "4", "alerts": [{"status": "firing", "labels": {}}]}',
        b'{"version": "4", "alerts": [{"status": "odd", "startsAt": "2024-01-01T00:00:00Z"}]}',
        b'{"version": "4", "alerts": [{"status": "firing", "startsAt": "yesterday"}]}',
        b'{"version": "4", "alerts": [{"status": "firing", "startsAt": "2024-01-01T00:00:00"}]}',
        b'{"version": "4", "alerts": [{"status": "firing", "startsAt": "2024-01-01T00:00:00Z",'
        b' "labels": {"a": {"nested": 1}}}]}',
    ],
)
def test_malformed_bodies_are_400(client, token, body):
    response = post(client, AM, body, bearer(token))
    assert response.status_code == 400, response.content
    assert "error" in response.json()
    with tenant_context(token.tenant):
        assert not InboundAlert.objects.exists()


def test_bad_or_revoked_tokens_are_401(client, token):
    for auth in ("", "Bearer nope", "Basic " + base64.b64encode(b"u:nope").decode(), "Token x"):
        for path in (AM, GRAFANA):
            assert post(client, path, am_payload(), auth).status_code == 401
    tokens.revoke_token(token=token.row)
    assert post(client, AM, am_payload(), bearer(token)).status_code == 401
    with tenant_context(token.tenant):
        assert not InboundAlert.objects.exists()


def test_alerts_stay_in_their_tenant(client, token):
    beta = make_token("beta", "alerts-in", "alertmanager")
    (mine,) = post(client, AM, am_payload(), bearer(token)).json()["opened"]
    (theirs,) = post(client, AM, am_payload(), bearer(beta)).json()["opened"]
    with tenant_context(beta.tenant):
        assert InboundAlert.objects.get().incident_id == theirs
    with tenant_context(token.tenant):
        assert InboundAlert.objects.get().incident_id == mine


@pytest.mark.parametrize(
    ("labels", "service"),
    [
        ({"service": "api", "job": "node"}, "api"),
        ({"app_kubernetes_io_name": "cart", "job": "kube"}, "cart"),
        ({"job": "postgres-exporter"}, "postgres-exporter"),
        ({"alertname": "Watchdog"}, ""),
    ],
)
def test_the_service_comes_from_the_labels(labels, service):
    assert payloads.service_of(labels) == service


def test_go_times_and_unset_ends():
    (alert,) = payloads.alertmanager(json.dumps(am_payload()).encode())
    assert alert.starts_at == AT.replace(microsecond=123456) and alert.ends_at is None
    assert alert.name == "HighErrorRate" and alert.severity == "critical"


def test_the_incident_page_shows_the_alerts_labels_as_tags(client, token, personas):
    payload = am_payload()
    payload["alerts"][0]["labels"]["note"] = "<script>alert(1)</script>"
    (incident_id,) = post(client, AM, payload, bearer(token)).json()["opened"]
    client.force_login(personas.member)
    page = client.get(f"/t/alpha/incidents/{incident_id}/").content.decode()
    assert 'data-testid="inbound-alerts"' in page
    assert "team=payments" in page and "service=checkout" in page
    assert "<script>alert(1)</script>" not in page and "&lt;script&gt;" in page
    assert 'href="http://prometheus:9090/graph?g0.expr=rate"' in page


def test_an_ingest_quota_still_opens_the_incident_and_answers_200(client, token, settings):
    settings.INGEST_TENANT_STORAGE_BYTES = 1  # every upload refused: no room for the stream
    stream_around(token)
    response = post(client, AM, am_payload(), bearer(token))
    assert response.status_code == 200  # else Alertmanager would resend it forever
    (incident_id,) = response.json()["opened"]
    with tenant_context(token.tenant):
        assert not Incident.objects.get(pk=incident_id).jobs.exists()
        assert StreamIncident.objects.get(incident_id=incident_id).covered_until < AT
        # nothing being ingested: the analysis is requested at once
        assert AnalysisRun.objects.filter(incident_id=incident_id).count() == 1
