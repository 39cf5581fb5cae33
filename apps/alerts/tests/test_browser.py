"""Alerts in, seen in a real browser (Debian Chromium via Playwright): an Alertmanager alert
opens an incident whose header lists the alert and its labels as tags (escaped, a link to the
generator); the alerts page lists it; the triage select acknowledges the incident. No page
error, no dialog."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta

import httpx2
import pytest
from django.contrib.auth import get_user_model
from django_tenants.utils import tenant_context

from apps.alerts.models import Alert, AlertRule, Channel, Notification
from apps.incidents.models import Incident
from apps.streams.tests.conftest import make_token
from apps.tenants.models import Membership, Role
from conftest import PASSWORD, ensure_tenant, screenshot

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PROJECT = "alerts-browser"  # its own project: a transactional test's rows survive it


def sign_in(page, live_server, username="olga"):
    tenant = ensure_tenant("alpha")
    user, created = get_user_model().objects.get_or_create(username=username)
    if created:
        user.set_password(PASSWORD)
        user.save()
    Membership.objects.get_or_create(tenant=tenant, user=user, defaults={"role": Role.OWNER})
    page.goto(live_server.url + "/login/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(re.compile(r".*/t/alpha/$"))
    return tenant


def test_an_alert_in_shows_on_its_incident_and_the_alerts_page(live_server, page):
    token = make_token("alpha", PROJECT, "browser")
    with tenant_context(token.tenant):
        pd, _ = Channel.objects.get_or_create(
            project=token.project, kind=Channel.Kind.PAGERDUTY, name="pd", defaults={"sealed": ""}
        )
        rule = AlertRule.objects.create(
            project=token.project, name="opened", event=AlertRule.Event.INCIDENT_OPENED
        )
        rule.channels.set([pd])
    starts = datetime.now(UTC) - timedelta(minutes=1)
    body = {
        "version": "4",
        "status": "firing",
        "alerts": [
            {
                "status": "firing",
                "labels": {
                    "alertname": "KafkaLag",
                    "service": "orders",
                    "severity": "warning",
                    "note": "<img src=x onerror=alert(1)>",
                },
                "annotations": {"summary": "consumer lag above 10k"},
                "startsAt": starts.isoformat(),
                "endsAt": "0001-01-01T00:00:00Z",
                "generatorURL": "http://prometheus.example/graph",
                "fingerprint": f"{int(starts.timestamp()):x}",
            }
        ],
    }
    answer = httpx2.post(
        f"{live_server.url}/ingest/alerts/alertmanager",
        content=json.dumps(body),
        headers={"Authorization": f"Bearer {token.text}", "Content-Type": "application/json"},
    )
    assert answer.status_code == 200, answer.text
    (incident_id,) = answer.json()["opened"]

    sign_in(page, live_server)
    page.goto(f"{live_server.url}/t/alpha/incidents/{incident_id}/")
    header = page.get_by_test_id("inbound-alerts")
    assert header.is_visible()
    tags = page.get_by_test_id("alert-tag").all_inner_texts()
    assert "service=orders" in tags and "severity=warning" in tags
    assert "note=<img src=x onerror=alert(1)>" in tags  # shown as text, not an element
    assert header.get_by_role("link", name="KafkaLag").get_attribute("href") == (
        "http://prometheus.example/graph"
    )
    screenshot(page, "alerts-in-incident")

    page.get_by_test_id("status-select").select_option("acknowledged")
    page.get_by_test_id("triage-saved").wait_for()
    with tenant_context(token.tenant):
        assert Incident.objects.get(pk=incident_id).status == "acknowledged"
        assert Alert.objects.get(rule=rule).acknowledged_at is not None
        assert not Notification.objects.filter(alert__rule=rule, action="trigger").exists()

    page.goto(f"{live_server.url}/t/alpha/projects/{PROJECT}/alerts/")
    row = page.get_by_test_id("inbound-row").first
    assert "KafkaLag" in row.inner_text() and "orders" in row.inner_text()
    assert "/ingest/alerts/alertmanager" in page.get_by_test_id("alerts-in").inner_text()
    screenshot(page, "alerts-page")
    assert page.js_errors == []
