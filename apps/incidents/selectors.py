from __future__ import annotations

from django.db.models import Count, Max, Prefetch, QuerySet
from django.shortcuts import get_object_or_404

from apps.incidents.models import Incident, Project


def projects_with_stats() -> QuerySet[Project]:
    return Project.objects.annotate(
        incident_count=Count("incidents"), last_incident_at=Max("incidents__created_at")
    ).order_by("name")


def get_project_for_request(request, slug: str) -> Project:
    """The one access-checked getter for a project: the middleware already checked membership
    and selected the tenant's schema, so a slug from another tenant simply does not exist here."""
    return get_object_or_404(Project, slug=slug)


def get_incident_for_request(request, incident_id: int) -> Incident:
    """The one access-checked getter for an incident (schema already selected and checked)."""
    return get_object_or_404(Incident.objects.select_related("project"), pk=incident_id)


def incident_sources_and_jobs(incident: Incident):
    from apps.ingestion.models import IngestJob, Source

    jobs = list(
        IngestJob.objects.filter(incident=incident)
        .select_related("stored_file")
        .prefetch_related(Prefetch("stored_file__sources", queryset=Source.objects.order_by("id")))
        .order_by("created_at")
    )
    return jobs
