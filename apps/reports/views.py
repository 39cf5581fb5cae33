"""Postmortem pages: the editor (HTMX partials), exports, per-project list, tenant template.

Rendered Markdown is only ever returned as a whole response body (the preview fragment) or
inside the PDF, so no template marks anything safe; all other text is auto-escaped.
"""

from __future__ import annotations

import difflib

from django.contrib import messages
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from apps.core.render.chart import render_svg
from apps.core.render.markdown import to_html
from apps.incidents.selectors import get_incident_for_request, get_project_for_request
from apps.reports import selectors, services
from apps.reports.forms import ActionItemForm, PreviewForm, SectionForm, TemplateForm
from apps.reports.models import ActionItem, PdfExport, SectionKey
from apps.tenants.access import TenantHttpRequest, require_role
from apps.tenants.models import Role

MAX_DIFF_LINES = 2000


def _context(request: TenantHttpRequest, incident, report) -> dict:
    return {
        "incident": incident,
        "report": report,
        "can_edit": request.membership.allows(Role.MEMBER),
    }


@require_GET
def report_list(request: TenantHttpRequest, slug: str):
    project = get_project_for_request(request, slug)
    q = request.GET.get("q", "").strip()[:200]
    reports = list(selectors.reports_for_project(project, q=q)[:200])
    return render(
        request, "reports/report_list.html", {"project": project, "reports": reports, "q": q}
    )


@require_GET
def report_detail(request: TenantHttpRequest, incident_id: int):
    incident = get_incident_for_request(request, incident_id)
    report = selectors.report_of(incident)
    context = _context(request, incident, report)
    if report is not None:
        sections = selectors.sections_of(report)
        actions = list(report.actions.all())
        context.update(
            sections=sections,
            actions=actions,
            export=selectors.latest_export(report),
            evidence=selectors.evidence_lines(
                incident, selectors.report_citations(sections, actions)
            ),
        )
    return render(request, "reports/report_detail.html", context)


@require_role(Role.MEMBER)
@require_POST
def report_draft(request: TenantHttpRequest, incident_id: int):
    incident = get_incident_for_request(request, incident_id)
    services.create_draft(incident=incident, user=request.user)
    url = reverse("reports:report-detail", args=[incident.pk])
    if request.htmx:
        from django_htmx.http import HttpResponseClientRedirect

        return HttpResponseClientRedirect(url)
    return redirect(url)


@require_role(Role.MEMBER)
@require_POST
def section_save(request: TenantHttpRequest, incident_id: int):
    """Autosave of one section: compare-and-set on its version number."""
    incident = get_incident_for_request(request, incident_id)
    report = selectors.get_report(incident)
    form = SectionForm(request.POST)
    if not form.is_valid():
        return HttpResponse("Invalid section data.", status=400)
    data = form.cleaned_data
    result = services.save_section(
        report=report,
        key=data["key"],
        body=data["body"],
        base_version=data["version"],
        user=request.user,
    )
    context = {
        "incident": incident,
        "section": result.section,
        "result": result,
        "mine": data["body"],
    }
    if not request.htmx:
        if result.ok:
            messages.success(request, f"{result.section.label} saved.")
        else:
            messages.error(request, _conflict_text(result.section))
        return redirect("reports:report-detail", incident.pk)
    return render(request, "reports/partials/_save_status.html", context)


def _conflict_text(section) -> str:
    who = section.updated_by.get_username() if section.updated_by else "Someone"
    return (
        f"{who} saved “{section.label}” (version {section.version}) while you were editing. "
        "Nothing was overwritten; your text is kept in the history."
    )


@require_http_methods(["GET", "POST"])
def section_preview(request: TenantHttpRequest, incident_id: int):
    """The Markdown preview as an HTML fragment (markdown-it, raw HTML off, evidence links)."""
    incident = get_incident_for_request(request, incident_id)
    if request.method == "POST":
        form = PreviewForm(request.POST)
        body = form.cleaned_data["body"] if form.is_valid() else ""
    else:
        report = selectors.get_report(incident)
        body = selectors.get_section(report, request.GET.get("key", "")).body

    def link_for(source_id: int, line: int) -> str:
        return reverse("incidents:evidence", args=[incident.pk, source_id, line])

    response = HttpResponse(to_html(body, link_for=link_for), content_type="text/html")
    response["X-Content-Type-Options"] = "nosniff"
    return response


@require_role(Role.MEMBER)
@require_POST
def section_regenerate(request: TenantHttpRequest, incident_id: int):
    incident = get_incident_for_request(request, incident_id)
    report = selectors.get_report(incident)
    section = services.regenerate_section(
        report=report, key=request.POST.get("key", ""), user=request.user
    )
    return _section_response(request, incident, report, section, f"{section.label} regenerated.")


def _section_response(request, incident, report, section, message: str):
    if not request.htmx:
        messages.success(request, message)
        return redirect("reports:report-detail", incident.pk)
    context = {**_context(request, incident, report), "section": section, "flash": message}
    if section.key == SectionKey.ACTIONS:
        context["actions"] = list(report.actions.all())
    return render(request, "reports/partials/_section.html", context)


@require_GET
def section_history(request: TenantHttpRequest, incident_id: int):
    """A section's versions; with ?version=<id>, the diff of that version against the current."""
    incident = get_incident_for_request(request, incident_id)
    report = selectors.get_report(incident)
    section = selectors.get_section(report, request.GET.get("key", ""))
    context = {**_context(request, incident, report), "section": section}
    version_id = request.GET.get("version", "")
    if version_id:
        version = selectors.get_version(report, version_id)
        if version.section_id != section.pk:
            raise Http404("No such version")
        diff = list(
            difflib.unified_diff(
                version.body.splitlines(),
                section.body.splitlines(),
                fromfile=f"version {version.number} ({version.get_kind_display()})",
                tofile=f"current (version {section.version})",
                lineterm="",
            )
        )[:MAX_DIFF_LINES]
        context.update(version=version, diff=[_diff_row(line) for line in diff])
    else:
        context["versions"] = selectors.versions_of(section)
    return render(request, "reports/partials/_history.html", context)


def _diff_row(line: str) -> dict:
    kind = "ctx"
    if line.startswith(("+++", "---")):
        kind = "file"
    elif line.startswith("@@"):
        kind = "hunk"
    elif line.startswith("+"):
        kind = "add"
    elif line.startswith("-"):
        kind = "del"
    return {"kind": kind, "text": line}


@require_role(Role.MEMBER)
@require_POST
def version_restore(request: TenantHttpRequest, incident_id: int):
    incident = get_incident_for_request(request, incident_id)
    report = selectors.get_report(incident)
    version = selectors.get_version(report, request.POST.get("version", ""))
    section = services.restore_version(report=report, version=version, user=request.user)
    number = version.number or "unsaved"
    return _section_response(
        request, incident, report, section, f"{section.label}: version {number} restored."
    )


@require_role(Role.MEMBER)
@require_POST
def action_save(request: TenantHttpRequest, incident_id: int):
    """Add, update or delete one action item; answers with the action table."""
    incident = get_incident_for_request(request, incident_id)
    report = selectors.get_report(incident)
    item = None
    item_id = request.POST.get("id", "")
    if item_id:
        if not item_id.isdigit() or len(item_id) > 18:
            raise Http404("No such action item")
        item = ActionItem.objects.filter(report=report, pk=int(item_id)).first()
        if item is None:
            raise Http404("No such action item")
    error = ""
    if item is not None and request.POST.get("delete"):
        services.delete_action(item=item)
    else:
        form = ActionItemForm(request.POST, instance=item)
        if form.is_valid():
            services.save_action(
                report=report,
                item=item,
                text=form.cleaned_data["text"],
                owner=form.cleaned_data["owner"],
                due_date=form.cleaned_data["due_date"],
                done=form.cleaned_data["done"],
            )
        else:
            error = "; ".join(f"{k}: {' '.join(v)}" for k, v in form.errors.items())
    if not request.htmx:
        if error:
            messages.error(request, error)
        return redirect("reports:report-detail", incident.pk)
    context = {
        **_context(request, incident, report),
        "actions": list(report.actions.all()),
        "action_error": error,
    }
    return render(request, "reports/partials/_actions.html", context)


@require_GET
def report_chart(request: TenantHttpRequest, incident_id: int):
    from apps.reports import drafting

    incident = get_incident_for_request(request, incident_id)
    facts = drafting.gather(incident)
    markers = [(row.when, row.text[:120]) for row in drafting.key_events(facts) if row.when]
    data = selectors.chart_data(incident, facts.first_ts, facts.last_ts, markers)
    if data is None:
        raise Http404("No timestamps to chart")
    response = HttpResponse(render_svg(data), content_type="image/svg+xml")
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Security-Policy"] = "default-src 'none'"
    return response


def _attachment(response: HttpResponse, filename: str) -> HttpResponse:
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    response["X-Content-Type-Options"] = "nosniff"
    return response


@require_GET
def report_markdown(request: TenantHttpRequest, incident_id: int):
    incident = get_incident_for_request(request, incident_id)
    report = selectors.get_report(incident)
    body = services.markdown_export(report)
    response = HttpResponse(body, content_type="text/markdown; charset=utf-8")
    return _attachment(response, f"postmortem-incident-{incident.pk}.md")


@require_role(Role.MEMBER)
@require_POST
def pdf_request(request: TenantHttpRequest, incident_id: int):
    incident = get_incident_for_request(request, incident_id)
    report = selectors.get_report(incident)
    export = services.request_pdf(report=report, user=request.user)
    if not request.htmx:
        return redirect("reports:report-detail", incident.pk)
    export = selectors.get_export(report, str(export.pk))
    return render(
        request,
        "reports/partials/_pdf.html",
        {**_context(request, incident, report), "export": export},
    )


@require_GET
def pdf_status(request: TenantHttpRequest, incident_id: int):
    incident = get_incident_for_request(request, incident_id)
    report = selectors.get_report(incident)
    export = selectors.get_export(report, request.GET.get("export", ""))
    return render(
        request,
        "reports/partials/_pdf.html",
        {**_context(request, incident, report), "export": export},
    )


@require_GET
def pdf_download(request: TenantHttpRequest, incident_id: int):
    incident = get_incident_for_request(request, incident_id)
    report = selectors.get_report(incident)
    export = selectors.get_export(report, request.GET.get("export", ""), with_pdf=True)
    if export.status != PdfExport.Status.DONE or not export.pdf:
        raise Http404("This PDF is not ready")
    response = HttpResponse(bytes(export.pdf), content_type="application/pdf")
    return _attachment(response, f"postmortem-incident-{incident.pk}.pdf")


@require_role(Role.OWNER)
@require_http_methods(["GET", "POST"])
def template_edit(request: TenantHttpRequest):
    tmpl = selectors.template()
    initial = {"sections": tmpl.sections, "default_owner": tmpl.default_owner}
    form = TemplateForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        services.save_template(
            sections=form.cleaned_data["sections"],
            default_owner=form.cleaned_data["default_owner"],
            user=request.user,
        )
        messages.success(request, "Postmortem template saved.")
        return redirect("reports:template-edit")
    return render(request, "reports/template_form.html", {"form": form, "template": tmpl})
