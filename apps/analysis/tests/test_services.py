"""Django side of the analysis: the run model, selectors, settings and the job (PostgreSQL)."""

from __future__ import annotations

import pytest
from django.db import connection
from django_tenants.utils import tenant_context

from apps.analysis import selectors
from apps.analysis.models import AnalysisRun
from apps.incidents.models import Incident


@pytest.fixture(autouse=True)
def _public_schema_between_tests():
    """The core tests' conftest neutralises the root fixture of this name; these tests need it."""
    connection.set_schema_to_public()
    yield
    connection.set_schema_to_public()


@pytest.fixture
def alpha(personas):
    with tenant_context(personas.alpha):
        yield personas.alpha


@pytest.fixture
def marker_incident(alpha):
    return Incident.objects.get(project__slug="alpha-marker")


def test_latest_analysis_is_the_newest_done_run(marker_incident):
    assert selectors.latest_analysis(marker_incident) is None
    old = AnalysisRun.objects.create(incident=marker_incident, status=AnalysisRun.Status.DONE)
    new = AnalysisRun.objects.create(incident=marker_incident, status=AnalysisRun.Status.DONE)
    AnalysisRun.objects.create(incident=marker_incident, status=AnalysisRun.Status.FAILED)
    AnalysisRun.objects.create(incident=marker_incident, status=AnalysisRun.Status.RUNNING)
    assert old.pk < new.pk
    assert selectors.latest_analysis(marker_incident) == new
