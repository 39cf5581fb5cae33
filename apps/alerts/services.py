"""Alert state and the messages it queues.

A rule's match for an incident lands on the one `Alert` of (rule, incident), whose dedup key
is stable (`aiops:<schema>:<rule>:<incident>`, PagerDuty's dedup_key too):

- the first match sets `due_at` = now + the rule's `group_seconds`; matches until then are
  counted into the same alert (a burst of fifty findings is one message);
- when `due_at` passes (`flush_due`, run by the alerts sweep; at once for group_seconds 0),
  one notification per enabled channel of the rule is queued; later matches only count;
- while the alert fires, a reminder every `renotify_minutes` (0: none); a snoozed rule keeps
  its alerts waiting until the snooze ends;
- quiet hours (apps.alerts.quiet): a message due in them waits until they end;
- the incident acknowledged: reminders stop, and the channels that got the trigger get an
  acknowledge (PagerDuty and webhooks with the same dedup key; Slack, Teams and e-mail a short
  "acknowledged by" message); a trigger still waiting is dropped, and so is any message due
  while it stays acknowledged (a new alert or an escalation joins it quietly: nobody is
  paged again for an incident someone has taken);
- the incident resolved: the alert resolves, and channels that got its trigger get a resolve.

Notifications are queued as jobs on commit (apps.tenants.jobs), never sent from the request.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

from django.db import connection, transaction
from django.db.models import Q
from django.utils import timezone

from apps.alerts import channels, messages, quiet
from apps.alerts.formats import AlertMessage
from apps.alerts.models import Alert, AlertRule, Channel, Notification
from apps.incidents.models import Incident
from apps.jobs import lifecycle
from apps.tenants.jobs import enqueue_tenant_task

DELIVER_TASK = "apps.alerts.tasks.deliver"
REASONS_KEPT = 5
TURN = 500  # alerts per sweep turn


def dedup_key(rule: AlertRule, incident: Incident) -> str:
    return f"aiops:{connection.schema_name}:{rule.pk}:{incident.pk}"


@transaction.atomic
def record_match(
    rule: AlertRule, incident: Incident, reason: str, *, now: datetime | None = None,
    again: bool = False,
) -> Alert:  # fmt: skip
    """Count one match of `rule` for `incident`. `again` (an escalation) makes an alert that
    was already notified due again at once."""
    now = now or timezone.now()
    alert, created = Alert.objects.select_for_update().get_or_create(
        rule=rule,
        incident=incident,
        defaults={"dedup_key": dedup_key(rule, incident), "first_at": now, "last_at": now},
    )
    if created or alert.status == Alert.Status.RESOLVED:
        alert.status, alert.resolved_at, alert.notified_at = Alert.Status.FIRING, None, None
        alert.acknowledged_at = None
        alert.matches, alert.reasons, alert.first_at = 0, [], now
        alert.due_at = now + timedelta(seconds=rule.group_seconds)
    elif again and alert.due_at is None:
        alert.due_at = now
    if reason not in alert.reasons:
        alert.matches += 1
        alert.reasons = [*alert.reasons, reason][-REASONS_KEPT:]
    alert.last_at = now
    alert.save()
    if alert.due_at is not None and alert.due_at <= now:
        flush(alert, now)
    return alert


def flush(alert: Alert, now: datetime) -> list[Notification]:
    """Queue the alert's waiting message (trigger, or reminder once notified). In the
    caller's transaction, with the alert locked."""
    rule = alert.rule
    if rule.snoozed_until is not None and rule.snoozed_until > now:
        return []  # stays due: the message goes when the snooze ends, if still open
    held = quiet.quiet_until(rule.quiet_start, rule.quiet_end, rule.quiet_timezone, now)
    if held is not None:
        alert.due_at = held  # sent when quiet hours end, if still open
        alert.save(update_fields=["due_at"])
        return []
    incident = alert.incident
    alert.due_at = None
    if incident.status == Incident.Status.ACKNOWLEDGED:  # someone has it: joins quietly
        alert.acknowledged_at = alert.acknowledged_at or now
        alert.save(update_fields=["due_at", "acknowledged_at"])
        return []
    if not rule.enabled or incident.status == Incident.Status.RESOLVED:
        alert.save(update_fields=["due_at"])
        return []
    action = (
        Notification.Action.TRIGGER if alert.notified_at is None else Notification.Action.REMIND
    )
    message = messages.render(incident, action, now, alert=alert)
    queued = queue(alert, list(rule.channels.filter(enabled=True)), message)
    alert.notified_at = now
    alert.save(update_fields=["due_at", "notified_at"])
    return queued


def queue(
    alert: Alert | None, channels: list[Channel], message: AlertMessage
) -> list[Notification]:
    """One notification job per channel, each with its own idempotency key, sent on commit."""
    rows = Notification.objects.bulk_create(
        Notification(
            alert=alert,
            channel=channel,
            action=message.action,
            key=f"msg_{uuid.uuid4().hex}",
            message=message.as_dict(),
        )
        for channel in channels
    )
    for row in rows:
        enqueue_tenant_task(DELIVER_TASK, row.pk, schema_name=connection.schema_name)
    return rows


@transaction.atomic
def flush_due(now: datetime | None = None) -> int:
    """Queue every alert message whose time has come (bursts over, reminders due); the number
    of notifications queued."""
    now = now or timezone.now()
    for alert in _reminders_due(now):
        Alert.objects.filter(pk=alert.pk, due_at__isnull=True).update(due_at=now)
    due = (
        Alert.objects.select_for_update(skip_locked=True, of=("self",))
        .select_related("rule", "incident__project")
        .filter(status=Alert.Status.FIRING, due_at__lte=now)
        .order_by("due_at")[:TURN]
    )
    return sum(len(flush(alert, now)) for alert in due)


def _reminders_due(now: datetime) -> list[Alert]:
    firing = Alert.objects.select_related("rule").filter(
        status=Alert.Status.FIRING,
        due_at__isnull=True,
        notified_at__isnull=False,
        acknowledged_at__isnull=True,
        rule__renotify_minutes__gt=0,
        rule__enabled=True,
    )
    return [a for a in firing if a.notified_at + timedelta(minutes=a.rule.renotify_minutes) <= now]


@transaction.atomic
def resolve_incident(incident: Incident, now: datetime | None = None) -> list[Notification]:
    """Resolve the incident's firing alerts; the channels that heard the trigger hear the
    resolve (same dedup key). An alert still waiting for its burst ends silently."""
    now = now or timezone.now()
    queued: list[Notification] = []
    firing = (
        Alert.objects.select_for_update()
        .select_related("rule")
        .filter(incident=incident, status=Alert.Status.FIRING)
    )
    for alert in firing:
        notified = alert.notified_at is not None
        alert.status, alert.resolved_at, alert.due_at = Alert.Status.RESOLVED, now, None
        alert.save(update_fields=["status", "resolved_at", "due_at"])
        if notified and alert.rule.enabled:
            told = Channel.objects.filter(
                enabled=True,
                notifications__alert=alert,
                notifications__action=Notification.Action.TRIGGER,
            ).distinct()
            message = messages.render(incident, Notification.Action.RESOLVE, now, alert=alert)
            queued += queue(alert, list(told), message)
    return queued


@transaction.atomic
def acknowledge_incident(
    incident: Incident, now: datetime | None = None, *, by: str = ""
) -> list[Notification]:
    """Someone (`by`) took the incident: its firing alerts stop reminding, a trigger still
    waiting is dropped, and every channel that heard the trigger hears an acknowledge (not
    held by quiet hours, like a resolve): PagerDuty's with the dedup key, a short "acknowledged
    by" message elsewhere (e-mail threaded with the trigger)."""
    now = now or timezone.now()
    queued: list[Notification] = []
    firing = (
        Alert.objects.select_for_update()
        .select_related("rule")
        .filter(incident=incident, status=Alert.Status.FIRING, acknowledged_at__isnull=True)
    )
    for alert in firing:
        alert.acknowledged_at = now
        if alert.notified_at is None:
            alert.due_at = None
        alert.save(update_fields=["acknowledged_at", "due_at"])
        if alert.notified_at is None or not alert.rule.enabled:
            continue
        told = Channel.objects.filter(
            enabled=True,
            notifications__alert=alert,
            notifications__action=Notification.Action.TRIGGER,
        ).distinct()
        action = Notification.Action.ACKNOWLEDGE
        message = messages.render(incident, action, now, alert=alert, by=by)
        queued += queue(alert, list(told), message)
    return queued


def resolve_missed(now: datetime | None = None) -> int:
    """The sweep's backstop: firing alerts whose incident was resolved some other way (the
    admin, a script) get their resolve too."""
    incidents = Incident.objects.filter(
        status=Incident.Status.RESOLVED, alerts__status=Alert.Status.FIRING
    ).distinct()
    return sum(len(resolve_incident(incident, now)) for incident in incidents)


@transaction.atomic
def send_test(channel: Channel, *, now: datetime | None = None) -> Notification:
    """Queue a test message to `channel` (the *Send test* button)."""
    now = now or timezone.now()
    key = f"msg_{uuid.uuid4().hex}"
    message = messages.test_message(channel.name, channel.project.name, now, key)
    (row,) = queue(None, [channel], message)
    return row


def due_notifications(now: datetime | None = None) -> list[int]:
    """Notifications a delivery should pick up now: retries whose time came, queued rows
    whose task was lost, running rows whose worker died (apps.jobs staleness)."""
    now = now or timezone.now()
    retry_due = Q(status=Notification.Status.QUEUED, next_try_at__lte=now)
    lost = Q(
        status=Notification.Status.QUEUED,
        next_try_at__isnull=True,
        created_at__lt=now - timedelta(minutes=2),
    )
    dead = Q(status=Notification.Status.RUNNING) & lifecycle.claimable(now)
    rows = Notification.objects.filter(retry_due | lost | dead)
    return list(rows.values_list("pk", flat=True)[:TURN])


@transaction.atomic
def create_channel(
    *,
    project,
    kind: str,
    name: str,
    url: str = "",
    routing_key: str = "",
    recipients: str = "",
    created_by=None,
) -> tuple[Channel, str]:
    """A channel with its secret part sealed. Returns it and the one secret to show once (a
    webhook's signing secret, generated here; "" for the others)."""
    shown = ""
    config: dict[str, str] = {}
    hint = ""
    if kind in (Channel.Kind.SLACK, Channel.Kind.TEAMS, Channel.Kind.WEBHOOK):
        config["url"], hint = url, channels.url_hint(url)
    if kind == Channel.Kind.WEBHOOK:
        shown = config["secret"] = channels.new_signing_secret()
    if kind == Channel.Kind.PAGERDUTY:
        config["routing_key"], hint = routing_key, channels.key_hint(routing_key)
        if url:  # an Events API v2 endpoint other than PagerDuty's own (EU, a test double)
            config["url"] = url
    if kind == Channel.Kind.EMAIL:
        hint = f"{len([r for r in recipients.splitlines() if r.strip()])} recipient(s)"
    channel = Channel.objects.create(
        project=project,
        kind=kind,
        name=name,
        sealed=channels.seal_config(kind, config),
        hint=hint,
        recipients=recipients if kind == Channel.Kind.EMAIL else "",
        created_by=created_by,
    )
    return channel, shown
