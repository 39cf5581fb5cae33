"""End to end: an incident with findings notifies Slack, e-mail, a signed webhook and
PagerDuty once each, with the root cause and the first evidence line; more findings of the
same incident add no message; the resolve follows on every channel that heard the trigger."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone
from standardwebhooks.webhooks import Webhook

from apps.alerts import delivery, services
from apps.alerts.models import Alert, AlertRule, Channel, Notification
from apps.alerts.tests.conftest import PD_KEY
from apps.alerts.tests.receivers import Receiver, check_pagerduty, check_slack
from apps.incidents import services as incidents
from apps.ingestion import services as ingestion

pytestmark = pytest.mark.django_db

LOG = """\
2024-03-02T10:00:00Z INFO api: request ok path=/checkout
2024-03-02T10:00:01Z ERROR api: FATAL: sorry, too many clients already
2024-03-02T10:00:02Z ERROR api: FATAL: sorry, too many clients already
2024-03-02T10:00:03Z ERROR api: FATAL: sorry, too many clients already
2024-03-02T10:00:04Z ERROR worker: java.lang.OutOfMemoryError: Java heap space
2024-03-02T10:00:06Z ERROR api: No space left on device
"""
FIRST_LINE = "2024-03-02T10:00:01Z ERROR api: FATAL: sorry, too many clients already"


def deliver_queued() -> list[str]:
    queued = Notification.objects.filter(status="queued").order_by("pk")
    return [delivery.deliver(pk) for pk in queued.values_list("pk", flat=True)]


def upload(incident=None, project=None, text=LOG):
    if incident is None:
        incident = ingestion.create_incident(
            project=project,
            title="checkout is down",
            uploads=[ingestion.upload_from_text(text)],
            run_inline=True,
        )
        jobs = incident.jobs.all()
    else:
        jobs = ingestion.add_files(
            incident=incident, uploads=[ingestion.upload_from_text(text)], run_inline=True
        )
    for job in jobs:
        ingestion.run_ingest(job.pk)
    return incident


@pytest.fixture
def wired(project, smtp):
    with Receiver() as slack, Receiver() as hook, Receiver() as pagerduty:
        made = {
            "slack": services.create_channel(
                project=project, kind=Channel.Kind.SLACK, name="#ops", url=f"{slack.url}/s"
            )[0],
            "email": services.create_channel(
                project=project,
                kind=Channel.Kind.EMAIL,
                name="oncall",
                recipients="oncall@example.com",
            )[0],
            "pagerduty": services.create_channel(
                project=project,
                kind=Channel.Kind.PAGERDUTY,
                name="pd",
                routing_key=PD_KEY,
                url=f"{pagerduty.url}/v2/enqueue",
            )[0],
        }
        made["webhook"], secret = services.create_channel(
            project=project, kind=Channel.Kind.WEBHOOK, name="hook", url=f"{hook.url}/in"
        )
        rule = AlertRule.objects.create(
            project=project, name="errors", event=AlertRule.Event.FINDING, min_severity="error"
        )
        rule.channels.set(made.values())
        yield rule, slack, hook, pagerduty, smtp, secret


def test_one_message_per_channel_for_a_burst_then_a_resolve(project, wired):
    rule, slack, hook, pagerduty, smtp, secret = wired
    incident = upload(project=project)
    alert = Alert.objects.get(rule=rule, incident=incident)
    assert alert.matches == 3  # three findings of the burst, one alert
    assert services.flush_due() == 0  # the burst's minute is not over
    assert services.flush_due(timezone.now() + timedelta(seconds=61)) == 4
    assert deliver_queued() == ["done"] * 4

    (message,) = slack.requests
    payload = message.json()
    check_slack(payload)
    text = str(payload)
    assert "checkout is down" in text and "too many clients" in text
    assert FIRST_LINE in text and "/t/alpha/incidents/" in text
    ((_, mail),) = smtp.mailbox.messages
    assert FIRST_LINE in mail.get_body(("plain",)).get_content()
    (signed,) = hook.requests
    data = Webhook(secret).verify(signed.body, signed.headers)
    assert data["type"] == "incident.alert.triggered"
    assert data["data"]["evidence"] == FIRST_LINE and data["data"]["service"] == "api"
    (trigger,) = pagerduty.requests
    check_pagerduty(trigger.json())
    assert trigger.json()["dedup_key"] == alert.dedup_key

    # more of the same incident: counted into the alert, no new message
    upload(incident, text=LOG.replace("10:00", "10:05"))
    assert services.flush_due(timezone.now() + timedelta(minutes=10)) == 0
    assert Notification.objects.filter(status="queued").count() == 0

    incidents.update_triage(incident=incident, status="resolved", severity=incident.severity)
    assert deliver_queued() == ["done"] * 4
    assert [len(r.requests) for r in (slack, hook, pagerduty)] == [2, 2, 2]
    assert slack.requests[1].json()["blocks"][0]["text"]["text"].startswith("Resolved: ")
    resolve = pagerduty.requests[1].json()
    check_pagerduty(resolve)
    assert resolve["event_action"] == "resolve" and resolve["dedup_key"] == alert.dedup_key
    data = Webhook(secret).verify(hook.requests[1].body, hook.requests[1].headers)
    assert data["type"] == "incident.alert.resolved"
    assert len(smtp.mailbox.messages) == 2
    alert.refresh_from_db()
    assert alert.status == Alert.Status.RESOLVED
