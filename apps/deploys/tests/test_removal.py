"""The stored correlation follows the incident's sources: deleting one, or reading one again,
recomputes it at once, so the incident page never shows a path through lines that are gone.
The three-deep sample (postgresql → inventory → orders-api → nginx) is ingested through the
real ingest job; each test's deletion rolls back with its transaction."""

from __future__ import annotations

from pathlib import Path

import pytest
from django_tenants.utils import tenant_context

from apps.workspace.tests.conftest import ingest
from conftest import ensure_tenant

SAMPLES = Path(__file__).resolve().parents[3] / "samples"
PROJECT = "correlation-removal"
SAMPLE = "inventory-db-disk-full"


@pytest.fixture(scope="module")
def incident(django_db_setup, django_db_blocker):
    from apps.incidents.models import Incident, Project

    with django_db_blocker.unblock(), tenant_context(ensure_tenant("alpha")):
        project, _ = Project.objects.get_or_create(slug=PROJECT, defaults={"name": "Removal"})
        found = Incident.objects.filter(project=project, title=SAMPLE).first()
        return found or ingest(project, SAMPLES / f"{SAMPLE}.zip", title=SAMPLE)


@pytest.fixture
def alpha_schema(personas):
    with tenant_context(personas.alpha):
        yield


def _row(incident):
    from apps.deploys.models import IncidentCorrelation

    return IncidentCorrelation.objects.get(incident=incident)


def _dangling(row) -> list[tuple[int, int]]:
    """The path's evidence lines that are no longer stored."""
    from apps.ingestion.models import Event

    refs = [(s["source_id"], s["line"]) for s in row.services]
    return [r for r in refs if not Event.objects.filter(source_id=r[0], line=r[1]).exists()]


def test_deleting_the_origins_source_recomputes_the_path(incident, alpha_schema):
    from apps.ingestion import services

    before = _row(incident)
    assert before.origin == "postgresql" and not _dangling(before)
    origin_source = before.services[0]["source_id"]
    services.delete_source(source=incident.sources.get(pk=origin_source))

    after = _row(incident)
    assert after.computed_at > before.computed_at
    assert not _dangling(after)
    assert origin_source not in {s["source_id"] for s in after.services}
    assert after.origin and after.origin != "postgresql"
    assert "postgresql" not in after.path


def test_reading_a_source_again_clears_the_path_until_its_job_ends(incident, alpha_schema):
    from apps.ingestion import services

    before = _row(incident)
    assert before.services
    # the job is queued (its dispatch waits for a commit that never comes in this test)
    services.reparse_source(source=incident.sources.order_by("pk").first(), log_format="")

    after = _row(incident)
    assert after.computed_at > before.computed_at
    assert not _dangling(after)  # every member of the upload is read again: nothing remains
    assert after.services == [] and after.origin == ""
