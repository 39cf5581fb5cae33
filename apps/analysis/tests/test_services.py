"""Django side of the analysis: the run model, selectors, settings and the job (PostgreSQL)."""

from __future__ import annotations

import base64

import pytest
from django.db import connection
from django_tenants.utils import tenant_context

from apps.analysis import selectors, services
from apps.analysis.models import AnalysisRun
from apps.core.sealing import SealError, seal, unseal
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
    AnalysisRun.objects.filter(incident=marker_incident).delete()
    assert selectors.latest_analysis(marker_incident) is None
    old = AnalysisRun.objects.create(incident=marker_incident, status=AnalysisRun.Status.DONE)
    new = AnalysisRun.objects.create(incident=marker_incident, status=AnalysisRun.Status.DONE)
    AnalysisRun.objects.create(incident=marker_incident, status=AnalysisRun.Status.FAILED)
    AnalysisRun.objects.create(incident=marker_incident, status=AnalysisRun.Status.RUNNING)
    assert old.pk < new.pk
    assert selectors.latest_analysis(marker_incident) == new


# --- sealing of the API key ---------------------------------------------------------------------


def test_seal_round_trip_and_refusals():
    token = seal("sk-live-secret", secret="k1", context="t_alpha")
    assert token.startswith("v1:") and "sk-live-secret" not in token
    assert seal("sk-live-secret", secret="k1", context="t_alpha") != token  # random nonce
    assert unseal(token, secrets=["k1"], context="t_alpha") == "sk-live-secret"
    assert unseal(token, secrets=["new", "k1"], context="t_alpha") == "sk-live-secret"  # rotation
    for secrets, context in ((["k2"], "t_alpha"), (["k1"], "t_beta"), ([], "t_alpha")):
        with pytest.raises(SealError):
            unseal(token, secrets=secrets, context=context)
    raw = bytearray(base64.urlsafe_b64decode(token[3:]))
    raw[20] ^= 1  # one flipped bit of ciphertext
    tampered = "v1:" + base64.urlsafe_b64encode(bytes(raw)).decode()
    for bad in (tampered, "v1:", "v2:abc", "plain-text-key", "v1:!!!"):
        with pytest.raises(SealError):
            unseal(bad, secrets=["k1"], context="t_alpha")


def test_stale_running_run_is_taken_over_once(alpha, django_capture_on_commit_callbacks):
    from datetime import timedelta

    from django.utils import timezone

    incident = Incident.objects.get(project__slug="alpha-marker")
    dead = AnalysisRun.objects.create(
        incident=incident,
        status=AnalysisRun.Status.RUNNING,
        heartbeat_at=timezone.now() - timedelta(hours=2),  # its worker died long ago
        attempts=1,
    )
    assert services.execute_run(dead.pk) == AnalysisRun.Status.DONE
    assert services.execute_run(dead.pk) == "skipped"
    dead.refresh_from_db()
    assert dead.attempts == 2 and dead.result["version"] == 1


def test_poison_run_gives_up_after_max_attempts(alpha, settings):
    incident = Incident.objects.get(project__slug="alpha-marker")
    run = AnalysisRun.objects.create(incident=incident, attempts=settings.Q_CLUSTER["max_attempts"])
    assert services.execute_run(run.pk) == AnalysisRun.Status.FAILED
    run.refresh_from_db()
    assert run.status == "failed" and "gave up" in run.error


@pytest.mark.parametrize(
    ("url", "refused"),
    [
        ("http://127.0.0.1:11434/v1", False),
        ("http://localhost:8000/v1", False),  # names are checked at connect time, not here
        ("https://llm.example.com/v1", False),
        ("http://[::1]:8000/v1", False),
        ("http://10.1.2.3/v1", False),
        ("https://93.184.215.14/v1", True),
        ("https://[2606:4700:4700::1111]/v1", True),
    ],
)
def test_local_only_refuses_public_address_literals_at_once(url, refused):
    assert bool(services.local_only_problem(url)) is refused
