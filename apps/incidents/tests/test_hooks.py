"""The incident hooks: opened, escalated, resolved reach the listeners; a failing listener is
rolled back alone and never takes the incident with it."""

from __future__ import annotations

import pytest
from django_tenants.utils import tenant_context

from apps.incidents import hooks, services
from apps.incidents.hooks import IncidentEvent
from apps.incidents.models import Incident, Project

pytestmark = pytest.mark.django_db


@pytest.fixture
def heard(personas, monkeypatch):
    monkeypatch.setattr(hooks, "_listeners", {})
    events = []

    def listener(incident, event, by):
        events.append((incident.pk, event, by) if by else (incident.pk, event))
        Project.objects.create(name=f"written by listener {event}", slug=f"listener-{event}")

    def broken(incident, event, by):
        Project.objects.create(name="rolled back", slug="rolled-back")
        raise RuntimeError("a bug in a listener")

    hooks.register("broken", broken)
    hooks.register("test", listener)
    with tenant_context(personas.alpha):
        yield events


def test_open_escalate_resolve(heard):
    project = Project.objects.get(slug="alpha-marker")
    incident = services.open_incident(project=project, title="db down")
    assert heard == [(incident.pk, IncidentEvent.OPENED)]
    assert services.update_triage(incident=incident, status="investigating", severity="sev2")
    assert services.update_triage(incident=incident, status="investigating", severity="sev3")
    assert not services.update_triage(incident=incident, status="investigating", severity="sev3")
    assert services.update_triage(incident=incident, status="resolved", severity="sev3")
    assert services.update_triage(incident=incident, status="resolved", severity="sev1")
    assert [e for _, e, *_ in heard] == [IncidentEvent.OPENED, IncidentEvent.ESCALATED, "resolved"]
    assert Incident.objects.filter(pk=incident.pk, status="resolved").exists()
    assert Project.objects.filter(slug="listener-opened").exists()  # committed with it
    assert not Project.objects.filter(slug="rolled-back").exists()  # the failing one alone
    services.update_triage(incident=incident, status="acknowledged", severity="sev1", by="Ada")
    assert heard[-1] == (incident.pk, IncidentEvent.ACKNOWLEDGED, "Ada")  # who, for messages
