"""Render what an alert says from the incident as it stands: title, severity, the service
where it began, the root cause and its first evidence line, a link.

The evidence line is the raw log line, except for a structured record (a stream's JSON record,
a JSON log line), which reads as "<time> <LEVEL> <service>: <message>" from the parsed event;
either way `evidence_link` opens the line in context (the evidence view)."""

from __future__ import annotations

import json
from datetime import datetime

from django.conf import settings
from django.db import connection
from django.urls import reverse

from apps.alerts.formats import AlertMessage
from apps.alerts.models import Alert, AlertRule
from apps.core.vocabulary import LEVELS, Severity
from apps.incidents.models import Incident
from apps.ingestion.models import Event
from apps.rules.models import Diagnosis, Finding
from apps.streams.models import StreamIncident
from apps.tenants.models import Tenant

# An incident's own severity, read in the vocabulary of findings.
INCIDENT_SEVERITY = {
    "sev1": Severity.CRITICAL,
    "sev2": Severity.ERROR,
    "sev3": Severity.WARNING,
    "sev4": Severity.INFO,
}
EVIDENCE_MAX = 500


def incident_link(incident: Incident, view: str = "incident-detail", *args: int) -> str:
    slug = Tenant.objects.filter(schema_name=connection.schema_name).values_list("slug", flat=True)
    path = reverse(f"incidents:{view}", urlconf=settings.ROOT_URLCONF, args=[incident.pk, *args])
    base = getattr(settings, "ALERTS_SITE_URL", "http://localhost:8000").rstrip("/")
    return f"{base}/{settings.TENANT_SUBFOLDER_PREFIX}/{slug.first() or ''}{path}"


def worst_severity(incident: Incident) -> Severity:
    found = {Severity(s) for s in incident.findings.values_list("severity", flat=True).distinct()}
    found.add(INCIDENT_SEVERITY.get(incident.severity, Severity.WARNING))
    return max(found, key=lambda s: s.rank)


def _structured(line: str) -> bool:
    """A JSON object record (a stream's NDJSON, a JSON log line): unreadable as a raw line."""
    if not line.lstrip().startswith("{"):
        return False
    try:
        return isinstance(json.loads(line), dict)
    except ValueError:
        return False


def _first_line(incident: Incident, pairs: list) -> tuple[str, str]:
    """(the first evidence line as a person reads it, its link to the line in context)."""
    if not pairs:
        return "", ""
    source_id, line = pairs[0][:2]
    event = (
        Event.objects.filter(source_id=source_id, line=line)
        .values("raw", "ts", "level", "service", "message")
        .first()
    )
    if event is None:
        return "", ""
    link = incident_link(incident, "evidence", source_id, line)
    text = (event["raw"] or "").splitlines()
    first = text[0] if text else ""
    if _structured(first) and event["message"]:
        level = LEVELS[event["level"]] if event["level"] is not None else ""
        when = f"{event['ts']:%Y-%m-%dT%H:%M:%S.%fZ}"[:23] + "Z" if event["ts"] else ""
        where = f"{event['service']}:" if event["service"] else ""
        message = event["message"].splitlines()[0] if event["message"].strip() else ""
        first = " ".join(part for part in (when, level, where, message) if part)
    return first[:EVIDENCE_MAX], link


def _service(incident: Incident, diagnosis: Diagnosis | None) -> str:
    stream = StreamIncident.objects.filter(incident=incident).values_list("service", flat=True)
    if service := stream.first():
        return service
    for window in diagnosis.windows if diagnosis else []:
        if services := window.get("services"):
            return services[0]
    services = Finding.objects.filter(incident=incident).exclude(services=[])
    first = services.values_list("services", flat=True).first()
    return first[0] if first else ""


def render(
    incident: Incident, action: str, now: datetime, *, alert: Alert | None = None, by: str = ""
) -> AlertMessage:
    diagnosis = Diagnosis.objects.filter(incident=incident).first()
    root = ""
    evidence_pairs: list = []
    if diagnosis and diagnosis.root_category:
        root = diagnosis.root_title
        if diagnosis.root_summary:
            root = f"{root}: {diagnosis.root_summary}" if root else diagnosis.root_summary
        evidence_pairs = diagnosis.root_evidence
    if not evidence_pairs:
        top = Finding.objects.filter(incident=incident).exclude(evidence=[]).first()
        evidence_pairs = top.evidence if top else []
    rule: AlertRule | None = alert.rule if alert else None
    evidence, evidence_link = _first_line(incident, evidence_pairs)
    return AlertMessage(
        action=action,
        title=incident.title,
        severity=worst_severity(incident).value,
        incident_severity=incident.get_severity_display(),
        service=_service(incident, diagnosis),
        project=incident.project.name,
        root_cause=root,
        evidence=evidence,
        evidence_link=evidence_link,
        link=incident_link(incident),
        rule=rule.name if rule else "",
        category=rule.category if rule else "",
        reasons=list(alert.reasons) if alert else [],
        matches=alert.matches if alert else 0,
        dedup_key=alert.dedup_key if alert else "",
        incident_id=incident.pk,
        at=now.isoformat(),
        by=by[:150],
    )


def test_message(channel_name: str, project: str, now: datetime, key: str) -> AlertMessage:
    return AlertMessage(
        action="test",
        title=f"AI Ops Assistant test message for {channel_name}",
        severity="info",
        project=project,
        root_cause="This is a test: the channel is set up.",
        dedup_key=f"aiops-test-{key}",
        at=now.isoformat(),
    )
