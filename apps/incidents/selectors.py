"""The access-checked getters every incident page uses (workspace, analysis, reports, rules)."""

from __future__ import annotations

from django.http import HttpRequest
from django.shortcuts import get_object_or_404

from apps.incidents.models import Incident, Project


def get_project_for_request(request: HttpRequest, slug: str) -> Project:
    """The one access-checked getter for a project: the middleware already checked membership
    and selected the tenant's schema, so a slug from another tenant simply does not exist here."""
    return get_object_or_404(Project, slug=slug)


def get_incident_for_request(request: HttpRequest, incident_id: int) -> Incident:
    """The one access-checked getter for an incident (schema already selected and checked)."""
    return get_object_or_404(Incident.objects.select_related("project"), pk=incident_id)
