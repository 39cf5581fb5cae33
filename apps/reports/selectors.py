"""Read side of postmortems: lists, the report with its sections, evidence lines, chart data."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

from django.db.models import Count, Exists, OuterRef, Q, QuerySet
from django.db.models.expressions import RawSQL
from django.http import Http404

from apps.core.render.chart import ChartData, DeployMark
from apps.core.render.document import EvidenceLine
from apps.core.render.markdown import merge_refs
from apps.deploys.selectors import LEAD, correlation_of, deploys_between
from apps.incidents.models import Incident, Project
from apps.ingestion.models import Event
from apps.reports.models import PdfExport, Report, ReportSection, ReportTemplate, ReportVersion

MAX_EVIDENCE = 200
MAX_ROWS_PER_EVENT = 40
MAX_CHARS_PER_ROW = 2000
CHART_BUCKETS = 60
NICE = [1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 21600, 43200, 86400]


def template() -> ReportTemplate:
    """The tenant's template (defaults when never saved; reading writes nothing)."""
    return ReportTemplate.objects.filter(pk=ReportTemplate.SINGLETON_PK).first() or ReportTemplate(
        pk=ReportTemplate.SINGLETON_PK
    )


def reports_for_project(project: Project, *, q: str = "") -> QuerySet[Report]:
    """The project's postmortems, searchable in title and section text: one query."""
    qs = Report.objects.filter(incident__project=project).select_related("incident")
    if q:
        in_sections = ReportSection.objects.filter(report=OuterRef("pk"), body__icontains=q)
        qs = qs.filter(
            Q(title__icontains=q) | Q(incident__title__icontains=q) | Exists(in_sections)
        )
    return qs.annotate(action_count=Count("actions")).order_by("-updated_at", "-id")


def report_of(incident: Incident) -> Report | None:
    return Report.objects.filter(incident=incident).first()


def get_report(incident: Incident) -> Report:
    report = report_of(incident)
    if report is None:
        raise Http404("No postmortem for this incident yet")
    return report


def sections_of(report: Report) -> list[ReportSection]:
    return list(report.sections.select_related("updated_by").order_by("position", "id"))


def get_section(report: Report, key: str) -> ReportSection:
    section = report.sections.filter(key=key).first() if key else None
    if section is None:
        raise Http404("No such section")
    return section


def versions_of(section: ReportSection, limit: int = 50) -> list[ReportVersion]:
    return list(
        section.versions.select_related("created_by").order_by("-created_at", "-id")[:limit]
    )


def get_version(report: Report, version_id: str) -> ReportVersion:
    if not version_id or not str(version_id).isdigit() or len(str(version_id)) > 18:
        raise Http404("No such version")
    version = (
        ReportVersion.objects.filter(pk=int(version_id), section__report=report)
        .select_related("section")
        .first()
    )
    if version is None:
        raise Http404("No such version")
    return version


def latest_export(report: Report) -> PdfExport | None:
    return report.exports.defer("pdf").order_by("-created_at", "-id").first()


def get_export(report: Report, export_id: str, *, with_pdf: bool = False) -> PdfExport:
    if not export_id or not str(export_id).isdigit() or len(str(export_id)) > 18:
        raise Http404("No such export")
    qs = report.exports.all() if with_pdf else report.exports.defer("pdf")
    export = qs.filter(pk=int(export_id)).first()
    if export is None:
        raise Http404("No such export")
    return export


def report_citations(sections, actions=()) -> list[tuple[int, int]]:
    return merge_refs(*(s.citations for s in sections), *(a.citations for a in actions))[
        :MAX_EVIDENCE
    ]


def evidence_lines(incident: Incident, refs) -> list[EvidenceLine]:
    """The cited lines (natural keys) with their source's name and digests: one query."""

    refs = list(refs)[:MAX_EVIDENCE]
    if not refs:
        return []
    condition = Q()
    for source_id, line in refs:
        condition |= Q(source_id=source_id, line=line)
    events = {
        (e.source_id, e.line): e
        for e in Event.objects.filter(condition, incident=incident)
        .select_related("source__stored_file")
        .only(
            "source_id",
            "line",
            "end_line",
            "raw",
            "ts",
            "source__member",
            "source__sha256",
            "source__stored_file__original_name",
            "source__stored_file__sha256",
        )
    }
    out = []
    for source_id, line in sorted(refs):
        event = events.get((source_id, line))
        if event is None:
            out.append(
                EvidenceLine(source_id, line, f"source {source_id}", "", "", "", missing=True)
            )
            continue
        parts = event.raw.split("\n")[:MAX_ROWS_PER_EVENT]
        out.append(
            EvidenceLine(
                source_id=source_id,
                line=line,
                member=event.source.member,
                file_name=event.source.stored_file.original_name,
                source_sha256=event.source.sha256,
                file_sha256=event.source.stored_file.sha256,
                rows=[(line + i, text[:MAX_CHARS_PER_ROW]) for i, text in enumerate(parts)],
                when=event.ts.strftime("%Y-%m-%d %H:%M:%S UTC") if event.ts else "",
            )
        )
    return out


def suspect_deploy(incident: Incident) -> tuple[int | None, datetime | None]:
    """The id and start of the deploy the incident's stored correlation names the likely
    trigger (None, None when it names none)."""
    correlation = correlation_of(incident.pk)
    suspect = correlation.suspect if correlation else None
    if not suspect or not suspect.get("ts"):
        return None, None
    return suspect.get("deploy_id"), datetime.fromisoformat(suspect["ts"])


def deploy_marks(
    incident: Incident, start: datetime, end: datetime, suspect_id: int | None
) -> list[DeployMark]:
    """The project's deploys in [start, end], the suspect flagged: one query."""
    return [
        DeployMark(d.started_at, d.service, d.version, suspect=d.pk == suspect_id)
        for d in deploys_between(incident.project_id, start, end, lead=timedelta(0))
    ]


def chart_data(incident: Incident, first: datetime | None, last: datetime | None, markers):
    """Event counts per time bucket and level group (one grouped query), and the project's
    deploys in the chart's range. A suspect deploy shortly before the first line widens the
    range to show it: the change that began the incident belongs on its chart."""

    if not first or not last:
        return None
    suspect_id, suspect_at = suspect_deploy(incident)
    if suspect_at and first - LEAD <= suspect_at < first:
        first = suspect_at
    end = last + timedelta(seconds=1)
    target = max((end - first).total_seconds(), 1) / CHART_BUCKETS
    width = next((step for step in NICE if step >= target), NICE[-1])
    origin = datetime.fromtimestamp(math.floor(first.timestamp() / width) * width, tz=UTC)
    count = max(1, math.ceil((end - origin).total_seconds() / width))
    bucket = RawSQL(
        "floor((extract(epoch from ts) - %s) / %s)::int", (origin.timestamp(), float(width))
    )
    rows = (
        Event.objects.filter(incident=incident, ts__gte=origin, ts__lt=end)
        .annotate(b=bucket)
        .values("b", "level")
        .annotate(n=Count("*"))
        .order_by()
        .values_list("b", "level", "n")
    )
    buckets: list[dict[str, int]] = [{} for _ in range(count)]
    for b, level, n in rows:
        if 0 <= b < count:
            key = "error" if (level or 0) >= 4 else "warn" if level == 3 else "other"
            buckets[b][key] = buckets[b].get(key, 0) + n
    return ChartData(
        start=origin,
        width_s=width,
        buckets=buckets,
        markers=list(markers),
        deploys=deploy_marks(incident, origin, end, suspect_id),
    )
