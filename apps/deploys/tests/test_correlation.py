"""Correlation on stored incidents: the bundled multi-service samples ingested through the real
ingest job, then what the deploys sink stored (deploys read from the logs, the origin, the
path with its evidence, the deploy verdicts)."""

from __future__ import annotations

from pathlib import Path

import pytest
from django_tenants.utils import tenant_context

from apps.workspace.tests.conftest import ingest
from conftest import ensure_tenant

SAMPLES = Path(__file__).resolve().parents[3] / "samples"
PROJECT = "correlation"


@pytest.fixture(scope="module")
def incidents(django_db_setup, django_db_blocker):
    """pricing-deploy-panic and inventory-db-disk-full, ingested once (committed: the ingest
    job writes on a connection of its own)."""
    from apps.incidents.models import Incident, Project

    with django_db_blocker.unblock(), tenant_context(ensure_tenant("alpha")):
        project, _ = Project.objects.get_or_create(slug=PROJECT, defaults={"name": "Corr"})
        out = {}
        for name in ("pricing-deploy-panic", "inventory-db-disk-full"):
            incident = Incident.objects.filter(project=project, title=name).first()
            out[name] = incident or ingest(project, SAMPLES / f"{name}.zip", title=name)
        return out


@pytest.fixture
def alpha_schema(personas):
    with tenant_context(personas.alpha):
        yield


def _correlation(incident):
    from apps.deploys.models import IncidentCorrelation

    return IncidentCorrelation.objects.get(incident=incident)


def test_a_deploy_read_from_the_logs_is_the_suspect(incidents, alpha_schema):
    from apps.deploys.models import Deploy

    incident = incidents["pricing-deploy-panic"]
    deploys = Deploy.objects.filter(project=incident.project, source="logs")
    assert [(d.service, d.version) for d in deploys] == [("pricing", "v2.14.0")]
    assert "listening on" in deploys[0].description

    row = _correlation(incident)
    assert row.origin == "pricing"
    assert row.path[0] == "pricing" and len(row.path) >= 2
    suspect = row.suspect
    assert (suspect["service"], suspect["version"]) == ("pricing", "v2.14.0")
    pricing = next(s for s in suspect["services"] if s["name"] == "pricing")
    assert pricing["rose"] and pricing["after"] > pricing["before"]
    assert pricing["new_groups"] >= 1


def test_the_path_names_each_steps_first_error_line(incidents, alpha_schema):
    from apps.ingestion.models import Event

    row = _correlation(incidents["inventory-db-disk-full"])
    assert row.origin == "postgresql"
    assert row.confidence in ("high", "medium", "low") and row.basis
    for step in row.services:
        event = Event.objects.get(source_id=step["source_id"], line=step["line"])
        assert step["text"] == event.message[:300]
        assert event.level is None or event.level >= 4
    assert row.services[0]["role"] == "origin"
    assert row.suspect is None  # no deploy in this one


def test_refresh_is_idempotent(incidents, alpha_schema):
    from apps.deploys import correlation
    from apps.deploys.models import Deploy

    incident = incidents["pricing-deploy-panic"]
    before = list(Deploy.objects.filter(project=incident.project).values_list("pk", flat=True))
    again = correlation.refresh(incident)
    assert again.origin == "pricing"
    after = list(Deploy.objects.filter(project=incident.project).values_list("pk", flat=True))
    assert after == before


def test_the_incident_page_shows_where_it_began_and_the_trigger(client, personas, incidents):
    from apps.workspace.tests.conftest import url

    incident = incidents["pricing-deploy-panic"]
    client.force_login(personas.member)
    body = client.get(url(personas.alpha, f"incidents/{incident.pk}/")).content.decode()
    assert 'data-testid="origin-service">pricing<' in body
    assert body.count('data-testid="path-step"') >= 2
    assert 'data-testid="deploy-trigger"' in body and "pricing v2.14.0" in body
    assert "read from the logs" in body
    # the lanes: the origin's first, marked, with its onset
    lanes = [
        chunk.split('"', 1)[0] for chunk in body.split('data-testid="lane" data-service="')[1:]
    ]
    assert lanes[0] == "pricing"
    assert 'data-role="origin"' in body and 'data-testid="lane-onset"' in body
    assert 'data-testid="deploy-suspect"' in body
    # error groups first seen after the deploy name its version
    assert "first seen in pricing v2.14.0" in body


def test_no_correlation_card_without_failures(client, personas, alpha_schema):
    from apps.incidents.models import Project
    from apps.workspace.tests.conftest import url

    project, _ = Project.objects.get_or_create(slug="quiet", defaults={"name": "Quiet"})
    from apps.incidents.models import Incident

    incident = Incident.objects.create(project=project, title="nothing yet")
    client.force_login(personas.member)
    body = client.get(url(personas.alpha, f"incidents/{incident.pk}/")).content.decode()
    assert 'data-testid="correlation"' not in body


@pytest.fixture(scope="module")
def rollout(django_db_setup, django_db_blocker, tmp_path_factory):
    """A Kubernetes rollout shaped on the docs' (apps/core/tests/correlate/shaped.py), zipped
    with its directories, ingested with no deploy sent: the logs must show it."""
    import zipfile

    from apps.core.tests.correlate.shaped import k8s_checkout_rollout
    from apps.incidents.models import Incident, Project

    case = k8s_checkout_rollout(7)
    bundle = tmp_path_factory.mktemp("rollout") / "rollout.zip"
    with zipfile.ZipFile(bundle, "w") as zf:
        for rel, text in case.files.items():
            zf.writestr(rel, text)
    with django_db_blocker.unblock(), tenant_context(ensure_tenant("alpha")):
        project, _ = Project.objects.get_or_create(slug="rollout", defaults={"name": "Rollout"})
        incident = Incident.objects.filter(project=project, title="rollout").first()
        return incident or ingest(project, bundle, title="rollout")


def test_a_rollout_read_from_kubernetes_events_is_the_trigger(rollout, alpha_schema):
    from apps.deploys.models import Deploy

    deploys = Deploy.objects.filter(project=rollout.project, source="logs")
    assert [(d.service, d.version) for d in deploys] == [("checkout", "1.9.0")]  # the image tag
    row = _correlation(rollout)
    assert row.origin == "checkout"
    assert (row.suspect["service"], row.suspect["version"]) == ("checkout", "1.9.0")


def test_the_same_deploy_read_again_is_stored_once(incidents, alpha_schema):
    """pricing v2.14.0 read from the logs of a second incident of the project: one row."""
    from apps.deploys import correlation
    from apps.deploys.models import Deploy

    incident = incidents["pricing-deploy-panic"]
    before = Deploy.objects.filter(project=incident.project, source="logs").count()
    Deploy.objects.filter(project=incident.project, source="logs").update(external_id="other")
    correlation.record_log_deploys(incident)
    assert Deploy.objects.filter(project=incident.project, source="logs").count() == before
