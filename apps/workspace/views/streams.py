"""A project's stream: a histogram, per-service rates and a live tail with the workspace's
filters; a range of the histogram opens an incident.

One view serves the page and, when htmx polls it (every 2 s), the tail fragment alone. The
range form is the keyboard's way to select: dragging across the histogram (or a bar, which
is a link that works without JavaScript too) fills it in."""

from __future__ import annotations

from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST
from django_htmx.http import HttpResponseClientRedirect

from apps.core.vocabulary import LEVELS
from apps.deploys.selectors import markers as deploy_markers
from apps.incidents.selectors import get_project_for_request
from apps.ingestion.services import UploadRejected
from apps.streams import incidents, selectors
from apps.tenants.access import TenantHttpRequest, require_role
from apps.tenants.models import Role
from apps.workspace.stream_forms import RangeForm

POLL_SECONDS = 2
TEMPLATE = "streams/stream_detail.html"


def _page_context(request: TenantHttpRequest, project, range_form: RangeForm | None) -> dict:
    filters = selectors.TailFilters.from_query(request.GET)
    window = request.GET.get("window", selectors.DEFAULT_WINDOW)
    if range_form is None:  # a bar's link preselects its range
        initial = {k: request.GET[k] for k in ("start", "end") if request.GET.get(k)}
        range_form = RangeForm(initial=initial)
    return {
        "project": project,
        "filters": filters,
        "events": selectors.tail(project.pk, filters),
        "levels": LEVELS,
        "poll_seconds": POLL_SECONDS,
        "histogram": (histogram := selectors.histogram(project.pk, window)),
        "deploys": deploy_markers(project.pk, histogram.start, histogram.end),
        "windows": list(selectors.HISTOGRAM_WINDOWS),
        "range_form": range_form,
        "can_open": request.membership.allows(Role.MEMBER),
        "is_owner": request.membership.allows(Role.OWNER),
    }


@require_GET
def stream_detail(request: TenantHttpRequest, slug: str):
    project = get_project_for_request(request, slug)
    htmx = request.htmx
    if htmx and htmx.target == "stream-tail" and not htmx.history_restore_request:
        filters = selectors.TailFilters.from_query(request.GET)
        context = {
            "project": project,
            "filters": filters,
            "events": selectors.tail(project.pk, filters),
            "poll_seconds": POLL_SECONDS,
        }
        return render(request, f"{TEMPLATE}#stream-tail", context)
    context = _page_context(request, project, None)
    context["rates"] = selectors.service_rates(project.pk)
    return render(request, TEMPLATE, context)


@require_role(Role.MEMBER)
@require_POST
def stream_incident(request: TenantHttpRequest, slug: str):
    """Open an incident from a range of the stream; htmx gets a client redirect to it, or the
    range form again with what was wrong."""
    project = get_project_for_request(request, slug)
    form = RangeForm(request.POST)
    if form.is_valid():
        data = form.cleaned_data
        try:
            incident = incidents.open_from_range(
                project=project, start=data["start"], end=data["end"], title=data["title"],
                created_by=request.user,
            )  # fmt: skip
        except (incidents.EmptyRange, UploadRejected) as exc:
            form.add_error(None, str(exc))
        else:
            target = reverse("incidents:incident-detail", kwargs={"incident_id": incident.pk})
            return HttpResponseClientRedirect(target) if request.htmx else redirect(target)
    context = _page_context(request, project, form)
    if request.htmx:
        return render(request, f"{TEMPLATE}#stream-range", context, status=422)
    context["rates"] = selectors.service_rates(project.pk)
    return render(request, TEMPLATE, context, status=422)
