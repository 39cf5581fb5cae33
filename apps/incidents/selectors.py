from __future__ import annotations

from django.db.models import Count, Max, QuerySet
from django.shortcuts import get_object_or_404

from apps.incidents.models import Project


def projects_with_stats() -> QuerySet[Project]:
    return Project.objects.annotate(
        incident_count=Count("incidents"), last_incident_at=Max("incidents__created_at")
    ).order_by("name")


def get_project_for_request(request, slug: str) -> Project:
    """The one access-checked getter for a project: the middleware already checked membership
    and selected the tenant's schema, so a slug from another tenant simply does not exist here."""
    return get_object_or_404(Project, slug=slug)
