"""Alert routing per project: where messages go (channels), when (rules), what was decided
(alerts: one per rule and incident, the dedup key's state) and what was sent (notifications,
one job per message and channel, with a delivery log).

These tables live in each tenant's schema; ids repeat across schemas.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models

from apps.core.vocabulary import SEVERITY_ORDER
from apps.incidents.models import Incident, Project
from apps.jobs.models import Job


class ChannelKind(models.TextChoices):
    SLACK = "slack", "Slack"
    TEAMS = "teams", "Microsoft Teams"
    EMAIL = "email", "E-mail"
    PAGERDUTY = "pagerduty", "PagerDuty"
    WEBHOOK = "webhook", "Webhook (Standard Webhooks)"


class Channel(models.Model):
    """A destination. Its URL, routing key or signing secret is sealed (apps/core/sealing.py,
    bound to the tenant's schema) and never shown again; `hint` is what the page shows."""

    Kind = ChannelKind

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="alert_channels")
    kind = models.CharField(max_length=12, choices=ChannelKind.choices)
    name = models.CharField(max_length=80)
    sealed = models.TextField()  # sealed JSON: {"url": …, "routing_key": …, "secret": …}
    hint = models.CharField(max_length=120, blank=True)  # "hooks.slack.com …/a1b2"
    recipients = models.TextField(blank=True)  # e-mail: addresses, one a line (not secret)
    enabled = models.BooleanField(default=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.DO_NOTHING,
        db_constraint=False,  # users live in the public schema
        related_name="+",
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name", "id"]

    def __str__(self) -> str:
        return f"{self.get_kind_display()}: {self.name}"

    @property
    def recipient_list(self) -> list[str]:
        return [r.strip() for r in self.recipients.splitlines() if r.strip()]


class AlertRule(models.Model):
    """When to notify: an incident opened (or escalated), a finding of a severity or category,
    a new error group. Matches within `group_seconds` of the first become one message; while
    the alert stays open a reminder goes every `renotify_minutes` (0: never)."""

    class Event(models.TextChoices):
        INCIDENT_OPENED = "incident_opened", "Incident opened or escalated"
        FINDING = "finding", "Finding"
        NEW_GROUP = "new_group", "New error group"
        ERROR_RATE = "error_rate", "Error rate over a window (stream)"
        DEPLOY_ERRORS = "deploy_errors", "Deploy followed by errors (stream)"

    Severity = models.TextChoices(
        "Severity", [(s.name, (s.value, s.name.title())) for s in SEVERITY_ORDER]
    )

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="alert_rules")
    name = models.CharField(max_length=80)
    event = models.CharField(max_length=20, choices=Event.choices)
    min_severity = models.CharField(max_length=10, blank=True, choices=Severity.choices)
    category = models.SlugField(max_length=60, blank=True)  # a finding's category, "" = any
    channels = models.ManyToManyField(Channel, related_name="rules", blank=True)
    # stream rules (error rate, deploy followed by errors): the service ("" any), the window,
    # the least number of error records and, for the error rate, their least share of records
    service = models.CharField(max_length=200, blank=True)
    window_minutes = models.PositiveIntegerField(default=5)
    min_errors = models.PositiveIntegerField(default=10)
    error_percent = models.FloatField(default=5.0)
    group_seconds = models.PositiveIntegerField(default=60)  # wait for the burst, then one message
    renotify_minutes = models.PositiveIntegerField(default=0)  # 0: no reminders
    snoozed_until = models.DateTimeField(null=True, blank=True)
    # quiet hours, in `quiet_timezone`: messages due then wait until they end (start == end: none)
    quiet_start = models.TimeField(null=True, blank=True)
    quiet_end = models.TimeField(null=True, blank=True)
    quiet_timezone = models.CharField(max_length=64, default="UTC")
    enabled = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name", "id"]

    def __str__(self) -> str:
        return self.name


class Alert(models.Model):
    """One rule firing for one incident: the state behind its dedup key. Matches gather while
    `due_at` is ahead (the burst); the message goes when it passes."""

    class Status(models.TextChoices):
        FIRING = "firing", "Firing"
        RESOLVED = "resolved", "Resolved"

    rule = models.ForeignKey(AlertRule, on_delete=models.CASCADE, related_name="alerts")
    incident = models.ForeignKey(Incident, on_delete=models.CASCADE, related_name="alerts")
    dedup_key = models.CharField(max_length=255, unique=True)  # PagerDuty's dedup_key too
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.FIRING)
    matches = models.PositiveIntegerField(default=0)
    reasons = models.JSONField(default=list)  # the latest few matches, for the message
    first_at = models.DateTimeField()
    last_at = models.DateTimeField()
    due_at = models.DateTimeField(null=True)  # a message is waiting to go at this time
    notified_at = models.DateTimeField(null=True)  # the last trigger or reminder sent
    acknowledged_at = models.DateTimeField(null=True)  # no reminders after; PagerDuty told
    resolved_at = models.DateTimeField(null=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["rule", "incident"], name="one_alert_per_rule_incident")
        ]
        indexes = [models.Index(fields=["status", "due_at"], name="alert_due")]

    def __str__(self) -> str:
        return self.dedup_key


class Notification(Job):
    """One message to one channel: a job (apps.jobs) whose every HTTP try is logged.
    `key` is the idempotency key (the webhook-id; the e-mail's Message-ID) and stays the same
    on every try, so a receiver sees a retry after a lost worker as the same message."""

    class Action(models.TextChoices):
        TRIGGER = "trigger", "Trigger"
        REMIND = "remind", "Reminder"
        ACKNOWLEDGE = "acknowledge", "Acknowledge"
        RESOLVE = "resolve", "Resolve"
        TEST = "test", "Test"

    alert = models.ForeignKey(
        Alert, null=True, on_delete=models.CASCADE, related_name="notifications"
    )
    channel = models.ForeignKey(Channel, on_delete=models.CASCADE, related_name="notifications")
    action = models.CharField(max_length=12, choices=Action.choices)
    key = models.CharField(max_length=64, unique=True)
    message = models.JSONField(default=dict)  # the rendered fields (no secrets)
    next_try_at = models.DateTimeField(null=True)  # a retry waits until then
    response_code = models.PositiveSmallIntegerField(null=True)  # of the last try

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["status", "next_try_at"], name="notification_due")]

    def __str__(self) -> str:
        return f"{self.action} → {self.channel_id}"


class DeliveryAttempt(models.Model):
    """One try of a notification: when, the outcome and the answer's status, never a secret."""

    notification = models.ForeignKey(
        Notification, on_delete=models.CASCADE, related_name="attempts_log"
    )
    number = models.PositiveSmallIntegerField()
    at = models.DateTimeField(auto_now_add=True)
    ok = models.BooleanField(default=False)
    response_code = models.PositiveSmallIntegerField(null=True)
    detail = models.CharField(max_length=300, blank=True)
    duration_ms = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["notification", "number", "id"]

    def __str__(self) -> str:
        return f"{self.notification_id}#{self.number}"


class InboundAlert(models.Model):
    """An alert received from Alertmanager or Grafana (apps.alerts.inbound): one per sender,
    fingerprint and start, so a resend is the same row. Its labels are the incident's tags."""

    class Sender(models.TextChoices):
        ALERTMANAGER = "alertmanager", "Prometheus Alertmanager"
        GRAFANA = "grafana", "Grafana"

    class Status(models.TextChoices):
        FIRING = "firing", "Firing"
        RESOLVED = "resolved", "Resolved"
        NO_DATA = "no_data", "No data"  # Grafana legacy: recorded, never an incident

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="+")
    incident = models.ForeignKey(
        Incident, on_delete=models.CASCADE, null=True, related_name="inbound_alerts"
    )  # None: no_data
    sender = models.CharField(max_length=12, choices=Sender.choices)
    fingerprint = models.CharField(max_length=64)
    name = models.CharField(max_length=200)
    service = models.CharField(max_length=200, blank=True)
    severity = models.CharField(max_length=20, blank=True)
    summary = models.TextField(blank=True)
    url = models.CharField(max_length=2000, blank=True)  # generatorURL: shown as a link (http)
    labels = models.JSONField(default=dict)
    annotations = models.JSONField(default=dict)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.FIRING)
    starts_at = models.DateTimeField()
    ends_at = models.DateTimeField(null=True)
    opened_incident = models.BooleanField(default=False)  # this alert opened it (may resolve it)
    joined_acknowledged = models.BooleanField(default=False)  # joined it quietly: no new page
    received = models.PositiveIntegerField(default=1)  # deliveries, resends included
    first_received_at = models.DateTimeField()
    last_received_at = models.DateTimeField()
    analysis_requested_at = models.DateTimeField(null=True)

    class Meta:
        ordering = ["-starts_at", "-pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["project", "sender", "fingerprint", "starts_at"], name="inbound_alert_once"
            )
        ]
        indexes = [models.Index(fields=["incident", "status"], name="inbound_alert_incident")]

    def __str__(self) -> str:
        return f"{self.name} ({self.service or '-'}) at {self.starts_at:%Y-%m-%d %H:%M}"
