"""An acknowledged incident: every channel that got the trigger hears who took it (Slack,
Teams and e-mail a short note, the e-mail threaded with the trigger; PagerDuty and webhooks
their acknowledge), even in quiet hours, like a resolve; and an alert or a finding that joins
it afterwards joins quietly: nobody is paged again."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta

import pytest
from django.utils import timezone
from django_tenants.utils import tenant_context
from standardwebhooks.webhooks import Webhook

from apps.alerts import delivery, services
from apps.alerts.models import Alert, AlertRule, Channel, InboundAlert, Notification
from apps.alerts.tests.conftest import PD_KEY
from apps.alerts.tests.receivers import check_pagerduty, check_slack, check_teams
from apps.alerts.tests.test_inbound import AM, am_payload, bearer, post
from apps.incidents import services as incidents
from apps.incidents.models import Incident
from apps.streams.tests.conftest import make_token

pytestmark = pytest.mark.django_db


def deliver_queued() -> list[str]:
    queued = Notification.objects.filter(status="queued").order_by("pk")
    return [delivery.deliver(pk) for pk in queued.values_list("pk", flat=True)]


@pytest.fixture
def every_channel(project, receiver, smtp):
    made = {
        kind: services.create_channel(project=project, kind=kind, name=kind, **extra)
        for kind, extra in [
            (Channel.Kind.SLACK, {"url": f"{receiver.url}/slack"}),
            (Channel.Kind.TEAMS, {"url": f"{receiver.url}/teams"}),
            (Channel.Kind.EMAIL, {"recipients": "oncall@example.com"}),
            (Channel.Kind.PAGERDUTY, {"routing_key": PD_KEY, "url": f"{receiver.url}/pd"}),
            (Channel.Kind.WEBHOOK, {"url": f"{receiver.url}/hook"}),
        ]
    }
    rule = AlertRule.objects.create(
        project=project, name="opened", event=AlertRule.Event.INCIDENT_OPENED, group_seconds=0,
        renotify_minutes=5,
    )  # fmt: skip
    rule.channels.set([channel for channel, _ in made.values()])
    return rule, made[Channel.Kind.WEBHOOK][1]


def received(receiver, path: str) -> list[dict]:
    return [r.json() for r in receiver.requests if r.path == path]


def test_every_channel_hears_who_acknowledged_it(
    client, personas, project, receiver, smtp, every_channel
):
    rule, secret = every_channel
    incident = incidents.open_incident(project=project, title="db down", severity="sev2")
    assert deliver_queued() == ["done"] * 5
    rule.quiet_start, rule.quiet_end = time(0, 0), time(23, 59)  # quiet hours from now on
    rule.save()
    member = personas.member
    member.first_name, member.last_name = "Ada", "Lovelace"
    member.save()
    client.force_login(member)
    response = client.post(
        f"/t/alpha/incidents/{incident.pk}/triage/",
        {"status": "acknowledged", "severity": "sev2"},
    )
    assert response.status_code == 302
    acks = Notification.objects.filter(action="acknowledge")
    assert acks.count() == 5  # not held by quiet hours, like a resolve
    assert deliver_queued() == ["done"] * 5

    _, slack_ack = received(receiver, "/slack")
    check_slack(slack_ack)
    assert slack_ack["blocks"][0]["text"]["text"] == "Acknowledged by Ada Lovelace: db down"
    assert "Root cause" not in str(slack_ack) and "Open incident" in str(slack_ack)
    _, teams_ack = received(receiver, "/teams")
    check_teams(teams_ack)
    card = teams_ack["attachments"][0]["content"]
    assert card["body"][0]["text"] == "Acknowledged by Ada Lovelace: db down"
    trigger, ack = received(receiver, "/pd")
    check_pagerduty(ack)
    assert ack["event_action"] == "acknowledge" and ack["dedup_key"] == trigger["dedup_key"]
    (signed,) = [r for r in receiver.requests if r.path == "/hook"][1:]
    data = Webhook(secret).verify(signed.body, signed.headers)
    assert data["type"] == "incident.alert.acknowledged" and data["data"]["by"] == "Ada Lovelace"
    (_, trigger_mail), (_, ack_mail) = smtp.mailbox.messages
    assert ack_mail["In-Reply-To"] == trigger_mail["Message-ID"] == ack_mail["References"]
    assert ack_mail["Subject"] == f"Re: {trigger_mail['Subject']}"
    text = ack_mail.get_body(("plain",)).get_content()
    assert text.startswith("Acknowledged by Ada Lovelace: db down") and "Root cause" not in text


def test_a_trigger_held_by_quiet_hours_gets_no_acknowledgement(project, receiver, every_channel):
    rule, _ = every_channel
    rule.quiet_start, rule.quiet_end = time(0, 0), time(23, 59)
    rule.save()
    incident = incidents.open_incident(project=project, title="at night", severity="sev2")
    assert not Notification.objects.exists()  # held until the quiet hours end
    incidents.update_triage(incident=incident, status="acknowledged", severity="sev2", by="Ada")
    assert not Notification.objects.exists()  # nobody heard the trigger: nothing to follow up
    assert Alert.objects.get(rule=rule).due_at is None  # and it is not sent later either


@pytest.mark.parametrize("acknowledged", [True, False])
def test_an_alert_joining_an_acknowledged_incident_pages_nobody(
    client, alpha, personas, receiver, smtp, acknowledged
):
    token = make_token("alpha", "alerts-in", "alertmanager")
    channel, _ = services.create_channel(
        project=token.project, kind=Channel.Kind.PAGERDUTY, name="pd", routing_key=PD_KEY,
        url=f"{receiver.url}/pd",
    )  # fmt: skip
    for name, event in [("opened", "incident_opened"), ("findings", "finding")]:
        rule = AlertRule.objects.create(
            project=token.project, name=name, event=event, group_seconds=0, renotify_minutes=5
        )
        rule.channels.set([channel])
    warning = am_payload(fp="0000000000000001")
    warning["alerts"][0]["labels"]["severity"] = "warning"  # SEV3
    (incident_id,) = post(client, AM, warning, bearer(token)).json()["opened"]
    with tenant_context(token.tenant):
        assert deliver_queued() == ["done"]  # the trigger
        incident = Incident.objects.get(pk=incident_id)
        if acknowledged:
            incidents.update_triage(incident=incident, status="acknowledged", severity="sev3")
            assert deliver_queued() == ["done"]  # PagerDuty's acknowledge
    graver = am_payload(fp="0000000000000002", starts=datetime.now(UTC) - timedelta(minutes=1))
    body = post(client, AM, graver, bearer(token)).json()  # critical: escalates to SEV2
    assert body["joined"] == [incident_id]
    with tenant_context(token.tenant):
        incident.refresh_from_db()
        assert incident.severity == Incident.Severity.SEV2  # the severity still rises
        finding_rule = AlertRule.objects.get(name="findings")
        services.record_match(finding_rule, incident, "critical: too many connections")
        services.flush_due(timezone.now() + timedelta(minutes=1))
        paged = Notification.objects.filter(action__in=["trigger", "remind"]).exclude(
            pk=Notification.objects.order_by("pk").first().pk
        )
        quiet = InboundAlert.objects.get(fingerprint="0000000000000002").joined_acknowledged
        if acknowledged:
            assert not paged.exists()  # neither the escalation nor the new rule pages again
            assert quiet
            assert not Alert.objects.filter(acknowledged_at__isnull=True).exists()
            assert services.flush_due(timezone.now() + timedelta(hours=1)) == 0  # no reminder
        else:  # the same steps on an incident nobody took do page (the test can fail)
            assert {n.action for n in paged} == {"trigger", "remind"} and not quiet
    if acknowledged:
        client.force_login(personas.member)
        page = client.get(f"/t/alpha/incidents/{incident_id}/").content.decode()
        assert page.count('data-testid="alert-quiet"') == 1  # logged on the incident
