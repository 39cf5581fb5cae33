"""A job that is refused part-way (a bomb, the tenant's event quota) ends cleanly: its sources
say `failed` with the reason, nothing it half-wrote stays, and the incident's rollup is used again.
"""

from __future__ import annotations

import gzip

import pytest
from django.db.models import Sum

from apps.core.ingest import compute
from apps.incidents.models import Incident
from apps.ingestion import quotas, services
from apps.ingestion.models import Event, EventRollup, IngestJob, Source
from apps.workspace.selectors.timeline import rollup_is_current

from .conftest import SAMPLES

MiB = 1024 * 1024


def _lines(n: int, start: int = 0) -> bytes:
    return b"".join(
        b"2024-01-15T14:%02d:%02dZ INFO api: tick %d\n" % (i // 60 % 60, i % 60, i)
        for i in range(start, start + n)
    )


def _ingest(project, uploads, title):
    incident = services.create_incident(
        project=project, title=title, uploads=uploads, run_inline=True
    )
    statuses = [services.run_ingest(job.pk) for job in incident.jobs.order_by("pk")]
    return incident, statuses


def _assert_clean_failure(incident, job, reason_part):
    job.refresh_from_db()
    assert job.status == IngestJob.Status.FAILED
    assert reason_part in job.error
    sources = list(Source.objects.filter(stored_file=job.stored_file))
    assert sources, "the refused source is listed, not hidden"
    for source in sources:
        assert source.status == Source.Status.FAILED
        assert reason_part in " ".join(source.warnings)
        assert not Event.objects.filter(source_id=source.pk).exists()  # nothing half-written
    everything = Source.objects.filter(incident=incident)
    jobs = IngestJob.objects.filter(incident=incident)
    assert rollup_is_current(everything, jobs)  # the timeline reads its rollup again
    rolled = EventRollup.objects.filter(incident=incident).aggregate(n=Sum("count"))["n"] or 0
    assert rolled == Event.objects.filter(incident=incident, ts__isnull=False).count()


def test_a_bomb_rejected_mid_stream_fails_its_source_and_keeps_the_others(alpha_project, settings):
    settings.INGEST_LIMITS = {**settings.INGEST_LIMITS, "max_decompressed_bytes": MiB}
    good = services.upload_from_path(SAMPLES / "worker-oom-crashloop" / "gunicorn.log")
    bomb_bytes = gzip.compress(_lines(120_000))  # ~4.5 MiB of lines: refused after ~1 MiB
    bomb = services.Upload(name="bomb.log.gz", chunks=[bomb_bytes])
    incident, statuses = _ingest(alpha_project, [good, bomb], "bomb mid-stream")
    assert statuses == [IngestJob.Status.DONE, IngestJob.Status.FAILED]
    job = incident.jobs.order_by("pk").last()
    assert job.events_done > compute.BATCH_SIZE  # rows were written before the refusal
    _assert_clean_failure(incident, job, "expands to more than 1.0 MiB")
    kept = Source.objects.get(stored_file=incident.jobs.order_by("pk").first().stored_file)
    assert kept.status == Source.Status.DONE
    assert Event.objects.filter(source=kept).count() == kept.event_count > 0


def test_the_event_quota_stops_a_running_job_cleanly(alpha_project, settings):
    before = quotas.stored_events()
    settings.INGEST_TENANT_MAX_EVENTS = before + 12_000
    upload = services.Upload(name="big.log", chunks=[_lines(30_000)])
    incident, statuses = _ingest(alpha_project, [upload], "over the event quota")
    assert statuses == [IngestJob.Status.FAILED]
    _assert_clean_failure(incident, incident.jobs.get(), "event quota")
    assert quotas.stored_events() == before


def test_uploads_are_refused_once_the_event_quota_is_used_up(alpha_project, settings):
    settings.INGEST_TENANT_MAX_EVENTS = quotas.stored_events()
    incident = Incident.objects.filter(project=alpha_project).first()
    with pytest.raises(services.UploadRejected, match="event quota") as refused:
        services.add_files(incident=incident, uploads=[services.upload_from_text("x\n")])
    assert "Delete old incidents or sources" in str(refused.value)
    settings.INGEST_TENANT_MAX_EVENTS = quotas.stored_events() + 1
    services.add_files(incident=incident, uploads=[services.upload_from_text("x\n")])


def test_stored_events_counts_done_sources_and_running_jobs(alpha_project):
    before = quotas.stored_events()
    incident, _ = _ingest(
        alpha_project, [services.Upload(name="a.log", chunks=[_lines(700)])], "counted"
    )
    assert quotas.stored_events() == before + 700
    IngestJob.objects.filter(incident=incident).update(
        status=IngestJob.Status.RUNNING, events_done=300
    )
    Source.objects.filter(incident=incident).update(status=Source.Status.INGESTING)
    assert quotas.stored_events() == before + 300
