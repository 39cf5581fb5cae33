"""Correcting a source's header on the sources panel: who may, what a bad header says, and a
re-parse that replaces the source's events exactly (through the worker's own task)."""

from __future__ import annotations

import pytest
from django.db.models import Sum
from django_tenants.utils import tenant_context

from apps.ingestion import services
from apps.ingestion.models import Event, EventRollup, GroupOccurrence, IngestJob, Source
from apps.tenants.jobs import run_tenant_task
from apps.workspace.selectors.timeline import rollup_is_current

HX = {"HTTP_HX_REQUEST": "true"}
LOG = (
    "2026-12-03 10:12:14,123 [worker-1] ERROR com.shop.Pay - charge failed for order 17\n"
    "    at com.shop.Pay.charge(Pay.java:12)\n"
    "2026-12-03 10:12:15,456 [worker-2] INFO com.shop.Cart - cart saved for order 18\n"
    "a line nobody wrote a header for\n"
    "2026-12-03 10:12:16,789 [worker-1] WARN com.shop.Pay - retrying order 17\n"
)
# the file's own header is learnt well; this correction keeps the logger in the message
HEADER = r"<Date> <Time> \[<Thread>\] <Level> <Content>"


@pytest.fixture
def source(personas):
    """A pasted log in a fresh incident of alpha's marker project, ingested."""
    from apps.incidents.models import Project

    with tenant_context(personas.alpha):
        project = Project.objects.get(slug="alpha-marker")
        incident = services.create_incident(
            project=project,
            title="header correction",
            uploads=[services.upload_from_text(LOG, name="shop.log")],
            run_inline=True,
        )
        job = incident.jobs.get()
        assert services.run_ingest(job.pk) == IngestJob.Status.DONE
        return job.stored_file.sources.get()


def _url(personas, source) -> str:
    return f"{personas.alpha.url_prefix}sources/{source.pk}/header/"


def _messages(source) -> list[str]:
    return list(
        Event.objects.filter(source=source).order_by("line").values_list("message", flat=True)
    )


def _assert_consistent(source, *, done: bool = True) -> None:
    """Events once each; the source's, occurrences' and timeline's counts exact; once the job
    is done, the timeline reads its rollup again."""
    source.refresh_from_db()
    events = Event.objects.filter(source=source)
    assert events.count() == source.event_count == len(set(events.values_list("line", flat=True)))
    incident = source.incident
    total = Event.objects.filter(incident=incident).count()
    grouped = GroupOccurrence.objects.filter(incident=incident).aggregate(n=Sum("count"))["n"] or 0
    assert grouped == total
    rolled = EventRollup.objects.filter(incident=incident).aggregate(n=Sum("count"))["n"] or 0
    assert rolled == Event.objects.filter(incident=incident, ts__isnull=False).count()
    jobs = IngestJob.objects.filter(incident=incident)
    assert rollup_is_current(Source.objects.filter(incident=incident), jobs) == done


@pytest.mark.parametrize("persona", ["owner", "member"])
def test_a_writer_sees_the_header_form_on_the_sources_panel(client, personas, source, persona):
    client.force_login(getattr(personas, persona))
    page = client.get(f"{personas.alpha.url_prefix}incidents/{source.incident_id}/")
    body = page.content.decode()
    assert page.status_code == 200
    assert f'action="/{personas.alpha.schema_name}' in body or "/header/" in body
    assert 'data-testid="header-form"' in body
    assert 'data-testid="source-times"' in body


def test_a_viewer_sees_the_format_but_cannot_correct_it(client, personas, source):
    client.force_login(personas.viewer)
    page = client.get(f"{personas.alpha.url_prefix}incidents/{source.incident_id}/")
    assert page.status_code == 200
    assert 'data-testid="header-form"' not in page.content.decode()
    response = client.post(_url(personas, source), {"log_format": HEADER}, **HX)
    assert response.status_code == 403
    with tenant_context(personas.alpha):
        assert Source.objects.get(pk=source.pk).log_format == ""


def test_an_outsider_gets_404(client, personas, source):
    client.force_login(personas.outsider)
    response = client.post(_url(personas, source), {"log_format": HEADER}, **HX)
    assert response.status_code == 404


@pytest.mark.parametrize(
    ("header", "reason"),
    [
        ("[<Level>] <Content>", r"inside [ ]: write \[&lt;Level&gt;\]"),
        ("<Date> <Level>", "needs a &lt;Content&gt; field"),
        ("<Date> <Date> <Content>", "appears twice"),
        ("(<Level> <Content>", "not a valid header"),
        ("<Lev el> <Content>", "is not a field name"),
    ],
)
def test_a_bad_header_is_refused_with_its_reason(client, personas, source, header, reason):
    client.force_login(personas.member)
    response = client.post(_url(personas, source), {"log_format": header}, **HX)
    assert response.status_code == 200
    body = response.content.decode()
    assert 'data-testid="header-error"' in body
    assert reason in body
    assert "<html" not in body  # the form alone, swapped in place
    with tenant_context(personas.alpha):
        assert Source.objects.get(pk=source.pk).log_format == ""
        job = IngestJob.objects.get(stored_file_id=source.stored_file_id)
        assert job.status == IngestJob.Status.DONE  # nothing re-queued


def test_the_page_form_works_without_javascript(client, personas, source):
    client.force_login(personas.member)
    page = client.get(_url(personas, source))
    assert page.status_code == 200
    assert "<html" in page.content.decode()
    bad = client.post(_url(personas, source), {"log_format": "<Date> <Level>"})
    assert bad.status_code == 200
    assert "needs a &lt;Content&gt; field" in bad.content.decode()


def _work(personas, job_id: int) -> str:
    """What a django-q2 worker runs for a job (it leaves the connection in public)."""
    return run_tenant_task(personas.alpha.schema_name, "apps.ingestion.tasks.ingest", job_id)


def test_a_correction_re_parses_the_source_through_the_worker(client, personas, source):
    with tenant_context(personas.alpha):
        before = _messages(source)
        job = IngestJob.objects.get(stored_file_id=source.stored_file_id)
    client.force_login(personas.member)
    response = client.post(_url(personas, source), {"log_format": HEADER}, **HX)
    assert response.status_code == 200
    assert response["HX-Redirect"].endswith(f"/incidents/{source.incident_id}/")
    with tenant_context(personas.alpha):
        job.refresh_from_db()
        assert job.status == IngestJob.Status.QUEUED
        assert not Event.objects.filter(source=source).exists()  # old events gone first
        _assert_consistent(source, done=False)  # groups, timeline already without them
    # the panel shows it queued, with a progress bar, like an upload
    page = client.get(f"{personas.alpha.url_prefix}incidents/{source.incident_id}/progress/")
    assert 'data-testid="progress"' in page.content.decode()
    assert _work(personas, job.pk) == IngestJob.Status.DONE
    with tenant_context(personas.alpha):
        after = _messages(source)
        assert after != before
        assert after == [
            "com.shop.Pay - charge failed for order 17\n    at com.shop.Pay.charge(Pay.java:12)",
            "com.shop.Cart - cart saved for order 18\na line nobody wrote a header for",
            "com.shop.Pay - retrying order 17",
        ]
        source.refresh_from_db()
        assert (source.fmt, source.header, source.log_format) == ("loghub", HEADER, HEADER)
        assert source.line_count == 5
        assert source.unmatched == {"joined to the record before": 2}
        _assert_consistent(source)
        # the same correction again: the same events, nothing duplicated
        services.reparse_source(source=source, log_format=HEADER)
    _work(personas, job.pk)
    with tenant_context(personas.alpha):
        assert _messages(source) == after
        _assert_consistent(source)
    page = client.get(f"{personas.alpha.url_prefix}incidents/{source.incident_id}/")
    body = page.content.decode()
    assert "2 lines not matched by the header: 2 joined to the record before" in body
    assert "(corrected)" in body


def test_an_empty_header_goes_back_to_detection(client, personas, source):
    with tenant_context(personas.alpha):
        services.reparse_source(source=source, log_format=HEADER)
        job = IngestJob.objects.get(stored_file_id=source.stored_file_id)
    _work(personas, job.pk)
    client.force_login(personas.owner)
    response = client.post(_url(personas, source), {"log_format": ""}, **HX)
    assert response.status_code == 200
    _work(personas, job.pk)
    with tenant_context(personas.alpha):
        source.refresh_from_db()
        assert source.log_format == "" and source.fmt != "loghub"
        assert source.unmatched == {}
        _assert_consistent(source)


def test_a_source_being_ingested_is_not_re_parsed(client, personas, source):
    with tenant_context(personas.alpha):
        IngestJob.objects.filter(stored_file_id=source.stored_file_id).update(
            status=IngestJob.Status.RUNNING
        )
    client.force_login(personas.member)
    response = client.post(_url(personas, source), {"log_format": HEADER}, **HX)
    assert response.status_code == 200
    assert "is being ingested" in response.content.decode()
