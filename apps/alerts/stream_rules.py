"""Rules evaluated on a project's stream by the alerts sweep (once a minute, per tenant):

- **error rate**: in the last `window_minutes`, a service (the rule's, or each one) logged at
  least `min_errors` records of level ERROR or worse and they were at least `error_percent` %
  of its records;
- **deploy followed by errors**: a deploy of a service (the rule's, or any) was followed within
  `window_minutes` by at least `min_errors` error records of that service.

A breach opens or joins the incident that covers the service around the first error (the same
rule as alerts in: apps.alerts.inbound.services.open_or_join), pulls in the stream, and is
recorded as a match of the rule for that incident (burst grouping, dedup key, quiet hours and
the rest as for every rule). Each minute a breach lasts is one more match of the same alert,
under a stable reason, so it never becomes a second message.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.db import transaction
from django.db.models import Count, Min, Q
from django.utils import timezone

from apps.alerts import services
from apps.alerts.inbound import services as inbound
from apps.alerts.models import Alert, AlertRule
from apps.core.vocabulary import LEVEL_NUMBER
from apps.deploys.models import Deploy
from apps.incidents.models import Incident
from apps.streams import incidents as stream_incidents
from apps.streams.models import StreamEvent

ERROR = LEVEL_NUMBER["ERROR"]
LATE = timedelta(hours=1)  # records received this long after their time still count
DEPLOY_LOOKBACK = timedelta(hours=1)  # deploys whose window ended this long ago are done


def evaluate(now: datetime | None = None) -> int:
    """Evaluate every enabled stream rule of the current schema; the number of breaches."""
    now = now or timezone.now()
    breaches = 0
    rules = AlertRule.objects.select_related("project").filter(
        enabled=True, event__in=(AlertRule.Event.ERROR_RATE, AlertRule.Event.DEPLOY_ERRORS)
    )
    for rule in rules:
        if rule.event == AlertRule.Event.ERROR_RATE:
            breaches += error_rate(rule, now)
        else:
            breaches += deploy_errors(rule, now)
    return breaches


def _events(rule: AlertRule, since: datetime, until: datetime):
    return StreamEvent.objects.filter(
        project_id=rule.project_id,
        received_at__gte=since - LATE,  # prunes the project's day partitions
        ts__gte=since,
        ts__lt=until,
    )


def error_rate(rule: AlertRule, now: datetime) -> int:
    window = max(rule.window_minutes, 1)
    rows = _events(rule, now - timedelta(minutes=window), now)
    if rule.service:
        rows = rows.filter(service=rule.service)
    stats = rows.values("service").annotate(
        total=Count("*"),
        errors=Count("seq", filter=Q(level__gte=ERROR)),
        first_error=Min("ts", filter=Q(level__gte=ERROR)),
    )
    breaches = 0
    for row in stats:
        errors, total = row["errors"], row["total"]
        if not errors or errors < rule.min_errors or 100 * errors / total < rule.error_percent:
            continue
        service = row["service"]
        title = f"Error rate over {rule.error_percent:g}% in {service or 'the stream'}"
        reason = f"{title} for {window} min (rule {rule.name})"
        _breach(rule, service, row["first_error"], title, reason, now, "error-rate")
        breaches += 1
    return breaches


def deploy_errors(rule: AlertRule, now: datetime) -> int:
    window = timedelta(minutes=max(rule.window_minutes, 1))
    deploys = Deploy.objects.filter(
        project_id=rule.project_id,
        started_at__gte=now - window - DEPLOY_LOOKBACK,
        started_at__lte=now,
    ).exclude(status="pending")
    if rule.service:
        deploys = deploys.filter(service=rule.service)
    breaches = 0
    for deploy in deploys.order_by("started_at"):
        end = min(deploy.started_at + window, now)
        errors = _events(rule, deploy.started_at, end).filter(
            service=deploy.service, level__gte=ERROR
        )
        found = errors.aggregate(n=Count("*"), first=Min("ts"))
        if not found["n"] or found["n"] < rule.min_errors:
            continue
        version = f" {deploy.version}" if deploy.version else ""
        title = f"Errors after the deploy of {deploy.service}{version}"
        reason = (
            f"{deploy.service}{version} deployed {deploy.started_at:%H:%M} UTC, then errors "
            f"within {rule.window_minutes} min"
        )[:200]
        told = Alert.objects.filter(rule=rule, reasons__contains=[reason])
        if told.filter(status=Alert.Status.RESOLVED).exists():
            continue  # this deploy's incident was resolved: not again for the same deploy
        _breach(rule, deploy.service, found["first"], title, reason, now, "deploy-errors")
        breaches += 1
    return breaches


@transaction.atomic
def _breach(
    rule: AlertRule, service: str, at: datetime, title: str, reason: str, now: datetime,
    category: str,
) -> None:  # fmt: skip
    inbound.lock(rule.project, service)
    covering, _ = inbound.open_or_join(
        rule.project,
        service=service,
        at=at,
        title=title,
        severity=Incident.Severity.SEV3,
        category=f"{stream_incidents.SERVICE_WIDE}:{category}",  # the stream's alarms join it
    )
    inbound.extend_stream(covering.incident_id, now, now)
    incident = Incident.objects.get(pk=covering.incident_id)
    services.record_match(rule, incident, reason[:200], now=now)
