"""The incident's findings read back one per fact, and its severity from impact."""

from __future__ import annotations

from pathlib import Path

from django_tenants.utils import tenant_context

from apps.incidents.models import Project
from apps.ingestion import services as ingestion
from apps.rules.diagnosis import engine_findings, story_findings
from apps.rules.models import Diagnosis, Finding

PG = Path(__file__).resolve().parents[3] / "samples" / "checkout-db-connections" / "postgresql.log"


def test_same_rule_in_two_uploads_is_one_finding(personas):
    """Each upload runs its own engine: two files with the same failure gave two rows."""
    with tenant_context(personas.alpha):
        project = Project.objects.get(slug="alpha-marker")
        incident = ingestion.create_incident(
            project=project,
            title="two uploads",
            uploads=[
                ingestion.upload_from_path(PG),
                ingestion.upload_from_path(PG),
            ],
            run_inline=True,
        )
        for job in incident.jobs.all():
            ingestion.run_ingest(job.pk)
        rows = list(Finding.objects.filter(incident=incident, category="db-too-many-connections"))
        assert len(rows) == 2  # one per upload, as stored
        merged = [f for f in engine_findings(incident) if f.category == rows[0].category]
        assert len(merged) == 1 and merged[0].count == rows[0].count + rows[1].count
        diagnosis = Diagnosis.objects.get(incident=incident)
        story = story_findings(rows, diagnosis.root_category)
        assert len(story) == 1 and story[0].role == "cause"
        assert {source for source, _ in story[0].evidence} == {r.evidence[0][0] for r in rows}
        # severity from impact, with its reasons; the incident follows it
        incident.refresh_from_db()
        assert diagnosis.severity and incident.severity == diagnosis.severity
        assert "of events were errors" in diagnosis.severity_reasons


OOM = Path(__file__).resolve().parents[3] / "samples" / "worker-oom-crashloop"


def test_trigger_and_onset_on_the_database_path_match_the_cli(personas):
    """What `triage` names as the likely trigger, the stored diagnosis names too, with its
    evidence as a [source_id, line] pair; the incident begins at the onset, not the first line."""
    from apps.core.triage import triage
    from apps.ingestion.models import Source

    files = sorted(p for p in OOM.iterdir() if p.name != "README.md")
    cli = triage(files)
    assert cli.trigger is not None  # the sample has one: the batch job starting on gunicorn
    with tenant_context(personas.alpha):
        project = Project.objects.get(slug="alpha-marker")
        incident = ingestion.create_incident(
            project=project,
            title="oom",
            uploads=[ingestion.upload_from_path(OOM.with_suffix(".zip"))],  # the bundle
            run_inline=True,
        )
        for job in incident.jobs.all():
            ingestion.run_ingest(job.pk)
        diagnosis = Diagnosis.objects.get(incident=incident)
        assert diagnosis.trigger is not None
        assert diagnosis.trigger["summary"] == cli.trigger.summary[:300]
        assert diagnosis.trigger["kind"] == cli.trigger.kind
        source_id, line = diagnosis.trigger["evidence"][0]
        first = cli.trigger.evidence[0]
        assert Source.objects.get(pk=source_id).member.endswith(first.source) and line == first.line
        first_line = min(s.first_ts for s in Source.objects.filter(incident=incident) if s.first_ts)
        assert diagnosis.onset is not None and diagnosis.onset > first_line
        assert diagnosis.ended is not None and diagnosis.ended >= diagnosis.onset
