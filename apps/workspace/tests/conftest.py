"""Workspace fixtures: sample bundles ingested once per session into alpha's "workspace" project.

Kept out of the marker projects (the isolation tests expect exactly one incident there).
Tenant schemas survive transactional tests, so browser tests see these incidents too.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from django_tenants.utils import tenant_context

from conftest import ensure_tenant

SAMPLES = Path(__file__).resolve().parents[3] / "samples"
WORKSPACE_PROJECT = "workspace"


def ingest(project, *paths, title: str):
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
        project=project,
        title=title,
        uploads=[services.upload_from_text(text)],
        run_inline=True,
    )
    for job in incident.jobs.all():
        services.run_ingest(job.pk)
    return incident


def _workspace_project():
    from apps.incidents.models import Project

    project, _ = Project.objects.get_or_create(
        slug=WORKSPACE_PROJECT, defaults={"name": "Workspace"}
    )
    return project


@pytest.fixture(scope="session")
def django_db_setup(django_db_setup, django_db_blocker):
    from apps.incidents.models import Incident

    with django_db_blocker.unblock(), tenant_context(ensure_tenant("alpha")):
        project = _workspace_project()
        for name in ("checkout-db-connections", "worker-oom-crashloop"):
            if not Incident.objects.filter(project=project, title=name).exists():
                ingest(project, SAMPLES / f"{name}.zip", title=name)


@pytest.fixture
def alpha(personas):
    with tenant_context(personas.alpha):
        yield personas.alpha


@pytest.fixture
def db_incident(alpha):
    """The checkout-db-connections sample, ingested (events, groups, findings, diagnosis)."""
    from apps.incidents.models import Incident

    return Incident.objects.select_related("project").get(
        project__slug=WORKSPACE_PROJECT, title="checkout-db-connections"
    )


@pytest.fixture
def oom_incident(alpha):
    from apps.incidents.models import Incident

    return Incident.objects.select_related("project").get(
        project__slug=WORKSPACE_PROJECT, title="worker-oom-crashloop"
    )


def url(tenant, path: str) -> str:
    return tenant.url_prefix + path.lstrip("/")


@pytest.fixture(autouse=True)
def _cold_aggregate_cache():
    """Timeline aggregates are cached; every test (and its query budget) starts cold."""
    from django.core.cache import cache

    cache.clear()


@pytest.fixture(autouse=True)
def _search_never_cut_short(monkeypatch):
    """A text search stops at a time budget (search.py); on a busy test machine that would make
    pages depend on timing. Tests about the budget set it themselves."""
    from apps.workspace.selectors import search

    monkeypatch.setattr(search, "SEARCH_BUDGET", 600.0)
    monkeypatch.setattr(search, "WORKSPACE_BUDGET", 600.0)
