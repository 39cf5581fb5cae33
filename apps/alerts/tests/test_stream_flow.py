"""End to end from a stream: records posted to /ingest/http are drained, the stream opens an
incident, its range is ingested, and the findings rule notifies Slack, e-mail and a signed
webhook once each with the root cause and the first evidence line; a second burst of the same
failure grows the incident and adds no message; the resolve follows on all three."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from django.utils import timezone
from django_tenants.utils import tenant_context
from standardwebhooks.webhooks import Webhook

from apps.alerts import delivery, services
from apps.alerts.models import Alert, AlertRule, Channel, Notification
from apps.alerts.tests.receivers import Receiver, SmtpServer, check_slack
from apps.incidents import services as incidents
from apps.incidents.models import Incident
from apps.ingestion import services as ingestion
from apps.jobs.models import JobStatus
from apps.streams import draining
from apps.streams import incidents as stream_incidents
from apps.streams.models import StreamIncident
from apps.streams.tests.conftest import make_token

pytestmark = pytest.mark.django_db

FAILURE = "FATAL:  sorry, too many clients already"


def burst(start: datetime, service: str = "api") -> bytes:
    lines = [
        {"time": (start + timedelta(seconds=n)).isoformat(), "level": "INFO",
         "service": service, "message": f"GET /orders/{n} 200 in {n % 40} ms"}
        for n in range(30)
    ] + [
        {"time": (start + timedelta(seconds=30 + n)).isoformat(), "level": "FATAL",
         "service": service, "message": FAILURE}
        for n in range(6)
    ]  # fmt: skip
    return "\n".join(json.dumps(line) for line in lines).encode()


def post(client, token, body: bytes):
    response = client.generic(
        "POST", "/ingest/http", body, content_type="application/x-ndjson",
        HTTP_AUTHORIZATION=f"Bearer {token.text}",
    )  # fmt: skip
    assert response.status_code == 200, response.content


def drain_and_ingest(token, now: datetime) -> None:
    """What the drain task does (records, alarms → incidents, the range as a source), then
    the incident's ingest jobs (the findings reach the rules app and the alerts sink)."""
    with tenant_context(token.tenant):
        while draining.drain_once():
            pass
        stream_incidents.open_and_grow(now)
        for job in ingestion.IngestJob.objects.filter(status=JobStatus.QUEUED):
            ingestion.run_ingest(job.pk)


def deliver_queued() -> list[str]:
    queued = Notification.objects.filter(status="queued").order_by("pk")
    return [delivery.deliver(pk) for pk in queued.values_list("pk", flat=True)]


@pytest.fixture
def wired(settings):
    settings.ALERTS_EGRESS_ALLOW = ["127.0.0.1"]
    settings.ALERTS_RETRY_SECONDS = 0
    settings.ALERTS_SITE_URL = "https://aiops.example"
    settings.STREAM_INCIDENT_GROW_SECONDS = 1
    token = make_token("alpha", "alerts-stream", "stream")
    with Receiver() as slack, Receiver() as hook, SmtpServer() as smtp:
        settings.MAILERS = {
            "default": {
                "BACKEND": "django.core.mail.backends.smtp.EmailBackend",
                "OPTIONS": {"host": "127.0.0.1", "port": smtp.port, "use_tls": False},
            }
        }
        with tenant_context(token.tenant):
            made = [
                services.create_channel(
                    project=token.project, kind=Channel.Kind.SLACK, name="#ops",
                    url=f"{slack.url}/s",
                )[0],
                services.create_channel(
                    project=token.project, kind=Channel.Kind.EMAIL, name="oncall",
                    recipients="oncall@example.com",
                )[0],
            ]  # fmt: skip
            webhook, secret = services.create_channel(
                project=token.project, kind=Channel.Kind.WEBHOOK, name="hook", url=hook.url
            )
            rule = AlertRule.objects.create(
                project=token.project, name="errors", event=AlertRule.Event.FINDING,
                min_severity="error",
            )  # fmt: skip
            rule.channels.set([*made, webhook])
        yield token, rule, slack, hook, smtp, secret


def test_a_stream_incident_notifies_once_with_root_cause_and_first_line(client, wired, personas):
    token, rule, slack, hook, smtp, secret = wired
    start = timezone.now().replace(microsecond=0) - timedelta(minutes=3)
    post(client, token, burst(start))
    drain_and_ingest(token, timezone.now())
    with tenant_context(token.tenant):
        (covering,) = StreamIncident.objects.filter(project=token.project)
        incident = covering.incident
        alert = Alert.objects.get(rule=rule, incident=incident)
        first_match = alert.last_at
        assert services.flush_due() == 0  # the burst's minute is not over
        assert services.flush_due(timezone.now() + timedelta(seconds=61)) == 3
        assert deliver_queued() == ["done"] * 3

    first_line_time = (start + timedelta(seconds=30)).astimezone(UTC).isoformat()
    (message,) = slack.requests
    payload = message.json()
    check_slack(payload)
    text = json.dumps(payload)
    assert "too many clients" in text and incident.title in text
    ((_, mail),) = smtp.mailbox.messages
    body = mail.get_body(("plain",)).get_content()
    (signed,) = hook.requests
    data = Webhook(secret).verify(signed.body, signed.headers)["data"]
    assert data["service"] == "api" and "connection" in data["root_cause"].lower()
    evidence = data["evidence"]
    assert FAILURE.split(":")[0] in evidence and "too many clients" in evidence
    assert first_line_time[:19] in evidence  # the first failing record, not a later one
    assert evidence in body and "Root cause:" in body
    # a stream record reads as its time, level, service and message, not the raw JSON record
    assert evidence == f"{first_line_time[:19]}.000Z FATAL api: {FAILURE}"
    assert '"message"' not in text and '{"time"' not in body
    line_link = data["evidence_link"]
    assert line_link.startswith(f"https://aiops.example/t/alpha/incidents/{incident.pk}/evidence/")
    assert f"<{line_link}|Open the line>" in text and line_link in body
    client.force_login(personas.member)
    page = client.get(line_link.removeprefix("https://aiops.example"))
    assert page.status_code == 200 and "too many clients" in page.content.decode()

    # the failure again, 4 minutes later: the incident grows, its findings count into the alert
    later = start + timedelta(minutes=4)
    post(client, token, burst(later))
    drain_and_ingest(token, timezone.now() + timedelta(minutes=2))
    with tenant_context(token.tenant):
        assert Incident.objects.filter(project=token.project).count() == 1
        assert incident.jobs.count() == 2  # the range it grew by, as a second source
        alert.refresh_from_db()
        assert alert.last_at > first_match  # the second burst matched the same alert
        assert services.flush_due(timezone.now() + timedelta(minutes=10)) == 0
        assert not Notification.objects.filter(status="queued").exists()

        incidents.update_triage(incident=incident, status="resolved", severity=incident.severity)
        assert deliver_queued() == ["done"] * 3
    assert [len(slack.requests), len(hook.requests), len(smtp.mailbox.messages)] == [2, 2, 2]
    assert slack.requests[1].json()["blocks"][0]["text"]["text"].startswith("Resolved: ")
    resolved = Webhook(secret).verify(hook.requests[1].body, hook.requests[1].headers)
    assert resolved["type"] == "incident.alert.resolved"
    (_, trigger_mail), (_, resolve_mail) = smtp.mailbox.messages  # threaded with the trigger
    assert resolve_mail["In-Reply-To"] == trigger_mail["Message-ID"]
    assert resolve_mail["Subject"] == f"Re: {trigger_mail['Subject']}"
