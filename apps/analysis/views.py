from __future__ import annotations

from django.contrib import messages
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django_htmx.http import HttpResponseClientRedirect

from apps.analysis import selectors, services
from apps.analysis.forms import AISettingsForm
from apps.incidents.selectors import get_incident_for_request
from apps.tenants.access import TenantHttpRequest, require_role
from apps.tenants.models import Role

PAGE = "analysis/analysis.html"


@require_GET
def analysis_detail(request: TenantHttpRequest, incident_id: int):
    """The analysis of an incident (newest run, or ``?run=<id>``) and the history of runs.
    HTMX requests get the run panel only: that is what the progress polling swaps; once the
    run has finished, the history comes along out of band so its row shows the outcome."""
    incident = get_incident_for_request(request, incident_id)
    run = selectors.run_for_display(incident, request.GET.get("run"))
    context = {"incident": incident, "run": run, "can_analyze": _can_analyze(request)}
    if request.htmx:
        if run is not None and not run.is_active:
            context["history"] = selectors.run_history(incident)
        return render(request, "analysis/partials/_panel.html", context)
    context["history"] = selectors.run_history(incident)
    context["ai"] = selectors.ai_settings()
    return render(request, PAGE, context)


@require_role(Role.MEMBER)
@require_POST
def analysis_start(request: TenantHttpRequest, incident_id: int):
    incident = get_incident_for_request(request, incident_id)
    run = services.request_analysis(incident=incident, user=request.user)
    url = reverse("analysis:analysis-detail", args=[incident.pk]) + f"?run={run.pk}"
    if request.htmx:
        return HttpResponseClientRedirect(url)
    return redirect(url)


@require_GET
def analysis_preview(request: TenantHttpRequest, incident_id: int):
    """Exactly what *Analyze* would send now (redacted), its size in tokens and its cost."""
    incident = get_incident_for_request(request, incident_id)
    preview = services.preview(incident)
    return render(request, "analysis/preview.html", {"incident": incident, "preview": preview})


@require_role(Role.OWNER)
@require_http_methods(["GET", "POST"])
def settings_edit(request: TenantHttpRequest):
    stored = selectors.ai_settings()
    form = AISettingsForm.from_settings(stored, request.POST or None)
    if request.method == "POST" and form.is_valid():
        d = form.cleaned_data
        services.save_ai_settings(
            provider=d["provider"],
            base_url=d.get("base_url") or "",
            model=d.get("model") or "",
            timeout_seconds=d["timeout_seconds"],
            max_tokens=d["max_tokens"],
            price_per_1k_tokens=d.get("price_per_1k_tokens"),
            local_endpoints_only=d.get("local_endpoints_only") or False,
            new_api_key=d.get("api_key") or "",
            clear_api_key=d.get("clear_api_key") or False,
            user=request.user,
        )
        messages.success(request, "AI settings saved.")
        return redirect("analysis:settings-edit")
    return render(request, "analysis/settings.html", {"form": form, "ai": stored})


@require_role(Role.OWNER)
@require_POST
def settings_test(request: TenantHttpRequest):
    """*Test connection* with the settings as typed (the stored key unless a new one is typed)."""
    stored = selectors.ai_settings()
    form = AISettingsForm.from_settings(stored, request.POST)
    if form.is_valid():
        check = services.check_connection(form.unsaved_settings(stored))
    else:
        check = None
    return render(request, "analysis/partials/_connection.html", {"check": check, "form": form})


def _can_analyze(request: TenantHttpRequest) -> bool:
    return request.membership.allows(Role.MEMBER)
