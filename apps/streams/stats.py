"""What a project's stream holds: counts of stored, processed records (`stream-stats`)."""

from __future__ import annotations

from django.db.models import Count

from apps.streams.models import StreamEvent


def stream_stats(project_id: int) -> dict:
    """`{"records": N, "services": {name: n, ...}}`: records in the project's stream (drained,
    within retention), by service, most first."""
    rows = (
        StreamEvent.objects.filter(project_id=project_id)
        .values_list("service")
        .annotate(n=Count("*"))
        .order_by("-n", "service")
    )
    services = dict(rows)
    return {"records": sum(services.values()), "services": services}
