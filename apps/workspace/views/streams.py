"""A project's stream: per-service rates and a live tail with the workspace's filters.

One view serves the page and, when htmx polls it (every 2 s), the tail fragment alone."""

from __future__ import annotations

from django.shortcuts import render
from django.views.decorators.http import require_GET

from apps.core.vocabulary import LEVELS
from apps.incidents.selectors import get_project_for_request
from apps.streams import selectors
from apps.tenants.access import TenantHttpRequest

POLL_SECONDS = 2


@require_GET
def stream_detail(request: TenantHttpRequest, slug: str):
    project = get_project_for_request(request, slug)
    filters = selectors.TailFilters.from_query(request.GET)
    context = {
        "project": project,
        "filters": filters,
        "events": selectors.tail(project.pk, filters),
        "levels": LEVELS,
        "poll_seconds": POLL_SECONDS,
    }
    htmx = request.htmx
    if htmx and htmx.target == "stream-tail" and not htmx.history_restore_request:
        return render(request, "streams/stream_detail.html#stream-tail", context)
    context["rates"] = selectors.service_rates(project.pk)
    return render(request, "streams/stream_detail.html", context)
