"""Drafting and editing: sections with citations, autosave, history, restore, regenerate,
concurrent edits (compare-and-set), action items and the tenant template."""

from __future__ import annotations

import pytest

from apps.core.render.markdown import citations_in
from apps.reports import services
from apps.reports.models import ReportTemplate, ReportVersion, SectionKey


def _section(report, key):
    return report.sections.get(key=key)


def test_draft_has_every_section_with_citations(report, incident):
    keys = list(report.sections.values_list("key", flat=True))
    assert keys == list(SectionKey.values)
    # what failed, what users saw and when; not "Incident title: finding title"
    assert not report.title.startswith(f"{incident.title}:")
    assert (
        report.title.startswith("PostgreSQL refused connections") and "2024-03-14" in report.title
    )
    for key in ("summary", "detection", "timeline", "root_cause"):
        section = _section(report, key)
        assert section.body.strip(), key
        assert section.citations, key
        assert [list(r) for r in citations_in(section.body)] == section.citations
        assert section.versions.get().kind == ReportVersion.Kind.GENERATED
    impact = _section(report, "impact").body
    assert "Duration" in impact and "Affected services" in impact and "Error events" in impact
    assert report.actions.exists()
    # every citation is a real event of this incident
    from apps.ingestion.models import Event

    for source_id, line in _section(report, "timeline").citations:
        assert Event.objects.filter(incident=incident, source_id=source_id, line=line).exists()


def test_drafting_twice_returns_the_same_report(report, incident, personas):
    again = services.create_draft(incident=incident, user=personas.owner)
    assert again.pk == report.pk


def test_autosave_bumps_version_and_coalesces_history(report, personas):
    section = _section(report, "summary")
    first = services.save_section(
        report=report, key="summary", body="One", base_version=section.version, user=personas.member
    )
    assert first.ok and first.section.version == section.version + 1
    second = services.save_section(
        report=report,
        key="summary",
        body="One two",
        base_version=first.section.version,
        user=personas.member,
    )
    assert second.ok and second.section.body == "One two" and second.section.edited
    kinds = list(second.section.versions.values_list("kind", flat=True))
    assert kinds == ["edit", "generated"]  # two keystroke saves, one history entry


def test_title_section_renames_the_report(report, personas):
    title = _section(report, "title")
    services.save_section(
        report=report,
        key="title",
        body="DB pool exhausted\n",
        base_version=title.version,
        user=personas.member,
    )
    report.refresh_from_db()
    assert report.title == "DB pool exhausted"


def test_concurrent_edits_are_detected_and_nothing_is_lost(report, personas):
    section = _section(report, "root_cause")
    base = section.version
    alice = services.save_section(
        report=report,
        key="root_cause",
        body="Alice's cause",
        base_version=base,
        user=personas.owner,
    )
    assert alice.ok
    bob = services.save_section(
        report=report,
        key="root_cause",
        body="Bob's cause",
        base_version=base,
        user=personas.member,
    )
    assert not bob.ok and bob.conflict
    assert bob.section.body == "Alice's cause"  # not overwritten
    kept = bob.section.versions.filter(kind=ReportVersion.Kind.CONFLICT).get()
    assert kept.body == "Bob's cause" and kept.created_by_id == personas.member.pk
    # Bob chooses to overwrite knowingly, on top of the version he has now seen
    again = services.save_section(
        report=report,
        key="root_cause",
        body="Bob's cause",
        base_version=bob.section.version,
        user=personas.member,
    )
    assert again.ok and again.section.body == "Bob's cause"


def test_restore_an_earlier_version(report, personas):
    section = _section(report, "detection")
    generated = section.body
    services.save_section(
        report=report,
        key="detection",
        body="rewritten",
        base_version=section.version,
        user=personas.member,
    )
    version = section.versions.get(kind=ReportVersion.Kind.GENERATED)
    restored = services.restore_version(report=report, version=version, user=personas.member)
    assert restored.body == generated
    assert restored.citations == version.citations
    assert restored.versions.first().kind == ReportVersion.Kind.RESTORED


def test_regenerate_one_section_keeps_edits_elsewhere(report, personas):
    summary = _section(report, "summary")
    edited = "Our summary, citing [a line](#ev-1-1)."
    services.save_section(
        report=report,
        key="summary",
        body=edited,
        base_version=summary.version,
        user=personas.member,
    )
    timeline = _section(report, "timeline")
    services.save_section(
        report=report,
        key="timeline",
        body="broken",
        base_version=timeline.version,
        user=personas.member,
    )
    regenerated = services.regenerate_section(report=report, key="timeline", user=personas.member)
    assert regenerated.body == timeline.body and regenerated.citations == timeline.citations
    summary.refresh_from_db()
    assert summary.body == edited and summary.citations == [[1, 1]]
    assert list(regenerated.versions.values_list("kind", flat=True))[:2] == ["regenerated", "edit"]


def test_action_items_and_template(report, incident, personas):
    services.save_template(sections=["summary", "actions"], default_owner="sre-oncall")
    tmpl = ReportTemplate.objects.get()
    assert tmpl.sections == ["title", "summary", "actions", "appendix"]
    item = services.save_action(report=report, item=None, text="Cap the pool", owner="")
    assert item.owner == "sre-oncall"
    services.save_action(
        report=report, item=item, text="Cap the pool at 50", owner="bob", done=True
    )
    item.refresh_from_db()
    assert item.done and item.owner == "bob"
    report.delete()
    fresh = services.create_draft(incident=incident)
    assert list(fresh.sections.values_list("key", flat=True)) == tmpl.sections
    assert set(fresh.actions.values_list("owner", flat=True)) == {"sre-oncall"}


def test_stale_version_for_unknown_section_is_404(report):
    from django.http import Http404

    with pytest.raises(Http404):
        services.save_section(report=report, key="nope", body="x", base_version=1)


def test_draft_uses_the_latest_analysis(incident, personas):
    """Verified claims get citation links, unverified ones are marked, dropped ones are left out."""
    from apps.analysis.models import AnalysisRun
    from apps.ingestion.models import Event

    event = Event.objects.filter(incident=incident, level__gte=4).order_by("id").first()
    cit = {"id": "E1", "source_id": event.source_id, "line": event.line, "quote": ""}

    def claim(text, status, kind="fact"):
        cites = [cit] if status == "verified" else []
        return {"text": text, "kind": kind, "status": status, "citations": cites, "quote": ""}

    result = {
        "version": 1,
        "status": "ok",
        "summary": [claim("Verified <b>summary</b>", "verified"), claim("Guess", "unverified")],
        "impact": [claim("Checkout failed for users", "verified")],
        "hypotheses": [
            {
                "rank": 1,
                "category": "db",
                "confidence": 0.8,
                "statement": claim("Pool too small", "verified", "hypothesis"),
                "contradicting": [],
            }
        ],
        "contributing_factors": [claim("Made up", "dropped")],
        "actions": [claim("Alert on pool saturation", "verified", "action")],
        "evidence": {},
    }
    run = AnalysisRun.objects.create(
        incident=incident, status=AnalysisRun.Status.DONE, result=result
    )
    report = services.create_draft(incident=incident, user=personas.member)
    assert report.analysis_id == run.pk
    summary = _section(report, "summary")
    assert "Verified \\<b>summary\\</b>" in summary.body
    assert f"#ev-{event.source_id}-{event.line}" in summary.body
    assert "Guess _(unverified)_" in summary.body
    assert "Pool too small" in _section(report, "root_cause").body
    assert "Made up" not in _section(report, "contributing").body
    assert report.actions.filter(text="Alert on pool saturation").exists()


def test_contributing_factors_and_actions_are_causes_and_fixes(report):
    """On the checkout sample: the database ran out of connections; the 504s, the pool
    timeouts and the detectors' new patterns are symptoms and signals, not factors."""
    contributing = _section(report, "contributing").body
    for symptom in ("5xx", "pool", "New message pattern", "spike"):
        assert symptom not in contributing, symptom
    went_well = _section(report, "went_well").body
    assert "source(s)" not in went_well and "were available" not in went_well
    actions = list(report.actions.order_by("position", "id").values_list("text", "citations"))
    assert "max_connections" in actions[0][0] and actions[0][1]
    assert not any(text.startswith("Look at") or "Group the 5xx" in text for text, _ in actions)
    root = _section(report, "root_cause").body
    assert "What it caused, in order:" in root and "Proxy timed out" in root


def test_markdown_export_reads_as_plain_text(report):
    md = services.markdown_export(report)
    assert "2024\\-03\\-14" not in md and "2024-03-14" in md


def test_draft_names_the_trigger_and_times_the_incident_from_its_onset(project, personas):
    """The OOM sample's logs begin well before the incident: its duration runs from the onset
    the diagnosis found, and the likely trigger is cited in the summary and the timeline."""
    from apps.reports.tests.conftest import SAMPLES, ingest_paths
    from apps.rules.models import Diagnosis

    incident = ingest_paths(project, SAMPLES / "worker-oom-crashloop.zip", title="oom trigger")
    diagnosis = Diagnosis.objects.get(incident=incident)
    assert diagnosis.trigger and diagnosis.onset
    report = services.create_draft(incident=incident, user=personas.member)
    summary = _section(report, "summary")
    assert "Likely trigger: New activity on gunicorn" in summary.body
    source_id, line = diagnosis.trigger["evidence"][0]
    assert [source_id, line] in summary.citations
    timeline = _section(report, "timeline")
    assert "Likely trigger" in timeline.body and [source_id, line] in timeline.citations
    impact = _section(report, "impact").body
    assert f"{diagnosis.onset:%H:%M:%S}" in impact and "the logs cover" in impact
    # the export's header times the incident, not the logs; the trigger is a factor; the
    # timeline shows the chosen trigger once, not every trigger candidate
    md = services.markdown_export(report)
    assert f"**Started:** {diagnosis.onset:%Y-%m-%d %H:%M} UTC" in md
    assert "**Logs cover:**" in md
    assert "**Trigger:**" in _section(report, "contributing").body
    assert "New activity:" not in timeline.body
