"""Deploys on the postmortem's timeline: the chart's markers (service, version, the suspect in
its own colour), the list under it in the PDF and the Markdown export. The pricing sample's
deploy is read from its own logs and judged the suspect by the real correlation; a second
deploy is recorded as CI would, and a third lies outside the chart's range."""

from __future__ import annotations

import shutil
import subprocess
from datetime import timedelta
from pathlib import Path

import pytest
from django_tenants.utils import tenant_context

from apps.workspace.tests.conftest import ingest
from conftest import ensure_tenant

from .test_pdf import ARTIFACTS, export_now, needs_poppler, pdf_text

SAMPLES = Path(__file__).resolve().parents[3] / "samples"
PROJECT = "reports-deploys"
SAMPLE = "pricing-deploy-panic"


@pytest.fixture(scope="module")
def deployed(django_db_setup, django_db_blocker):
    """The sample ingested once (committed: the ingest job writes on its own connection), a CI
    deploy of checkout inside its range and one a day later."""
    from apps.core.correlate.markers import Marker
    from apps.deploys.services import record_deploy
    from apps.incidents.models import Incident, Project
    from apps.ingestion.models import Event

    with django_db_blocker.unblock(), tenant_context(ensure_tenant("alpha")):
        project, _ = Project.objects.get_or_create(slug=PROJECT, defaults={"name": "Rep deploys"})
        incident = Incident.objects.filter(project=project, title=SAMPLE).first()
        incident = incident or ingest(project, SAMPLES / f"{SAMPLE}.zip", title=SAMPLE)
        first = Event.objects.filter(incident=incident).order_by("ts").values_list("ts", flat=True)
        start = first.first()
        for service, version, at in (
            ("checkout", "ci-7f3a", start + timedelta(minutes=1)),
            ("checkout", "later-1", start + timedelta(days=1)),
        ):
            record_deploy(
                project=project,
                marker=Marker(service=service, version=version, started_at=at),
                source="cli",
            )
        return incident


@pytest.fixture
def report(deployed, personas):
    from apps.reports import services

    with tenant_context(personas.alpha):
        yield services.create_draft(incident=deployed, user=personas.member)


def test_chart_marks_deploys_in_range_and_flags_the_suspect(report, deployed):
    from apps.deploys.models import IncidentCorrelation
    from apps.reports import services

    suspect = IncidentCorrelation.objects.get(incident=deployed).suspect
    assert (suspect["service"], suspect["version"]) == ("pricing", "v2.14.0")
    doc = services.build_document(report)
    marks = {(d.service, d.version): d.suspect for d in doc.deploys}
    assert marks == {("pricing", "v2.14.0"): True, ("checkout", "ci-7f3a"): False}
    svg = doc.chart_svg
    assert svg.count('<g class="deploy">') == 2
    assert ">suspect: pricing v2.14.0</text>" in svg and ">checkout ci-7f3a</text>" in svg
    assert "later-1" not in svg and "suspect deploy" in svg  # the legend names both kinds
    markdown = services.markdown_export(report)
    timeline = markdown.split("## Timeline", 1)[1].split("\n## ", 1)[0]
    assert "**Deploys in this period**" in timeline
    assert "**pricing** v2.14.0 _(suspect: errors began after it)_" in timeline
    assert "**checkout** ci-7f3a\n" in timeline and "later-1" not in markdown


@needs_poppler
def test_pdf_chart_shows_the_deploys(report):
    export = export_now(report)
    flat = " ".join(pdf_text(bytes(export.pdf), "deploy-markers").split())
    assert "suspect: pricing v2.14.0" in flat  # the chart's label, drawn in the PDF
    assert "deploy pricing v2.14.0 (suspect: errors began after it)" in flat
    assert "deploy checkout ci-7f3a" in flat and "later-1" not in flat
    if shutil.which("pdftoppm"):  # the page with the chart, to look at
        pdf, png = ARTIFACTS / "deploy-markers.pdf", ARTIFACTS / "deploy-markers"
        subprocess.run(["pdftoppm", "-png", "-r", "80", str(pdf), str(png)], check=True)
