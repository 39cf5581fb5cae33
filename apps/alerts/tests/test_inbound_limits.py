"""Alerts in under the tenant's ingest quota (429 + Retry-After, nothing stored, another
tenant unaffected), only with a token allowed to send alerts, and Grafana legacy `no_data`:
recorded, never an incident."""

from __future__ import annotations

import pytest
from django_tenants.utils import tenant_context

from apps.alerts.models import InboundAlert
from apps.alerts.tests.test_inbound import AM, GRAFANA, am_payload, basic, bearer, post
from apps.incidents.models import Incident
from apps.ingestion.tokens import services as tokens
from apps.streams import quotas
from apps.streams.tests.conftest import make_token

pytestmark = pytest.mark.django_db


@pytest.fixture
def token():
    return make_token("alpha", "alerts-in", "alertmanager")


@pytest.fixture
def small_quota(settings):
    settings.STREAM_TENANT_RATE = 1  # no refill to speak of while the test runs
    settings.STREAM_TENANT_BURST = 3


def test_alerts_over_the_tenants_quota_get_429_with_retry_after(client, token, small_quota):
    beta = make_token("beta", "alerts-in", "alertmanager")
    statuses = []
    for n in range(5):
        payload = am_payload(service=f"svc{n}", fp=f"fp{n:014d}")
        statuses.append(post(client, AM, payload, bearer(token)).status_code)
    assert statuses[:3] == [200, 200, 200] and statuses[3:] == [429, 429]
    refused = post(client, GRAFANA, am_payload(service="late", fp="ff00"), basic(token))
    assert refused.status_code == 429 and "quota" in refused.json()["error"]
    assert 1 <= int(refused["Retry-After"]) <= quotas.MAX_RETRY_AFTER
    assert post(client, AM, am_payload(), bearer(beta)).status_code == 200  # its own bucket
    with tenant_context(token.tenant):
        assert InboundAlert.objects.count() == 3  # refused: nothing stored, nothing opened
        assert Incident.objects.filter(project=token.project).count() == 3


def test_only_a_token_allowed_to_send_alerts_may(client, token):
    for scopes, status in [(["logs"], 401), (["deploys", "logs"], 401), (["alerts"], 200)]:
        _, text = tokens.create_token(
            tenant=token.tenant, project=token.project, name="scoped", scopes=scopes
        )
        response = post(client, AM, am_payload(fp=f"{scopes}"), f"Bearer {text}")
        assert response.status_code == status, scopes
    with tenant_context(token.tenant):
        assert InboundAlert.objects.count() == 1  # the refused ones stored nothing


def test_one_token_per_alert(client, token, small_quota):
    payload = am_payload()
    payload["alerts"] *= 4  # four alerts (resends of one) need four tokens; the burst is 3
    assert post(client, AM, payload, bearer(token)).status_code == 200  # capped at the burst
    assert post(client, AM, am_payload(fp="0001"), bearer(token)).status_code == 429


LEGACY = {
    "title": "[No Data] Disk full",
    "ruleId": 7,
    "ruleName": "Disk full",
    "state": "no_data",
    "message": "no data for disk /",
    "tags": {"service": "storage"},
    "ruleUrl": "http://grafana/d/abc",
}


def test_grafana_legacy_no_data_is_recorded_and_opens_nothing(client, token, personas):
    first = post(client, GRAFANA, LEGACY, bearer(token)).json()
    assert first["opened"] == [] and first["joined"] == [] and first["no_data"] == 1
    assert post(client, GRAFANA, LEGACY, basic(token)).json()["no_data"] == 1  # a resend
    with tenant_context(token.tenant):
        assert not Incident.objects.filter(project=token.project).exists()
        (row,) = InboundAlert.objects.all()
        assert row.status == InboundAlert.Status.NO_DATA and row.incident_id is None
        assert row.received == 2 and row.service == "storage"
    # the alerts page lists it, with no incident
    client.force_login(personas.owner)
    page = client.get("/t/alpha/projects/alerts-in/alerts/")
    assert page.status_code == 200 and "No data" in page.content.decode()
    # then it really fires: an incident opens; no_data again leaves it firing; ok resolves both
    alerting = {**LEGACY, "state": "alerting"}
    (incident_id,) = post(client, GRAFANA, alerting, bearer(token)).json()["opened"]
    assert post(client, GRAFANA, LEGACY, bearer(token)).json()["resolved"] == []
    ok = post(client, GRAFANA, {**LEGACY, "state": "ok"}, bearer(token)).json()
    assert ok["resolved"] == [incident_id] and ok["ignored"] == 0
    with tenant_context(token.tenant):
        statuses = sorted(InboundAlert.objects.values_list("status", flat=True))
        assert statuses == ["resolved", "resolved"]
        assert Incident.objects.get(pk=incident_id).status == Incident.Status.RESOLVED


def test_an_ok_after_no_data_alone_closes_it(client, token):
    post(client, GRAFANA, LEGACY, bearer(token))
    ok = post(client, GRAFANA, {**LEGACY, "state": "ok"}, bearer(token)).json()
    assert ok["ignored"] == 0 and ok["resolved"] == []
    with tenant_context(token.tenant):
        assert InboundAlert.objects.get().status == InboundAlert.Status.RESOLVED


def test_grafana_unified_datasource_no_data_is_not_firing_either(client, token):
    payload = am_payload(service="storage", fp="5d5d5d5d5d5d5d5d")
    payload.update(version="1", orgId=1, state="alerting")
    labels = payload["alerts"][0]["labels"]
    labels.update(alertname="DatasourceNoData", rulename="Disk full", datasource_uid="prom")
    body = post(client, GRAFANA, payload, bearer(token)).json()
    assert body["opened"] == [] and body["no_data"] == 1
    assert post(client, GRAFANA, payload, bearer(token)).json()["no_data"] == 1  # a resend
    payload["alerts"][0]["status"] = "resolved"
    resolved = post(client, GRAFANA, payload, bearer(token)).json()
    assert resolved["resolved"] == [] and resolved["ignored"] == 0
    with tenant_context(token.tenant):
        (row,) = InboundAlert.objects.all()
        assert row.status == InboundAlert.Status.RESOLVED and row.incident_id is None
        assert not Incident.objects.filter(project=token.project).exists()
