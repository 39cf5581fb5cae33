"""Where alerts hear of things: the incident hooks (opened, escalated, acknowledged, resolved)
and the ingest job's findings sink, registered in `AlertsConfig.ready()`. Each listener
matches the project's enabled rules and records the matches (apps.alerts.services)."""

from __future__ import annotations

import logging
from collections.abc import Mapping

from django.db import transaction

from aiops.outage import is_outage
from apps.alerts import services
from apps.alerts.inbound import services as inbound
from apps.alerts.messages import INCIDENT_SEVERITY
from apps.alerts.models import AlertRule
from apps.core.rules.finding import Finding
from apps.core.vocabulary import Level, Severity
from apps.incidents.hooks import IncidentEvent
from apps.incidents.models import Incident
from apps.ingestion.models import GroupOccurrence

log = logging.getLogger(__name__)


def severity_ok(rule: AlertRule, severity: Severity) -> bool:
    return not rule.min_severity or severity.rank >= Severity(rule.min_severity).rank


def finding_matches(rule: AlertRule, finding: Finding) -> bool:
    category_ok = not rule.category or finding.category == rule.category
    return category_ok and severity_ok(rule, Severity(finding.severity))


def _rules(incident: Incident, event: str) -> list[AlertRule]:
    return list(AlertRule.objects.filter(project_id=incident.project_id, event=event, enabled=True))


def on_incident(incident: Incident, event: IncidentEvent, by: str = "") -> None:
    """An incident opened, escalated, acknowledged (by `by`) or resolved
    (apps.incidents.hooks)."""
    if event == IncidentEvent.RESOLVED:
        services.resolve_incident(incident)
        return
    if event == IncidentEvent.ACKNOWLEDGED:
        services.acknowledge_incident(incident, by=by)
        return
    severity = INCIDENT_SEVERITY.get(incident.severity, Severity.WARNING)
    for rule in _rules(incident, AlertRule.Event.INCIDENT_OPENED):
        if not severity_ok(rule, severity):
            continue
        escalated = event == IncidentEvent.ESCALATED
        reason = f"escalated to {incident.get_severity_display()}" if escalated else "opened"
        services.record_match(rule, incident, f"incident {reason}", again=escalated)


def on_findings(job, findings: list[Finding], source_ids: Mapping[str, int]) -> None:
    """A finished ingest job's findings (apps.ingestion.hooks), after the rules app saved
    them: finding rules and new-error-group rules of the incident's project; then the analysis
    an inbound alert waits for. A bug here is logged, never the ingest job's failure."""
    try:
        with transaction.atomic():
            _match_findings(job.incident, findings)
        inbound.analyse_if_ready(job.incident, finished_job=job)
    except Exception as exc:
        if is_outage(exc):
            raise  # the job's lifecycle resumes it
        log.exception("alerts: findings of ingest job %s not matched", job.pk)


def _match_findings(incident: Incident, findings: list[Finding]) -> None:
    finding_rules = _rules(incident, AlertRule.Event.FINDING)
    group_rules = _rules(incident, AlertRule.Event.NEW_GROUP)
    for rule in finding_rules:
        for finding in findings:
            if finding_matches(rule, finding):
                reason = f"{finding.severity}: {finding.title}"
                services.record_match(rule, incident, reason[:200])
    if group_rules:
        for template in new_error_groups(incident):
            for rule in group_rules:
                services.record_match(rule, incident, f"new error group: {template[:160]}")


def new_error_groups(incident: Incident) -> list[str]:
    """Templates of the incident's error groups seen in no earlier incident of the project."""
    occurrences = GroupOccurrence.objects.filter(
        incident=incident, group__level__gte=Level.ERROR
    ).exclude(group__occurrences__incident__lt=incident.pk)
    return list(occurrences.order_by("-count").values_list("group__template", flat=True)[:20])
