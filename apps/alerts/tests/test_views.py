"""The alerts page: owners only, secrets shown once and never again, *Send test* queues a job
(nothing is sent from the request), rules with snooze; HTMX partials; query budget."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django_tenants.utils import tenant_context

from apps.alerts.models import AlertRule, Channel, Notification
from conftest import MARKERS

pytestmark = pytest.mark.django_db
HX = {"HTTP_HX_REQUEST": "true"}
SECRET_URL = "https://hooks.slack.com/services/T000/B000/SECRETsecret1234"


def url(personas, name="", slug="alpha-marker"):
    suffix = {"": "", "add": "channels/", "act": "channels/action/", "rule": "rules/"}
    suffix["rule-act"] = "rules/action/"
    return f"{personas.alpha.url_prefix}projects/{slug}/alerts/{suffix[name]}"


@pytest.fixture
def owner(client, personas):
    client.force_login(personas.owner)
    return client


def test_owner_adds_a_slack_channel_and_never_sees_the_url_again(owner, personas):
    response = owner.post(
        url(personas, "add"), {"kind": "slack", "name": "#ops", "url": SECRET_URL}, **HX
    )
    assert response.status_code == 200
    body = response.content.decode()
    assert 'id="channels"' in body and "<html" not in body  # the partial only
    assert "SECRETsecret" not in body and "hooks.slack.com …1234" in body
    page = owner.get(url(personas)).content.decode()
    assert "SECRETsecret" not in page and MARKERS["alpha"] in page
    with tenant_context(personas.alpha):
        channel = Channel.objects.get(name="#ops")
        assert "SECRETsecret" not in channel.sealed


def test_a_webhook_signing_secret_is_shown_once(owner, personas):
    data = {"kind": "webhook", "name": "hook", "url": "https://example.com/in"}
    body = owner.post(url(personas, "add"), data, **HX).content.decode()
    assert 'data-testid="signing-secret"' in body and "whsec_" in body
    assert "whsec_" not in owner.get(url(personas)).content.decode()


@pytest.mark.parametrize(
    ("data", "error"),
    [
        ({"kind": "slack", "name": "x"}, "needs its webhook URL"),
        ({"kind": "teams", "name": "x", "url": "ftp://x"}, "Enter an http(s) URL"),
        ({"kind": "pagerduty", "name": "x"}, "routing key"),
        ({"kind": "email", "name": "x", "recipients": "not-an-address"}, "Not an e-mail"),
    ],
)
def test_channel_form_errors(owner, personas, data, error):
    body = owner.post(url(personas, "add"), data, **HX).content.decode()
    assert error in body
    with tenant_context(personas.alpha):
        assert not Channel.objects.exists()


def test_send_test_queues_a_job_and_sends_nothing_from_the_request(
    owner, personas, django_capture_on_commit_callbacks, monkeypatch
):
    owner.post(url(personas, "add"), {"kind": "slack", "name": "#ops", "url": SECRET_URL}, **HX)
    with tenant_context(personas.alpha):
        channel = Channel.objects.get()
    sent = []
    monkeypatch.setattr("apps.tenants.jobs.async_task", lambda *a, **k: sent.append(a))
    with django_capture_on_commit_callbacks(execute=True):
        response = owner.post(url(personas, "act"), {"channel": channel.pk, "action": "test"}, **HX)
    assert "Test message queued" in response.content.decode()
    with tenant_context(personas.alpha):
        (notification,) = Notification.objects.all()
        assert (notification.action, notification.status) == ("test", "queued")
    (task,) = sent  # handed to django-q2 with the tenant's schema, on commit
    assert task[1] == personas.alpha.schema_name and task[3] == notification.pk


def test_rules_are_added_snoozed_and_deleted(owner, personas):
    owner.post(url(personas, "add"), {"kind": "email", "name": "oncall", "recipients": "a@b.co"})
    with tenant_context(personas.alpha):
        channel = Channel.objects.get()
    data = {
        "name": "sev errors", "event": "finding", "min_severity": "error", "category": "",
        "channels": [channel.pk], "group_seconds": 60, "renotify_minutes": 0,
    }  # fmt: skip
    body = owner.post(url(personas, "rule"), data, **HX).content.decode()
    assert "sev errors" in body and "≥ error" in body
    with tenant_context(personas.alpha):
        rule = AlertRule.objects.get()
        assert list(rule.channels.all()) == [channel]
    body = owner.post(
        url(personas, "rule-act"), {"rule": rule.pk, "action": "snooze", "minutes": 60}, **HX
    ).content.decode()
    assert 'data-testid="snoozed"' in body
    assert (
        owner.post(
            url(personas, "rule-act"), {"rule": rule.pk, "action": "snooze", "minutes": 7}
        ).status_code
        == 400
    )
    owner.post(url(personas, "rule-act"), {"rule": rule.pk, "action": "delete"}, **HX)
    with tenant_context(personas.alpha):
        assert not AlertRule.objects.exists()


def test_a_stream_rule_with_quiet_hours_is_added(owner, personas):
    data = {
        "name": "checkout 5xx", "event": "error_rate", "service": "checkout",
        "window_minutes": 10, "min_errors": 20, "error_percent": 2.5, "group_seconds": 60,
        "renotify_minutes": 0, "quiet_start": "22:00", "quiet_end": "07:00",
        "quiet_timezone": "Europe/Berlin",
    }  # fmt: skip
    body = owner.post(url(personas, "rule"), data, **HX).content.decode()
    assert "≥ 20 errors and 2.5% in 10 min · checkout" in body
    assert "quiet 22:00–07:00 Europe/Berlin" in body
    assert "held and sent when they end" in body  # the form says what quiet hours do
    with tenant_context(personas.alpha):
        rule = AlertRule.objects.get()
        assert (rule.service, rule.window_minutes, rule.quiet_timezone) == (
            "checkout",
            10,
            "Europe/Berlin",
        )


@pytest.mark.parametrize("who", ["member", "viewer"])
def test_only_owners_configure_alerts(client, personas, who):
    client.force_login(getattr(personas, who))
    assert client.get(url(personas)).status_code == 403
    data = {"kind": "slack", "name": "#ops", "url": SECRET_URL}
    assert client.post(url(personas, "add"), data).status_code == 403


def test_another_tenants_channel_id_is_404(owner, personas):
    with tenant_context(personas.beta):
        from apps.alerts import services
        from apps.incidents.models import Project

        foreign, _ = services.create_channel(
            project=Project.objects.get(slug="shared"), kind="slack", name="beta", url=SECRET_URL
        )
    response = owner.post(
        url(personas, "act", slug="shared"), {"channel": foreign.pk, "action": "delete"}
    )
    assert response.status_code == 404
    with tenant_context(personas.beta):
        assert Channel.objects.filter(pk=foreign.pk).exists()


def test_page_queries_do_not_grow_with_channels_rules_and_log(owner, personas):
    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            assert owner.get(url(personas)).status_code == 200
        return len(captured)

    def add(n: int) -> None:
        data = {"kind": "slack", "name": f"c{n}", "url": SECRET_URL}
        owner.post(url(personas, "add"), data)
        with tenant_context(personas.alpha):
            from apps.alerts import services

            channel = Channel.objects.get(name=f"c{n}")
            rule = AlertRule.objects.create(project=channel.project, name=f"r{n}", event="finding")
            rule.channels.set([channel])
            services.send_test(channel)

    add(0)
    baseline = queries()
    assert baseline <= 23  # session, user, tenant, membership … + 7 for the page (alerts in)
    for n in range(1, 4):
        add(n)
    assert queries() == baseline
    part = owner.get(url(personas) + "?part=log", **HX).content.decode()
    assert (
        part.lstrip().startswith('<section id="log"') and part.count('data-testid="log-row"') == 4
    )


def test_the_page_lists_alerts_received_with_their_incidents(owner, personas):
    from datetime import UTC, datetime

    from apps.alerts.inbound import services as inbound
    from apps.alerts.inbound.payloads import AlertStatus, InAlert
    from apps.incidents.models import Project

    page = owner.get(url(personas)).content.decode()
    assert "/ingest/alerts/alertmanager" in page and "No alert received yet." in page
    alert = InAlert(
        status=AlertStatus.FIRING, fingerprint="f1", name="DiskFull", service="storage",
        severity="warning", summary="", starts_at=datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC),
        ends_at=None, labels={"alertname": "DiskFull", "service": "storage"},
    )  # fmt: skip
    with tenant_context(personas.alpha):
        project = Project.objects.get(slug="alpha-marker")
        (incident_id,) = inbound.receive(project=project, sender="grafana", alerts=[alert]).opened
    page = owner.get(url(personas)).content.decode()
    assert 'data-testid="inbound-row"' in page and "DiskFull" in page and "storage" in page
    assert f'href="{personas.alpha.url_prefix}incidents/{incident_id}/"' in page
