"""Write side of postmortems: draft, save (compare-and-set), regenerate, restore, actions,
template, and PDF exports (one row and one PDF per request, rendered inline when small)."""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from datetime import date, timedelta

from django.conf import settings
from django.db import connection, transaction
from django.db.models import F
from django.utils import timezone

from aiops.outage import retry_transient
from apps.core.render import chart, document
from apps.core.render.markdown import citations_in
from apps.core.render.pdf import PdfError, PdfResult, render_pdf
from apps.incidents.models import Incident
from apps.jobs import lifecycle
from apps.reports import drafting, selectors
from apps.reports.models import (
    REQUIRED_SECTIONS,
    ActionItem,
    PdfExport,
    Report,
    ReportSection,
    ReportTemplate,
    ReportVersion,
    SectionKey,
)
from apps.tenants.jobs import enqueue_tenant_task

log = logging.getLogger(__name__)

MAX_BODY = 100_000
COALESCE_EDITS = timedelta(minutes=5)


def _sections_for(tmpl: ReportTemplate) -> list[str]:
    keys = [k for k in tmpl.sections or [] if k in SectionKey.values]
    for required in REQUIRED_SECTIONS:
        if required not in keys:
            keys.insert(0 if required == SectionKey.TITLE else len(keys), required)
    if keys[0] != SectionKey.TITLE:
        keys.remove(SectionKey.TITLE)
        keys.insert(0, SectionKey.TITLE)
    return keys


def _title_of(body: str) -> str:
    first = next((line.strip() for line in body.splitlines() if line.strip()), "")
    return first.lstrip("#").strip()[:300] or "Untitled postmortem"


@transaction.atomic
def create_draft(*, incident: Incident, user=None) -> Report:
    """The incident's postmortem, drafted from its findings, groups, timeline and analysis.
    A second press returns the existing report untouched."""
    existing = Report.objects.select_for_update().filter(incident=incident).first()
    if existing is not None:
        return existing
    tmpl = selectors.template()
    facts = drafting.gather(incident, default_owner=tmpl.default_owner)
    report = Report.objects.create(
        incident=incident,
        title=incident.title[:300],
        analysis_id=facts.analysis.pk if facts.analysis else None,
        created_by=user,
    )
    for position, key in enumerate(_sections_for(tmpl)):
        body, citations = drafting.draft_section(key, facts)
        section = ReportSection.objects.create(
            report=report,
            key=key,
            position=position,
            body=body,
            citations=citations,
            updated_by=user,
        )
        ReportVersion.objects.create(
            section=section,
            number=1,
            kind=ReportVersion.Kind.GENERATED,
            body=body,
            citations=citations,
            created_by=user,
        )
        if key == SectionKey.TITLE:
            report.title = _title_of(body)
    report.save(update_fields=["title"])
    ActionItem.objects.bulk_create(
        ActionItem(
            report=report,
            text=item["text"],
            citations=item["citations"],
            owner=tmpl.default_owner,
            position=n,
        )
        for n, item in enumerate(drafting.draft_actions(facts))
    )
    return report


@dataclass
class SaveResult:
    ok: bool
    section: ReportSection  # the section as stored now
    conflict: bool = False


def _record(section: ReportSection, kind: str, user) -> ReportVersion:
    """A version row; consecutive edits by one person within minutes share one row."""
    if kind == ReportVersion.Kind.EDIT and user is not None:
        last = section.versions.order_by("-created_at", "-id").first()
        if (
            last is not None
            and last.kind == ReportVersion.Kind.EDIT
            and last.created_by_id == user.pk
            and timezone.now() - last.created_at < COALESCE_EDITS
        ):
            last.body, last.citations, last.number = (
                section.body,
                section.citations,
                section.version,
            )
            last.save(update_fields=["body", "citations", "number", "updated_at"])
            return last
    return ReportVersion.objects.create(
        section=section,
        number=section.version,
        kind=kind,
        body=section.body,
        citations=section.citations,
        created_by=user,
    )


def _touch(report: Report, section: ReportSection) -> None:
    fields = {"updated_at": timezone.now()}
    if section.key == SectionKey.TITLE:
        fields["title"] = _title_of(section.body)
    Report.objects.filter(pk=report.pk).update(**fields)


@transaction.atomic
def save_section(
    *, report: Report, key: str, body: str, base_version: int, user=None
) -> SaveResult:
    """Save one section if nobody saved it since `base_version` (compare-and-set).

    On a conflict nothing is overwritten; the losing text is kept as a `conflict` version so
    it can be recovered from history."""
    body = body.replace("\r\n", "\n")[:MAX_BODY]
    section = selectors.get_section(report, key)
    citations = [list(ref) for ref in citations_in(body)]
    updated = ReportSection.objects.filter(pk=section.pk, version=base_version).update(
        body=body,
        citations=citations,
        version=F("version") + 1,
        edited=True,
        updated_by=user,
        updated_at=timezone.now(),
    )
    section.refresh_from_db()
    if not updated:
        if section.body != body:
            ReportVersion.objects.create(
                section=section,
                number=0,
                kind=ReportVersion.Kind.CONFLICT,
                body=body,
                citations=citations,
                created_by=user,
            )
        return SaveResult(ok=False, section=section, conflict=True)
    _record(section, ReportVersion.Kind.EDIT, user)
    _touch(report, section)
    return SaveResult(ok=True, section=section)


def _replace(report: Report, section: ReportSection, body: str, citations, kind: str, user):
    ReportSection.objects.filter(pk=section.pk).update(
        body=body,
        citations=citations,
        version=F("version") + 1,
        edited=kind == ReportVersion.Kind.RESTORED,
        updated_by=user,
        updated_at=timezone.now(),
    )
    section.refresh_from_db()
    _record(section, kind, user)
    _touch(report, section)
    return section


@transaction.atomic
def regenerate_section(*, report: Report, key: str, user=None) -> ReportSection:
    """Redraft one section from the incident's current data; other sections are untouched and
    the previous text stays in history."""
    section = selectors.get_section(report, key)
    facts = drafting.gather(report.incident, default_owner=selectors.template().default_owner)
    body, citations = drafting.draft_section(key, facts)
    return _replace(report, section, body, citations, ReportVersion.Kind.REGENERATED, user)


@transaction.atomic
def restore_version(*, report: Report, version: ReportVersion, user=None) -> ReportSection:
    section = version.section
    return _replace(
        report, section, version.body, version.citations, ReportVersion.Kind.RESTORED, user
    )


@transaction.atomic
def save_action(
    *,
    report: Report,
    item: ActionItem | None,
    text: str,
    owner: str = "",
    due_date: date | None = None,
    done: bool = False,
) -> ActionItem:
    if item is None:
        position = report.actions.count()
        item = ActionItem(
            report=report, position=position, owner=owner or selectors.template().default_owner
        )
    else:
        item.owner = owner
    item.text, item.due_date, item.done = text[:500], due_date, done
    item.save()
    Report.objects.filter(pk=report.pk).update(updated_at=timezone.now())
    return item


@transaction.atomic
def delete_action(*, item: ActionItem) -> None:
    item.delete()


@transaction.atomic
def save_template(*, sections: list[str], default_owner: str, user=None) -> ReportTemplate:
    tmpl, _ = ReportTemplate.objects.get_or_create(pk=ReportTemplate.SINGLETON_PK)
    tmpl.sections = _sections_for(ReportTemplate(sections=sections))
    tmpl.default_owner = default_owner[:120]
    tmpl.updated_by = user
    tmpl.save()
    return tmpl


# --- export ---------------------------------------------------------------------------------------


def build_document(report: Report) -> document.Document:
    """Everything the Markdown and PDF exports show, read in a handful of queries."""
    incident = Incident.objects.select_related("project").get(pk=report.incident_id)
    sections = selectors.sections_of(report)
    actions = list(report.actions.all())
    facts = drafting.gather(incident)
    refs = selectors.report_citations(sections, actions)
    markers = [(row.when, row.text[:120]) for row in drafting.key_events(facts) if row.when]
    data = selectors.chart_data(incident, facts.first_ts, facts.last_ts, markers)
    title = next((_title_of(s.body) for s in sections if s.key == SectionKey.TITLE), report.title)
    # the incident's own times (the diagnosis' onset and end), not the logs' first and last
    # lines: a file that opens an hour early does not make the incident an hour longer
    dates = [
        ("Started", _fmt(facts.started)),
        ("Ended", _fmt(facts.ended)),
        ("Duration", drafting.duration_text(facts.span)),
        ("Logs cover", f"{_fmt(facts.first_ts)} → {_fmt(facts.last_ts)}"),
        ("Incident opened", _fmt(incident.created_at)),
        ("Postmortem updated", _fmt(report.updated_at)),
    ]
    return document.Document(
        title=title,
        subtitle=f"{incident.project.name} · incident #{incident.pk}: {incident.title}",
        status=incident.get_status_display(),
        severity=incident.get_severity_display(),
        dates=dates,
        sections=[
            document.Section(s.key, s.label, s.body) for s in sections if s.key != SectionKey.TITLE
        ],
        actions=[
            document.ActionRow(
                a.text,
                a.owner,
                a.due_date.isoformat() if a.due_date else "",
                a.done,
                evidence=_action_evidence(a.citations, facts.members),
            )
            for a in actions
        ],
        evidence=selectors.evidence_lines(incident, refs),
        chart_svg=chart.render_svg(data) if data else "",
        deploys=data.deploys if data else [],
        generated=_fmt(timezone.now()),
        version_note=f"Report status: {report.get_status_display()} · generated {_fmt(timezone.now())}",
    )


def _action_evidence(citations, members: dict[int, str]) -> list[tuple[str, int, int]]:
    out = []
    for pair in (citations or [])[:3]:
        try:
            source_id, line = int(pair[0]), int(pair[1])
        except (TypeError, ValueError, IndexError):
            continue
        name = members.get(source_id, f"source {source_id}").rsplit("/", 1)[-1]
        out.append((f"{name}:{line}", source_id, line))
    return out


def _fmt(value) -> str:
    return value.strftime("%Y-%m-%d %H:%M UTC") if value else "—"


def markdown_export(report: Report) -> str:
    return document.to_markdown(build_document(report))


def render_report_pdf(report: Report) -> PdfResult:
    doc = build_document(report)
    result = render_pdf(
        document.to_print_html(doc),
        static_root=settings.BASE_DIR / "static",
        stylesheet=settings.BASE_DIR / "static" / "css" / "report.css",
        timeout=float(getattr(settings, "REPORTS_PDF_TIMEOUT", 60)),
    )
    return result


@transaction.atomic
def request_pdf(*, report: Report, user=None) -> PdfExport:
    """One export row per press; rendered in this request when small, else in a job."""
    export = PdfExport.objects.create(report=report, requested_by=user)
    cited = len(selectors.report_citations(report.sections.all(), report.actions.all()))
    inline_max = int(getattr(settings, "REPORTS_PDF_INLINE_MAX_LINES", 80))
    if cited > inline_max:
        enqueue_tenant_task(
            "apps.reports.tasks.render_pdf",
            export.pk,
            schema_name=connection.schema_name,
            task_name=f"report-pdf-{connection.schema_name}-{export.pk}",
        )
    else:
        transaction.on_commit(lambda: render_export(export.pk))
    return export


def render_export(export_id: int) -> str:
    """Render one export (the job body; safe to run more than once): the final status, or
    "skipped". Claim, heartbeat, attempts and failure are apps.jobs.lifecycle's.

    Database steps ride out a PostgreSQL restart (`retry_transient`), so a restart mid-render
    costs a pause, not an export stuck "Rendering". The PDF lands with its status in one UPDATE:
    a half-written PDF is never stored, and only a `done` export is served."""
    return lifecycle.run(PdfExport, export_id, _render)


def _render(claim: lifecycle.Claim) -> lifecycle.Finished:
    what = f"pdf export {claim.pk}"
    export = retry_transient(
        lambda: PdfExport.objects.select_related("report").defer("pdf").get(pk=claim.pk),
        what=what,
    )
    try:
        result = retry_transient(lambda: render_report_pdf(export.report), what=what)
    except PdfError as exc:
        log.warning("pdf export %s failed: %s", claim.pk, exc)
        raise lifecycle.JobFailed(str(exc)[:500]) from exc
    return lifecycle.Finished(
        fields={
            "pdf": result.pdf,
            "sha256": hashlib.sha256(result.pdf).hexdigest(),
            "size": len(result.pdf),
            "pages": result.pages,
            "refused_urls": len(result.refused),
        }
    )
