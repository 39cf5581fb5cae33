"""Deploys on the incident's timeline: a marker in range, and "what changed" before it."""

from __future__ import annotations

from datetime import timedelta

from apps.core.correlate.markers import Marker
from apps.deploys.models import Deploy
from apps.deploys.services import record_deploy
from apps.workspace.selectors.events import EventFilters
from apps.workspace.selectors.timeline import build_timeline

from .conftest import url


def _record(project, service, version, at, **extra):
    marker = Marker(service=service, version=version, started_at=at, **extra)
    return record_deploy(project=project, marker=marker, source=Deploy.Source.API).deploy


def test_deploys_on_the_timeline_and_in_what_changed(client, personas, db_incident):
    first = db_incident.sources.order_by("pk").first().events.exclude(ts=None).order_by("ts")[0].ts
    project = db_incident.project
    _record(project, "order-sync", "v1.4.0", first + timedelta(seconds=30), environment="prod")
    _record(
        project,
        "checkout-api",
        "v2.0.1",
        first - timedelta(minutes=30),  # before the range: listed, no marker
        description='<script>alert("x")</script>',
        url="javascript:alert(1)",
    )
    _record(project, "far-away", "v0", first - timedelta(days=2))  # too early: not shown
    sources = list(db_incident.sources.all())
    timeline = build_timeline(db_incident, sources, EventFilters(), [], None, rollup=False)
    shown = [(d["deploy"].service, d["x"] is not None) for d in timeline.deploys]
    assert shown == [("checkout-api", False), ("order-sync", True)]

    client.force_login(personas.member)
    body = client.get(
        url(personas.alpha, f"incidents/{db_incident.pk}/timeline/"), HTTP_HX_REQUEST="true"
    ).content.decode()
    assert body.count('data-testid="deploy-marker"') == 1
    assert 'data-testid="what-changed"' in body
    assert "order-sync</strong> v1.4.0" in body
    assert "<script>alert" not in body and "&lt;script&gt;" in body
    assert "javascript:alert" not in body  # not a link


def test_no_deploys_no_section(client, personas, db_incident):
    client.force_login(personas.member)
    body = client.get(
        url(personas.alpha, f"incidents/{db_incident.pk}/timeline/"), HTTP_HX_REQUEST="true"
    ).content.decode()
    assert 'data-testid="what-changed"' not in body
    assert 'data-testid="deploy-marker"' not in body
