from __future__ import annotations

from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods

from apps.incidents import selectors, services
from apps.incidents.forms import ProjectForm
from apps.tenants.access import TenantHttpRequest, require_role
from apps.tenants.models import Role


def project_list(request: TenantHttpRequest):
    projects = list(selectors.projects_with_stats())
    return render(request, "incidents/project_list.html", {"projects": projects})


@require_role(Role.MEMBER)
@require_http_methods(["GET", "POST"])
def project_create(request: TenantHttpRequest):
    form = ProjectForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        project = services.create_project(
            name=form.cleaned_data["name"],
            description=form.cleaned_data["description"],
            created_by=request.user,
        )
        return redirect("incidents:project-detail", slug=project.slug)
    return render(request, "incidents/project_form.html", {"form": form})


def project_detail(request: TenantHttpRequest, slug: str):
    project = selectors.get_project_for_request(request, slug)
    incidents = list(project.incidents.all()[:50])
    return render(
        request, "incidents/project_detail.html", {"project": project, "incidents": incidents}
    )


def incident_detail(request: TenantHttpRequest, incident_id: int):
    from apps.ingestion.selectors import EventFilters, events_page, top_groups

    incident = selectors.get_incident_for_request(request, incident_id)
    jobs = selectors.incident_sources_and_jobs(incident)
    filters = EventFilters.from_query(request.GET)
    events, next_cursor = events_page(incident, filters, request.GET.get("after", ""))
    context = {
        "incident": incident,
        "jobs": jobs,
        "active": any(job.is_active for job in jobs),
        "groups": top_groups(incident),
        "events": events,
        "next_cursor": next_cursor,
        "filters": filters,
    }
    return render(request, "incidents/incident_detail.html", context)


def event_list(request: TenantHttpRequest, incident_id: int):
    """The events table as a partial (HTMX) or a page: filters and keyset pagination."""
    from apps.ingestion.selectors import EventFilters, events_page

    incident = selectors.get_incident_for_request(request, incident_id)
    filters = EventFilters.from_query(request.GET)
    events, next_cursor = events_page(incident, filters, request.GET.get("after", ""))
    return render(
        request,
        "incidents/partials/_events.html",
        {"incident": incident, "events": events, "next_cursor": next_cursor, "filters": filters},
    )


def evidence(request: TenantHttpRequest, incident_id: int, source_id: int, line: int):
    """The raw line(s) in context: every evidence link in the product lands here."""
    incident = selectors.get_incident_for_request(request, incident_id)
    context = selectors.evidence_context(incident, source_id, line, request.GET.get("context"))
    template = "incidents/partials/_evidence.html" if request.htmx else "incidents/evidence.html"
    return render(request, template, {"incident": incident, **context})
