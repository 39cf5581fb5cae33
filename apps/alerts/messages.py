"""Render what an alert says from the incident as it stands: title, severity, the service
where it began, the root cause and its first evidence line (the raw log line), a link."""

from __future__ import annotations

from datetime import datetime

from django.conf import settings
from django.db import connection
from django.urls import reverse

from apps.alerts.formats import AlertMessage
from apps.alerts.models import Alert, AlertRule
from apps.core.vocabulary import Severity
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


def incident_link(incident: Incident) -> str:
    slug = Tenant.objects.filter(schema_name=connection.schema_name).values_list("slug", flat=True)
    path = reverse("incidents:incident-detail", urlconf=settings.ROOT_URLCONF, args=[incident.pk])
    base = getattr(settings, "ALERTS_SITE_URL", "http://localhost:8000").rstrip("/")
    return f"{base}/{settings.TENANT_SUBFOLDER_PREFIX}/{slug.first() or ''}{path}"


def worst_severity(incident: Incident) -> Severity:
    found = {Severity(s) for s in incident.findings.values_list("severity", flat=True).distinct()}
    found.add(INCIDENT_SEVERITY.get(incident.severity, Severity.WARNING))
    return max(found, key=lambda s: s.rank)


def _first_line(pairs: list) -> str:
    if not pairs:
        return ""
    source_id, line = pairs[0][:2]
    raw = Event.objects.filter(source_id=source_id, line=line).values_list("raw", flat=True)
    text = (raw.first() or "").splitlines()
    return text[0][:EVIDENCE_MAX] if text else ""


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
    incident: Incident, action: str, now: datetime, *, alert: Alert | None = None
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
    return AlertMessage(
        action=action,
        title=incident.title,
        severity=worst_severity(incident).value,
        incident_severity=incident.get_severity_display(),
        service=_service(incident, diagnosis),
        project=incident.project.name,
        root_cause=root,
        evidence=_first_line(evidence_pairs),
        link=incident_link(incident),
        rule=rule.name if rule else "",
        category=rule.category if rule else "",
        reasons=list(alert.reasons) if alert else [],
        matches=alert.matches if alert else 0,
        dedup_key=alert.dedup_key if alert else "",
        incident_id=incident.pk,
        at=now.isoformat(),
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
