from __future__ import annotations

from django.contrib import messages
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django_htmx.http import HttpResponseClientRedirect, trigger_client_event

from apps.incidents.selectors import get_incident_for_request, get_project_for_request
from apps.ingestion import services
from apps.ingestion.models import Source
from apps.tenants.access import TenantHttpRequest, require_role
from apps.tenants.models import Role
from apps.workspace.selectors.incidents import incident_sources_and_jobs
from apps.workspace.upload_forms import (
    LogInputForm,
    NewIncidentForm,
    SourceHeaderForm,
    unaccounted_bytes,
)


def _uploads(form) -> list[services.Upload]:
    data = form.cleaned_data
    dates = {"year": data.get("year"), "timezone": data.get("timezone") or ""}
    log_format = data.get("log_format", "")
    uploads = [services.upload_from_django(f, log_format, **dates) for f in data["files"]]
    pasted = (data.get("pasted") or "").strip("\n")
    if pasted.strip():
        uploads.append(services.upload_from_text(pasted, log_format=log_format, **dates))
    return uploads


def _unaccounted(request) -> int:
    return unaccounted_bytes(request) if request.method == "POST" else 0


@require_role(Role.MEMBER)
@require_http_methods(["GET", "POST"])
def incident_create(request: TenantHttpRequest, slug: str):
    project = get_project_for_request(request, slug)
    form = NewIncidentForm(
        request.POST or None, request.FILES or None, unaccounted=_unaccounted(request)
    )
    if request.method == "POST" and form.is_valid():
        try:
            incident = services.create_incident(
                project=project,
                title=form.cleaned_data["title"],
                uploads=_uploads(form),
                created_by=request.user,
            )
        except services.UploadRejected as exc:
            form.add_error(None, str(exc))
        else:
            return redirect("incidents:incident-detail", incident_id=incident.pk)
    return render(request, "ingestion/incident_form.html", {"project": project, "form": form})


@require_role(Role.MEMBER)
@require_http_methods(["GET", "POST"])
def files_add(request: TenantHttpRequest, incident_id: int):
    incident = get_incident_for_request(request, incident_id)
    form = LogInputForm(
        request.POST or None, request.FILES or None, unaccounted=_unaccounted(request)
    )
    if request.method == "POST" and form.is_valid():
        try:
            jobs = services.add_files(incident=incident, uploads=_uploads(form))
        except services.UploadRejected as exc:
            form.add_error(None, str(exc))
        else:
            messages.info(request, f"{len(jobs)} file(s) queued for ingestion.")
            return redirect("incidents:incident-detail", incident_id=incident.pk)
    return render(request, "ingestion/files_form.html", {"incident": incident, "form": form})


@require_role(Role.MEMBER)
@require_POST
def source_delete(request: TenantHttpRequest, source_id: int):
    source = get_object_or_404(
        Source.objects.select_related("incident", "stored_file"), pk=source_id
    )
    incident_id = source.incident_id
    name = source.member
    services.delete_source(source=source)
    messages.info(request, f"Deleted {name} and its events.")
    return redirect("incidents:incident-detail", incident_id=incident_id)


@require_role(Role.MEMBER)
@require_http_methods(["GET", "POST"])
def source_header(request: TenantHttpRequest, source_id: int):
    """Correct the header a source was read with and read it again (its upload's ingest job,
    queued anew). htmx gets the form back with the reason when the header is unusable."""
    source = get_object_or_404(
        Source.objects.select_related("incident", "stored_file"), pk=source_id
    )
    form = SourceHeaderForm(
        request.POST or None, initial={"log_format": source.log_format or source.header}
    )
    if request.method == "POST" and form.is_valid():
        header = form.cleaned_data["log_format"]
        try:
            services.reparse_source(source=source, log_format=header)
        except services.ReparseRefused as exc:
            form.add_error(None, str(exc))
        else:
            how = "with the corrected header" if header else "detecting its header again"
            messages.info(request, f"Reading {source.member} again, {how}.")
            target = reverse(
                "incidents:incident-detail", kwargs={"incident_id": source.incident_id}
            )
            return HttpResponseClientRedirect(target) if request.htmx else redirect(target)
    template = "ingestion/source_header.html"
    if request.htmx:
        template += "#header-form"
    stored = source.stored_file
    context = {"incident": source.incident, "source": source, "stored": stored}
    context["shared"] = stored.sources.count()  # the upload's files, all read again
    return render(request, template, {**context, "form": form})


@require_GET
def incident_progress(request: TenantHttpRequest, incident_id: int):
    incident = get_incident_for_request(request, incident_id)
    jobs = incident_sources_and_jobs(incident)
    active = any(job.is_active for job in jobs)
    response = render(
        request,
        "ingestion/partials/_progress.html",
        {"incident": incident, "jobs": jobs, "active": active},
    )
    if request.htmx:
        trigger_client_event(response, "ingest-progress", {"active": active})
    return response
