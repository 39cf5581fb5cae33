"""Report fixtures: the checkout sample ingested once per session into alpha's "reports" project
(kept out of the marker projects: the isolation tests expect one incident there)."""

from __future__ import annotations

from pathlib import Path

import pytest
from django_tenants.utils import tenant_context

from conftest import ensure_tenant

SAMPLES = Path(__file__).resolve().parents[3] / "samples"
PROJECT = "reports"
SAMPLE = "checkout-db-connections"


def ingest_paths(project, *paths, title: str):
    from apps.ingestion import services

    incident = services.create_incident(
        project=project,
        title=title,
        uploads=[services.upload_from_path(p) for p in paths],
        run_inline=True,
    )
    for job in incident.jobs.all():
        services.run_ingest(job.pk)
    return incident


def ingest_text(project, text: str, *, title: str):
    from apps.ingestion import services

    incident = services.create_incident(
        project=project, title=title, uploads=[services.upload_from_text(text)], run_inline=True
    )
    for job in incident.jobs.all():
        services.run_ingest(job.pk)
    return incident


@pytest.fixture(scope="session")
def django_db_setup(django_db_setup, django_db_blocker):
    from apps.incidents.models import Incident, Project

    with django_db_blocker.unblock(), tenant_context(ensure_tenant("alpha")):
        project, _ = Project.objects.get_or_create(slug=PROJECT, defaults={"name": "Reports"})
        if not Incident.objects.filter(project=project, title=SAMPLE).exists():
            ingest_paths(project, SAMPLES / f"{SAMPLE}.zip", title=SAMPLE)


@pytest.fixture
def alpha(personas):
    with tenant_context(personas.alpha):
        yield personas.alpha


@pytest.fixture
def project(alpha):
    from apps.incidents.models import Project

    return Project.objects.get(slug=PROJECT)


@pytest.fixture
def incident(project):
    return project.incidents.select_related("project").get(title=SAMPLE)


@pytest.fixture
def report(incident, personas):
    from apps.reports import services

    return services.create_draft(incident=incident, user=personas.member)


def url(tenant, path: str) -> str:
    return tenant.url_prefix + path.lstrip("/")
