"""Text search: the EventText index is filled after the job and gives the scan's answers."""

from __future__ import annotations

import time

import pytest
from django.db import connection

from apps.ingestion import search, services
from apps.ingestion.models import Event, EventText, Source
from apps.workspace.selectors.events import EventFilters, filtered_events

from .conftest import SAMPLES
from .test_ingest import ingest

TERMS = [
    "too many clients",
    "TIMEOUT",
    "hikari",
    "upstream",
    "ß-not-there",
    "100%",
    "max_conn",
    "tmp\\x",
]


def _found(incident, term: str) -> set[int]:
    filters = EventFilters(q=term)
    assert filters.search == term  # the term is applied, not dropped as too short
    return set(filtered_events(incident, filters).values_list("pk", flat=True))


def _scan(incident, term: str) -> set[int]:
    """The reference: a plain case-insensitive scan of the messages."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT id FROM ingestion_event WHERE incident_id = %s "
            "AND strpos(upper(message), upper(%s)) > 0",
            [incident.pk, term],
        )
        return {row[0] for row in cursor.fetchall()}


def test_index_and_scan_give_the_same_events(alpha_project):
    incident = ingest(alpha_project, SAMPLES / "checkout-db-connections.zip")
    job = incident.jobs.get()
    assert not incident.sources.filter(text_indexed=True).exists()  # the job leaves it to later
    before = {term: _found(incident, term) for term in TERMS}
    assert search.index_job(job.pk) == incident.sources.count()
    assert not incident.sources.filter(text_indexed=False).exists()
    assert (
        EventText.objects.filter(source__incident=incident).count()
        == Event.objects.filter(incident=incident).count()
    )
    after = {term: _found(incident, term) for term in TERMS}
    expected = {term: _scan(incident, term) for term in TERMS}
    assert before == after == expected
    assert expected["too many clients"] and expected["TIMEOUT"]  # the sample has both
    assert not expected["ß-not-there"]


def test_half_indexed_incident_finds_everything(alpha_project):
    incident = ingest(alpha_project, SAMPLES / "checkout-db-connections.zip")
    first = incident.sources.order_by("pk").first()
    assert search.index_source(first.pk)
    assert incident.sources.filter(text_indexed=False).exists()
    for term in TERMS:
        assert _found(incident, term) == _scan(incident, term), term


def test_indexing_is_idempotent_and_waits_for_the_job(alpha_project):
    incident = services.create_incident(
        project=alpha_project,
        title="queued",
        uploads=[services.upload_from_path(SAMPLES / "worker-oom-crashloop.zip")],
        run_inline=True,
    )
    job = incident.jobs.get()
    assert search.index_job(job.pk) == 0  # not done yet: nothing to index
    services.run_ingest(job.pk)
    indexed = search.index_job(job.pk)
    assert indexed == incident.sources.filter(status=Source.Status.DONE).count() > 0
    rows = EventText.objects.filter(source__incident=incident).count()
    assert search.index_job(job.pk) == 0  # a re-delivery
    Source.objects.filter(incident=incident).update(text_indexed=False)
    assert search.index_job(job.pk) == indexed  # a forced re-run adds no duplicates
    assert EventText.objects.filter(source__incident=incident).count() == rows


def test_deleting_a_source_deletes_its_text(alpha_project):
    incident = ingest(alpha_project, SAMPLES / "worker-oom-crashloop.zip")
    search.index_incident(incident.pk)
    source = incident.sources.filter(event_count__gt=0).first()
    assert EventText.objects.filter(source=source).exists()
    services.delete_source(source=source)
    assert not EventText.objects.filter(source_id=source.pk).exists()
    others = list(incident.sources.values_list("pk", flat=True))
    assert EventText.objects.filter(source_id__in=others).exists()
    incident.delete()  # the ORM cascade: sources, then their texts
    assert not EventText.objects.filter(source_id__in=others).exists()


@pytest.mark.django_db(transaction=True)
def test_a_worker_indexes_the_text_after_the_job(qcluster):
    from django_tenants.utils import tenant_context

    from apps.incidents.services import create_project
    from conftest import ensure_tenant

    alpha = ensure_tenant("alpha")
    with tenant_context(alpha):
        project = create_project(name=f"search-{time.monotonic_ns()}")
        incident = services.create_incident(
            project=project,
            title="indexed by the worker",
            uploads=[services.upload_from_path(SAMPLES / "worker-oom-crashloop.zip")],
        )

    def indexed():
        with tenant_context(alpha):
            sources = incident.sources.filter(status=Source.Status.DONE)
            return sources.exists() and not sources.filter(text_indexed=False).exists()

    deadline = time.monotonic() + 120
    while not indexed():
        assert time.monotonic() < deadline, "the worker did not index the text in 120 s"
        time.sleep(0.3)
    with tenant_context(alpha):
        assert incident.jobs.get().status == "done"
        assert _found(incident, "oom") == _scan(incident, "oom") != set()


def test_a_skipped_binary_member_does_not_keep_searches_off_the_index(alpha_project):
    from apps.workspace.selectors.search import _text_condition, like_pattern

    incident = services.create_incident(
        project=alpha_project,
        title="text and a binary",
        uploads=[
            services.upload_from_text("2024-01-15T14:02:11Z ERROR api: boom\n", name="api.log"),
            services.Upload(name="core.bin", chunks=[bytes(range(256)) * 64]),
        ],
        run_inline=True,
    )
    for job in incident.jobs.all():
        services.run_ingest(job.pk)
    assert incident.sources.filter(status=Source.Status.SKIPPED).exists()
    assert _text_condition(incident, like_pattern("boom")) is None  # not indexed yet: walk
    search.index_incident(incident.pk)
    assert _text_condition(incident, like_pattern("boom")) is not None  # now the index
    assert _found(incident, "boom") == _scan(incident, "boom") != set()
