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


EVIDENCE_CONTEXT = 10
EVIDENCE_CONTEXT_MAX = 500


def evidence_context(incident: Incident, source_id: int, line: int, context: str | None) -> dict:
    """Physical lines line±N of one source, rebuilt from its events' raw text."""
    from apps.ingestion.models import Event, Source

    source = get_object_or_404(
        Source.objects.select_related("stored_file"), pk=source_id, incident=incident
    )
    try:
        n = max(0, min(int(context or EVIDENCE_CONTEXT), EVIDENCE_CONTEXT_MAX))
    except ValueError:
        n = EVIDENCE_CONTEXT
    low, high = max(1, line - n), line + n
    events = list(
        Event.objects.filter(source=source, end_line__gte=low, line__lte=high)
        .order_by("line")
        .values("line", "end_line", "raw", "level", "ts")
    )
    target = next((e for e in events if e["line"] <= line <= e["end_line"]), None)
    if target is None:
        from django.http import Http404

        raise Http404("No such line in this source")
    rows = []
    for event in events:
        for offset, text in enumerate(event["raw"].split("\n")):
            number = event["line"] + offset
            if low <= number <= high:
                rows.append(
                    {
                        "number": number,
                        "text": text,
                        "hit": target["line"] <= number <= target["end_line"],
                    }
                )
    return {
        "source": source,
        "line": line,
        "target": target,
        "rows": rows,
        "context": n,
        "more": min(n * 2 or EVIDENCE_CONTEXT, EVIDENCE_CONTEXT_MAX),
        "at_start": low == 1,
        "at_end": high >= source.line_count,
        "hit_text": "\n".join(r["text"] for r in rows if r["hit"]),
    }
