from __future__ import annotations

from django.db import transaction
from django.utils.text import slugify

from apps.incidents import hooks
from apps.incidents.models import Incident, Project


@transaction.atomic
def create_project(*, name: str, description: str = "", created_by=None) -> Project:
    return Project.objects.create(
        name=name, slug=slugify(name), description=description, created_by=created_by
    )


@transaction.atomic
def open_incident(
    *,
    project: Project,
    title: str,
    severity: str = Incident.Severity.SEV3,
    created_by=None,
) -> Incident:
    """Open an incident (upload, stream, CLI) and tell the listeners (apps.incidents.hooks)."""
    incident = Incident.objects.create(
        project=project, title=title, severity=severity, created_by=created_by
    )
    hooks.emit(incident, hooks.IncidentEvent.OPENED)
    return incident


@transaction.atomic
def update_triage(*, incident: Incident, status: str, severity: str, by: str = "") -> bool:
    """Change status and severity; a resolve, an acknowledgement or a raised severity reaches
    the listeners (`by`: who changed it, when a person did).
    Whether anything changed."""
    before = (incident.status, incident.severity)
    if (status, severity) == before:
        return False
    incident.status, incident.severity = status, severity
    incident.save(update_fields=["status", "severity"])
    if status == Incident.Status.RESOLVED and before[0] != Incident.Status.RESOLVED:
        hooks.emit(incident, hooks.IncidentEvent.RESOLVED, by=by)
    elif status == Incident.Status.ACKNOWLEDGED and before[0] != status:
        hooks.emit(incident, hooks.IncidentEvent.ACKNOWLEDGED, by=by)
    elif status != Incident.Status.RESOLVED and severity < before[1]:  # "sev1" < "sev2": graver
        hooks.emit(incident, hooks.IncidentEvent.ESCALATED, by=by)
    return True
