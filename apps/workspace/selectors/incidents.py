"""Read side of the incident workspace: the project list, an incident's list row, sources,
jobs and findings."""

from __future__ import annotations

from datetime import datetime

from django.db.models import (
    Case,
    Count,
    IntegerField,
    Max,
    Min,
    OuterRef,
    Prefetch,
    Q,
    QuerySet,
    Subquery,
    Sum,
    Value,
    When,
)
from django.db.models.functions import Coalesce
from django.shortcuts import get_object_or_404

from apps.core.vocabulary import SEVERITY_ORDER, Level
from apps.incidents.models import Incident, Project
from apps.ingestion.models import (
    Event,
    GroupOccurrence,
    IngestJob,
    Source,
)
from apps.rules.diagnosis import story_findings
from apps.rules.models import Diagnosis, Finding

# --- projects and incidents -------------------------------------------------------------------


def projects_with_stats() -> QuerySet[Project]:
    return Project.objects.annotate(
        incident_count=Count("incidents"), last_incident_at=Max("incidents__created_at")
    ).order_by("name")


def incident_with_bounds(request, incident_id: int) -> Incident:
    """An incident (access-checked like ``get_incident_for_request``) with ``first_ts`` /
    ``last_ts`` of its sources, in the same query."""
    sources = Source.objects.filter(incident=OuterRef("pk")).values("incident")
    qs = Incident.objects.select_related("project").annotate(
        first_ts=Subquery(sources.annotate(t=Min("first_ts")).values("t")),
        last_ts=Subquery(sources.annotate(t=Max("last_ts")).values("t")),
    )
    return get_object_or_404(qs, pk=incident_id)


SEVERITY_RANK = Case(
    *(When(severity=s.value, then=Value(s.rank)) for s in SEVERITY_ORDER),
    default=Value(0),
    output_field=IntegerField(),
)

INCIDENT_SORTS = {
    "recent": ("-created_at", "-id"),
    "oldest": ("created_at", "id"),
    "severity": ("severity", "-created_at"),
    "events": ("-event_count", "-id"),
    "errors": ("-error_count", "-id"),
    "title": ("title", "id"),
}


def incidents_for_project(project: Project, *, q: str = "", sort: str = "recent", status=""):
    """The project's incidents with counts, time range and top finding: one query per page.

    Counts come from the per-source and per-group totals the ingest job maintains, never from
    counting events."""

    sources = Source.objects.filter(incident=OuterRef("pk")).values("incident")
    errors = (
        GroupOccurrence.objects.filter(incident=OuterRef("pk"), group__level__gte=Level.ERROR)
        .values("incident")
        .annotate(n=Sum("count"))
        .values("n")
    )
    top = Finding.objects.filter(incident=OuterRef("pk")).order_by(
        SEVERITY_RANK.desc(), "first_ts", "id"
    )
    qs = project.incidents.annotate(
        event_count=Coalesce(Subquery(sources.annotate(n=Sum("event_count")).values("n")), 0),
        first_ts=Subquery(sources.annotate(t=Min("first_ts")).values("t")),
        last_ts=Subquery(sources.annotate(t=Max("last_ts")).values("t")),
        error_count=Coalesce(Subquery(errors), 0),
        top_finding=Subquery(top.values("title")[:1]),
        top_finding_severity=Subquery(top.values("severity")[:1]),
    )
    if q:
        qs = qs.filter(title__icontains=q)
    if status in Incident.Status.values:
        qs = qs.filter(status=status)
    return qs.order_by(*INCIDENT_SORTS.get(sort, INCIDENT_SORTS["recent"]))


def incident_sources_and_jobs(incident: Incident):

    jobs = list(
        IngestJob.objects.filter(incident=incident)
        .select_related("stored_file")
        .prefetch_related(Prefetch("stored_file__sources", queryset=Source.objects.order_by("id")))
        .order_by("created_at")
    )
    return jobs


def sources_of(jobs) -> list:
    return [source for job in jobs for source in job.stored_file.sources.all()]


def upload_problems(jobs) -> list[str]:
    """One line per upload or member that stored no lines, for the top of the incident: a
    binary file, an empty one, one refused part-way. From the prefetched jobs: no query."""
    problems = []
    for job in jobs:
        sources = job.stored_file.sources.all()
        if job.status == "failed" and not sources:
            problems.append(f"{job.stored_file.original_name} was not ingested: {job.error}")
        for source in sources:
            if source.status == "skipped":
                problems.append(f"{source.member} looks binary: 0 lines stored")
            elif source.status == "failed":
                reason = source.warnings[0] if source.warnings else job.error
                problems.append(f"{source.member} was not ingested: {reason}")
            elif source.status == "done" and not source.line_count:
                problems.append(f"{source.member} is empty: 0 lines stored")
    return problems


def incident_bounds(sources) -> tuple[datetime | None, datetime | None]:
    firsts = [s.first_ts for s in sources if s.first_ts]
    lasts = [s.last_ts for s in sources if s.last_ts]
    return (min(firsts) if firsts else None, max(lasts) if lasts else None)


def diagnosis_of(incident: Incident):

    return Diagnosis.objects.filter(incident=incident).first()


def findings_of(incident: Incident, window: tuple | None = None, diagnosis=None) -> list:
    """Findings, one per fact, as a story: the root cause, the symptoms it explains, then the
    rest most severe first; with a zoom window, those overlapping it."""

    rows = list(Finding.objects.filter(incident=incident).order_by("id"))
    root = diagnosis.root_category if diagnosis is not None else ""
    findings = story_findings(rows, root)
    if window:
        start, end = window
        findings = [
            f
            for f in findings
            if (f.last_ts is None or f.last_ts >= start)
            and (f.first_ts is None or f.first_ts < end)
        ]
    return findings


def events_at(refs) -> dict[tuple[int, int], object]:
    """The events at [source_id, line] refs (natural keys), in one query."""

    keys = {(int(r[0]), int(r[1])) for r in refs if r and len(r) == 2}
    if not keys:
        return {}
    condition = Q()
    for source_id, line in keys:
        condition |= Q(source_id=source_id, line=line)
    rows = (
        Event.objects.filter(condition)
        .select_related("source")
        .only("source__member", "line", "end_line", "message", "level", "ts", "service")
    )
    return {(e.source_id, e.line): e for e in rows}
