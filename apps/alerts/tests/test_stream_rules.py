"""Stream rules (error rate over a window, deploy followed by errors), quiet hours with a time
zone, and PagerDuty's acknowledge when an incident is acknowledged."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta

import pytest
from django.utils import timezone
from django_tenants.utils import tenant_context

from apps.alerts import delivery, services, stream_rules
from apps.alerts.forms import RuleForm
from apps.alerts.models import Alert, AlertRule, Channel, Notification
from apps.alerts.quiet import quiet_until
from apps.alerts.tests.conftest import PD_KEY
from apps.alerts.tests.receivers import check_pagerduty
from apps.deploys.models import Deploy
from apps.incidents import services as incidents
from apps.incidents.models import Incident
from apps.streams import draining
from apps.streams.models import StreamAlarm, StreamIncident
from apps.streams.tests.test_drain import records, spool

pytestmark = pytest.mark.django_db


class Token:  # what the streams' spool helper needs
    def __init__(self, tenant, project) -> None:
        self.tenant, self.project = tenant, project
        self.row = type("Row", (), {"pk": None})()


@pytest.fixture
def stream(alpha, project):
    """Put records into the project's stream (spool, then drain)."""
    token = Token(alpha, project)

    def put(batch, digest):
        spool(token, batch, digest)
        with tenant_context(alpha):
            while draining.drain_once():
                pass
            StreamAlarm.objects.all().delete()  # the stream's own incidents are not under test

    return put


@pytest.fixture
def slack(project, receiver):
    channel, _ = services.create_channel(
        project=project, kind=Channel.Kind.SLACK, name="#ops", url=f"{receiver.url}/s"
    )
    return channel


def make_rule(project, channel, **fields) -> AlertRule:
    rule = AlertRule.objects.create(project=project, name=fields.pop("name", "r"), **fields)
    rule.channels.set([channel])
    return rule


def test_an_error_rate_over_the_threshold_opens_an_incident_and_one_message(
    project, slack, stream, receiver
):
    now = timezone.now()
    at = now - timedelta(minutes=2)
    stream(records(100, errors=20, service="checkout", at=at), "hot")  # 20 %
    stream(records(100, errors=2, service="search", at=at), "mild")  # 2 %: under
    stream(records(100, errors=60, service="old", at=now - timedelta(hours=2)), "old")
    rule = make_rule(
        project, slack, event=AlertRule.Event.ERROR_RATE, window_minutes=5, min_errors=10,
        error_percent=5, group_seconds=0,
    )  # fmt: skip
    assert stream_rules.evaluate(now) == 1
    (alert,) = Alert.objects.filter(rule=rule)
    covering = StreamIncident.objects.get(incident=alert.incident)
    assert covering.service == "checkout" and covering.category == "alert:error-rate"
    assert alert.incident.title == "Error rate over 5% in checkout"
    assert alert.incident.jobs.count() == 1  # the stream around it, as a source
    (notification,) = Notification.objects.filter(alert=alert)
    assert delivery.deliver(notification.pk) == "done"
    assert "Error rate over 5% in checkout" in receiver.requests[0].body.decode()

    for minute in range(1, 4):  # the breach lasts: the same alert, no second message
        assert stream_rules.evaluate(now + timedelta(seconds=20 * minute)) == 1
    assert Alert.objects.filter(rule=rule).count() == 1
    assert Notification.objects.count() == 1
    assert Incident.objects.filter(title__startswith="Error rate").count() == 1


def test_the_error_rate_rule_of_one_service_and_its_minimum(project, slack, stream):
    at = timezone.now() - timedelta(minutes=1)
    stream(records(10, errors=5, service="checkout", at=at), "small")  # 50 % but only 5
    stream(records(100, errors=30, service="search", at=at), "search")
    make_rule(
        project, slack, event=AlertRule.Event.ERROR_RATE, min_errors=10, error_percent=5,
        service="checkout",
    )  # fmt: skip
    assert stream_rules.evaluate() == 0
    assert not Alert.objects.exists()


def test_a_deploy_followed_by_errors(project, slack, stream, receiver):
    now = timezone.now()
    deployed = now - timedelta(minutes=20)
    Deploy.objects.create(
        project=project, service="checkout", version="v42", started_at=deployed, source="cli"
    )
    Deploy.objects.create(  # a quiet deploy: no errors after it
        project=project, service="search", version="v7", started_at=deployed, source="cli"
    )
    stream(records(50, errors=12, service="checkout", at=deployed + timedelta(minutes=3)), "d")
    stream(records(50, errors=30, service="search", at=deployed - timedelta(minutes=5)), "e")
    rule = make_rule(
        project, slack, event=AlertRule.Event.DEPLOY_ERRORS, window_minutes=10, min_errors=10,
        group_seconds=0,
    )  # fmt: skip
    assert stream_rules.evaluate(now) == 1
    (alert,) = Alert.objects.filter(rule=rule)
    assert alert.incident.title == "Errors after the deploy of checkout v42"
    assert alert.reasons[0].startswith("checkout v42 deployed")
    assert stream_rules.evaluate(now + timedelta(minutes=1)) == 1  # same alert
    assert Notification.objects.filter(action="trigger").count() == 1

    incidents.update_triage(incident=alert.incident, status="resolved", severity="sev3")
    assert stream_rules.evaluate(now + timedelta(minutes=2)) == 0  # not again for v42
    assert Alert.objects.filter(rule=rule).count() == 1


def test_a_narrow_window_misses_errors_that_came_later(project, slack, stream):
    deployed = timezone.now() - timedelta(minutes=30)
    Deploy.objects.create(
        project=project, service="checkout", version="v1", started_at=deployed, source="cli"
    )
    stream(records(50, errors=20, service="checkout", at=deployed + timedelta(minutes=8)), "l")
    make_rule(project, slack, event=AlertRule.Event.DEPLOY_ERRORS, window_minutes=5)
    assert stream_rules.evaluate() == 0


BERLIN = "Europe/Berlin"


@pytest.mark.parametrize(
    ("start", "end", "tz", "now", "until"),
    [
        # a span crossing midnight, in Berlin (UTC+1 in January)
        (time(22), time(7), BERLIN, datetime(2026, 1, 10, 22, 30, tzinfo=UTC),
         datetime(2026, 1, 11, 6, 0, tzinfo=UTC)),
        (time(22), time(7), BERLIN, datetime(2026, 1, 10, 5, 0, tzinfo=UTC),
         datetime(2026, 1, 10, 6, 0, tzinfo=UTC)),
        (time(22), time(7), BERLIN, datetime(2026, 1, 10, 12, 0, tzinfo=UTC), None),
        (time(22), time(7), BERLIN, datetime(2026, 1, 10, 20, 59, tzinfo=UTC), None),
        (time(22), time(7), BERLIN, datetime(2026, 1, 10, 21, 0, tzinfo=UTC),
         datetime(2026, 1, 11, 6, 0, tzinfo=UTC)),
        # summer time: UTC+2
        (time(22), time(7), BERLIN, datetime(2026, 7, 10, 21, 0, tzinfo=UTC),
         datetime(2026, 7, 11, 5, 0, tzinfo=UTC)),
        # a day span in New York
        (time(9), time(17), "America/New_York", datetime(2026, 1, 10, 15, 0, tzinfo=UTC),
         datetime(2026, 1, 10, 22, 0, tzinfo=UTC)),
        (time(9), time(17), "America/New_York", datetime(2026, 1, 10, 22, 0, tzinfo=UTC), None),
        (time(9), time(9), "UTC", datetime(2026, 1, 10, 9, 0, tzinfo=UTC), None),  # none
        (None, None, "UTC", datetime(2026, 1, 10, 9, 0, tzinfo=UTC), None),
    ],
)  # fmt: skip
def test_quiet_hours(start, end, tz, now, until):
    assert quiet_until(start, end, tz, now) == until


def test_a_message_due_in_quiet_hours_is_sent_when_they_end(project, slack):
    now = timezone.now()
    local = now.astimezone(UTC)
    start = (local - timedelta(hours=1)).time().replace(second=0, microsecond=0)
    end = (local + timedelta(hours=1)).time().replace(second=0, microsecond=0)
    rule = make_rule(
        project, slack, event=AlertRule.Event.INCIDENT_OPENED, group_seconds=0,
        quiet_start=start, quiet_end=end, quiet_timezone="UTC",
    )  # fmt: skip
    incident = incidents.open_incident(project=project, title="at night")
    alert = Alert.objects.get(rule=rule, incident=incident)
    assert not Notification.objects.exists()  # held
    assert alert.due_at is not None and alert.due_at > now + timedelta(minutes=50)
    assert services.flush_due(now + timedelta(minutes=30)) == 0
    assert services.flush_due(alert.due_at + timedelta(seconds=1)) == 1
    assert Notification.objects.get().action == "trigger"


def test_the_rule_form_checks_quiet_hours_and_time_zone(project):
    base = {"name": "q", "event": "incident_opened", "group_seconds": 60,
            "renotify_minutes": 0, "window_minutes": 5, "min_errors": 10, "error_percent": 5}  # fmt: skip
    bad_zone = RuleForm({**base, "quiet_start": "22:00", "quiet_end": "07:00",
                         "quiet_timezone": "Mars/Olympus"}, project=project)  # fmt: skip
    assert "quiet_timezone" in bad_zone.errors
    half = RuleForm({**base, "quiet_start": "22:00", "quiet_timezone": "UTC"}, project=project)
    assert "quiet_end" in half.errors
    good = RuleForm({**base, "quiet_start": "22:00", "quiet_end": "07:00",
                     "quiet_timezone": BERLIN}, project=project)  # fmt: skip
    assert good.is_valid(), good.errors


def test_acknowledging_the_incident_acknowledges_pagerduty_with_the_same_key(
    project, receiver, slack
):
    pagerduty, _ = services.create_channel(
        project=project, kind=Channel.Kind.PAGERDUTY, name="pd", routing_key=PD_KEY,
        url=f"{receiver.url}/v2/enqueue",
    )  # fmt: skip
    rule = AlertRule.objects.create(
        project=project, name="opened", event=AlertRule.Event.INCIDENT_OPENED, group_seconds=0,
        renotify_minutes=5,
    )  # fmt: skip
    rule.channels.set([pagerduty, slack])
    incident = incidents.open_incident(project=project, title="db down", severity="sev2")
    for pk in Notification.objects.values_list("pk", flat=True):
        assert delivery.deliver(pk) == "done"
    alert = Alert.objects.get(rule=rule)
    incidents.update_triage(incident=incident, status="acknowledged", severity="sev2")
    acks = {n.channel: n for n in Notification.objects.filter(action="acknowledge")}
    assert set(acks) == {pagerduty, slack}  # Slack gets its short note (test_acknowledged.py)
    assert delivery.deliver(acks[pagerduty].pk) == "done"
    trigger, acknowledge = (r.json() for r in receiver.requests if r.path == "/v2/enqueue")
    check_pagerduty(acknowledge)
    assert acknowledge["event_action"] == "acknowledge"
    assert acknowledge["dedup_key"] == trigger["dedup_key"] == alert.dedup_key
    # acknowledged: no reminders; acknowledging again sends nothing more
    assert services.flush_due(timezone.now() + timedelta(minutes=30)) == 0
    incidents.update_triage(incident=incident, status="investigating", severity="sev2")
    incidents.update_triage(incident=incident, status="acknowledged", severity="sev2")
    assert Notification.objects.filter(action="acknowledge").count() == 2
    # the resolve still follows on both
    incidents.update_triage(incident=incident, status="resolved", severity="sev2")
    assert Notification.objects.filter(action="resolve").count() == 2


def test_a_failing_stream_rule_does_not_hold_the_sweeps_messages(project, slack, monkeypatch):
    from apps.alerts import tasks

    make_rule(project, slack, event=AlertRule.Event.ERROR_RATE)
    rule = make_rule(project, slack, name="opened", event=AlertRule.Event.INCIDENT_OPENED)
    incident = incidents.open_incident(project=project, title="waiting for its burst")
    Alert.objects.filter(rule=rule, incident=incident).update(due_at=timezone.now())

    def broken(rule, now):  # a bug in a rule's evaluation, injected
        raise ZeroDivisionError("injected")

    monkeypatch.setattr(stream_rules, "error_rate", broken)
    tasks.tick()
    assert Notification.objects.filter(alert__rule=rule, action="trigger").count() == 1
