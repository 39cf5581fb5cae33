from __future__ import annotations

from django.core.paginator import Paginator
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from apps.alerts.inbound.selectors import incident_alerts
from apps.incidents import services
from apps.incidents.models import Incident
from apps.incidents.selectors import get_incident_for_request, get_project_for_request
from apps.ingestion.models import Source
from apps.tenants.access import TenantHttpRequest, require_role
from apps.tenants.models import Role
from apps.workspace.forms import ProjectForm
from apps.workspace.selectors import incidents as selectors
from apps.workspace.selectors import search
from apps.workspace.selectors.events import EventFilters, event_page
from apps.workspace.selectors.evidence import evidence_context
from apps.workspace.selectors.sparklines import attach_sparklines, top_groups
from apps.workspace.selectors.timeline import build_timeline, rollup_is_current
from apps.workspace.templatetags.workspace import needs_year

INCIDENTS_PER_PAGE = 25


def _partial_for(request: TenantHttpRequest, template: str, target: str) -> str:
    """`template#target` when htmx asks for that fragment (never for a history restore)."""
    htmx = request.htmx
    if htmx and htmx.target == target and not htmx.history_restore_request:
        return f"{template}#{target}"
    return template


@require_GET
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


@require_GET
def project_detail(request: TenantHttpRequest, slug: str):
    """The project's incidents: search, sort, status filter, pagination (3 queries)."""
    project = get_project_for_request(request, slug)
    q = request.GET.get("q", "").strip()[:200]
    sort = request.GET.get("sort", "recent")
    sort = sort if sort in selectors.INCIDENT_SORTS else "recent"
    status = request.GET.get("status", "")
    status = status if status in Incident.Status.values else ""
    incidents = selectors.incidents_for_project(project, q=q, sort=sort, status=status)
    page = Paginator(incidents, INCIDENTS_PER_PAGE).get_page(request.GET.get("page"))
    context = {
        "project": project,
        "page": page,
        "incidents": page.object_list,
        "q": q,
        "sort": sort,
        "status": status,
        "sorts": list(selectors.INCIDENT_SORTS),
        "statuses": Incident.Status.choices,
    }
    template = _partial_for(request, "incidents/project_detail.html", "incident-list")
    return render(request, template, context)


def _attach_lines(findings, diagnosis):
    """Each finding's trigger and worst line as events, in one query; returns the root cause's
    first evidence line."""
    root = diagnosis.root_evidence[0] if diagnosis and diagnosis.root_evidence else None
    refs = [f.trigger for f in findings] + [f.flashpoint for f in findings] + [root]
    lines = selectors.events_at([r for r in refs if r])
    for finding in findings:
        finding.trigger_event = lines.get(_key(finding.trigger))
        finding.flashpoint_event = lines.get(_key(finding.flashpoint))
    return lines.get(_key(root)) if root else None


def _workspace(request: TenantHttpRequest, incident: Incident, jobs) -> dict:
    """Everything under the header, filtered by the zoom window and the event filters."""
    filters = EventFilters.from_query(request.GET)
    sources = selectors.sources_of(jobs)
    diagnosis = selectors.diagnosis_of(incident)
    all_findings = selectors.findings_of(incident, diagnosis=diagnosis)
    findings = all_findings
    if filters.window:
        start, end = filters.window
        findings = [
            f
            for f in all_findings
            if (f.last_ts is None or f.last_ts >= start)
            and (f.first_ts is None or f.first_ts < end)
        ]
    writers = [job for job in jobs if job.stored_file.sources.all()]
    timeline = build_timeline(
        incident,
        sources,
        filters,
        findings,
        diagnosis,
        rollup=(rollup := rollup_is_current(sources, writers)),
    )
    groups = top_groups(incident)
    # "first seen in version X" (the stored correlation's, read with the timeline)
    versions = timeline.correlation.first_versions if timeline and timeline.correlation else {}
    for occ in groups:
        occ.first_version = versions.get(occ.group.group_id)
    attach_sparklines(incident, groups, sources, filters, rollup=rollup)
    page = event_page(
        incident, filters, request.GET.get("after", ""), search_budget=search.WORKSPACE_BUDGET
    )
    root_event = _attach_lines(all_findings, diagnosis)
    first, last = selectors.incident_bounds(sources)
    return {
        "filters": filters,
        "sources": sources,
        "diagnosis": diagnosis,
        "root_event": root_event,
        # the story's first finding: the root cause's own finding when there is one
        "top_finding": all_findings[0] if all_findings else None,
        "findings": findings,
        "finding_total": len(all_findings),
        "timeline": timeline,
        "groups": groups,
        "events": page.rows,
        "next_cursor": page.next_cursor,
        "search_cut": page.search_cut,
        "searched_to": page.searched_to,
        "after": request.GET.get("after", ""),
        "first_ts": first,
        "last_ts": last,
        "span": (last - first) if first and last else None,
        "incident_span": (diagnosis.ended - diagnosis.onset)
        if diagnosis and diagnosis.onset and diagnosis.ended
        else None,
        "show_year": needs_year(first, last),  # the events table's dates
        "event_count": sum(s.event_count for s in sources),
        "services": timeline.services if timeline else [],
    }


def _key(ref) -> tuple[int, int] | None:
    if not ref or len(ref) != 2:
        return None
    try:
        return int(ref[0]), int(ref[1])
    except (TypeError, ValueError):
        return None


@require_GET
def incident_detail(request: TenantHttpRequest, incident_id: int):
    """The workspace. htmx requests targeting #workspace get only that fragment."""
    incident = get_incident_for_request(request, incident_id)
    jobs = selectors.incident_sources_and_jobs(incident)
    context = {
        "incident": incident,
        "jobs": jobs,
        "active": any(job.is_active for job in jobs),
        "upload_problems": selectors.upload_problems(jobs),
        "statuses": Incident.Status.choices,
        "severities": Incident.Severity.choices,
        "inbound_alerts": incident_alerts(incident),  # lazy: the header only (one query)
        **_workspace(request, incident, jobs),
    }
    template = _partial_for(request, "incidents/incident_detail.html", "workspace")
    return render(request, template, context)


@require_GET
def incident_timeline(request: TenantHttpRequest, incident_id: int):
    """The timeline alone: refreshed while a job runs."""

    incident = get_incident_for_request(request, incident_id)
    filters = EventFilters.from_query(request.GET)
    sources = list(Source.objects.filter(incident=incident).select_related("stored_file__job"))
    diagnosis = selectors.diagnosis_of(incident)
    findings = selectors.findings_of(incident, filters.window, diagnosis)
    jobs = {source.stored_file.job for source in sources}
    rollup = rollup_is_current(sources, jobs)
    timeline = build_timeline(incident, sources, filters, findings, diagnosis, rollup=rollup)
    context = {"incident": incident, "filters": filters, "timeline": timeline, "active": True}
    return render(request, "incidents/partials/_timeline.html", context)


@require_role(Role.MEMBER)
@require_POST
def incident_update(request: TenantHttpRequest, incident_id: int):
    """Change status and/or severity (members and owners; viewers get 403)."""
    incident = get_incident_for_request(request, incident_id)
    status = request.POST.get("status", incident.status)
    severity = request.POST.get("severity", incident.severity)
    if status not in Incident.Status.values or severity not in Incident.Severity.values:
        return HttpResponse("Unknown status or severity.", status=400)
    by = request.user.get_full_name() or request.user.get_username()
    services.update_triage(incident=incident, status=status, severity=severity, by=by)
    if not request.htmx:
        return redirect("incidents:incident-detail", incident_id=incident.pk)
    context = {
        "incident": incident,
        "statuses": Incident.Status.choices,
        "severities": Incident.Severity.choices,
        "saved": True,
    }
    return render(request, "incidents/partials/_triage.html", context)


@require_GET
def event_list(request: TenantHttpRequest, incident_id: int):
    """The events table as a partial: filters and keyset pagination (2 queries; a text search
    adds the planner's estimate and, when it walks, one query per chunk)."""
    incident = selectors.incident_with_bounds(request, incident_id)
    filters = EventFilters.from_query(request.GET)
    after = request.GET.get("after", "")
    page = event_page(incident, filters, after)
    context = {
        "incident": incident,
        "show_year": needs_year(incident.first_ts, incident.last_ts),
        "events": page.rows,
        "next_cursor": page.next_cursor,
        "search_cut": page.search_cut,
        "searched_to": page.searched_to,
        "filters": filters,
        "after": after,
    }
    return render(request, "incidents/partials/_events.html", context)


@require_GET
def evidence(request: TenantHttpRequest, incident_id: int, source_id: int, line: int):
    """The raw line(s) in context: every evidence link in the product lands here.

    A page, or (htmx) the side panel's content (3 queries)."""
    incident = get_incident_for_request(request, incident_id)
    context = evidence_context(incident, source_id, line, request.GET.get("context"))
    template = "incidents/partials/_evidence.html" if request.htmx else "incidents/evidence.html"
    return render(request, template, {"incident": incident, **context})
