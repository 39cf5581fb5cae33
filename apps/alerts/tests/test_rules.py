"""Alert rules: the stream's auto-opened incident, severity and category filters, snooze,
reminders, escalation, new error groups; all without the network (messages are only queued)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import transaction
from django.utils import timezone

from apps.alerts import services, triggers
from apps.alerts.models import Alert, AlertRule, Channel, Notification
from apps.core.rules.finding import Finding
from apps.core.vocabulary import Severity
from apps.incidents import services as incidents
from apps.streams import incidents as stream_incidents
from apps.streams.models import StreamAlarm

pytestmark = pytest.mark.django_db
LATER = timedelta(seconds=61)


@pytest.fixture
def slack(project):
    channel, _ = services.create_channel(
        project=project, kind=Channel.Kind.SLACK, name="#ops", url="https://hooks.example/x"
    )
    return channel


def rule(project, channel, **fields) -> AlertRule:
    made = AlertRule.objects.create(project=project, name=fields.pop("name", "r"), **fields)
    made.channels.set([channel])
    return made


def queued(**filters) -> list[Notification]:
    return list(Notification.objects.filter(**filters).order_by("pk"))


def test_the_streams_auto_opened_incident_notifies_once(project, slack):
    opened = rule(project, slack, event=AlertRule.Event.INCIDENT_OPENED)
    now = timezone.now()
    for minute in (0, 1):  # a second alarm of the same failure joins the incident
        alarm = StreamAlarm.objects.create(
            project=project, category="db-too-many-connections", service="api",
            rule_id="db.pg", title="PostgreSQL refused connections", severity="critical",
            count=3, first_ts=now + timedelta(minutes=minute),
            last_ts=now + timedelta(minutes=minute),
        )  # fmt: skip
        with transaction.atomic():
            stream_incidents.take(alarm)
    (alert,) = Alert.objects.filter(rule=opened)
    assert alert.reasons == ["incident opened"]
    assert services.flush_due(now + LATER + timedelta(minutes=1)) == 1
    (notification,) = queued()
    message = notification.message
    assert message["title"].startswith("PostgreSQL refused connections in api")
    assert message["service"] == "api" and message["incident_severity"] == "SEV2"
    assert services.flush_due(now + timedelta(hours=1)) == 0  # no reminders unless asked


def test_severity_and_category_filter_findings(project, slack):
    severe = rule(project, slack, event=AlertRule.Event.FINDING, min_severity="critical")
    disk = rule(project, slack, event=AlertRule.Event.FINDING, category="disk-full")
    incident = incidents.open_incident(project=project, title="x")

    def finding(category, severity):
        return Finding(category + ".r", category, Severity(severity), f"{category} t", "", "")

    job = type("Job", (), {"incident": incident})()
    triggers.on_findings(job, [finding("db", "error"), finding("disk-full", "warning")], {})
    assert not Alert.objects.filter(rule=severe).exists()
    assert Alert.objects.get(rule=disk).reasons == ["warning: disk-full t"]
    triggers.on_findings(job, [finding("oom", "critical")], {})
    assert Alert.objects.get(rule=severe).matches == 1


def test_group_seconds_zero_sends_at_once(project, slack):
    rule(project, slack, event=AlertRule.Event.INCIDENT_OPENED, group_seconds=0)
    incidents.open_incident(project=project, title="now")
    assert len(queued(action="trigger")) == 1


def test_snooze_holds_the_message_until_it_ends(project, slack):
    now = timezone.now()
    snoozed = rule(
        project,
        slack,
        event=AlertRule.Event.INCIDENT_OPENED,
        snoozed_until=now + timedelta(hours=1),
    )
    incidents.open_incident(project=project, title="quiet please")
    assert services.flush_due(now + LATER) == 0
    assert Alert.objects.get(rule=snoozed).due_at is not None  # still waiting
    assert services.flush_due(now + timedelta(hours=1, seconds=1)) == 1


def test_a_snoozed_alert_resolved_before_it_was_sent_stays_silent(project, slack):
    now = timezone.now()
    rule(
        project,
        slack,
        event=AlertRule.Event.INCIDENT_OPENED,
        snoozed_until=now + timedelta(hours=1),
    )
    incident = incidents.open_incident(project=project, title="blip")
    incidents.update_triage(incident=incident, status="resolved", severity=incident.severity)
    assert services.flush_due(now + timedelta(hours=2)) == 0
    assert queued() == []


def test_reminders_while_the_alert_stays_open(project, slack):
    rule(project, slack, event=AlertRule.Event.INCIDENT_OPENED, renotify_minutes=30)
    incident = incidents.open_incident(project=project, title="long one")
    now = timezone.now()
    assert services.flush_due(now + LATER) == 1
    assert services.flush_due(now + timedelta(minutes=20)) == 0
    assert services.flush_due(now + timedelta(minutes=32)) == 1
    assert [n.action for n in queued()] == ["trigger", "remind"]
    assert queued()[1].message["title"] == "long one"
    incidents.update_triage(incident=incident, status="resolved", severity=incident.severity)
    assert services.flush_due(now + timedelta(hours=5)) == 0
    assert [n.action for n in queued()] == ["trigger", "remind", "resolve"]


def test_escalation_notifies_again(project, slack):
    rule(project, slack, event=AlertRule.Event.INCIDENT_OPENED)
    incident = incidents.open_incident(project=project, title="worse")
    assert services.flush_due(timezone.now() + LATER) == 1
    incidents.update_triage(incident=incident, status="investigating", severity="sev1")
    assert [n.action for n in queued()] == ["trigger", "remind"]
    assert queued()[1].message["incident_severity"] == "SEV1"


def test_resolved_elsewhere_is_resolved_by_the_sweep(project, slack):
    rule(project, slack, event=AlertRule.Event.INCIDENT_OPENED)
    incident = incidents.open_incident(project=project, title="admin closed it")
    services.flush_due(timezone.now() + LATER)
    type(incident).objects.filter(pk=incident.pk).update(status="resolved")  # not via services
    assert services.resolve_missed() == 1
    assert [n.action for n in queued()] == ["trigger", "resolve"]


def test_a_disabled_channel_gets_nothing(project, slack):
    rule(project, slack, event=AlertRule.Event.INCIDENT_OPENED)
    Channel.objects.filter(pk=slack.pk).update(enabled=False)
    incidents.open_incident(project=project, title="muted")
    assert services.flush_due(timezone.now() + LATER) == 0


def test_a_bug_in_alerts_never_fails_the_ingest_job(project, slack, monkeypatch):
    rule(project, slack, event=AlertRule.Event.FINDING)
    incident = incidents.open_incident(project=project, title="x")

    def broken(*args, **kwargs):
        raise RuntimeError("bug")

    monkeypatch.setattr(services, "record_match", broken)
    job = type("Job", (), {"incident": incident, "pk": 1})()
    finding = Finding("db.r", "db", Severity.ERROR, "db t", "", "")
    triggers.on_findings(job, [finding], {})  # logged, not raised
    assert not Alert.objects.exists()


def test_new_error_groups_fire_their_rule(project, slack):
    from apps.alerts.tests.test_flow import upload

    new_group = rule(project, slack, event=AlertRule.Event.NEW_GROUP)
    incident = upload(project=project)
    alert = Alert.objects.get(rule=new_group, incident=incident)
    assert alert.matches >= 1 and all(r.startswith("new error group: ") for r in alert.reasons)
    later = upload(project=project)  # the same groups again: not new any more
    assert not Alert.objects.filter(rule=new_group, incident=later).exists()
