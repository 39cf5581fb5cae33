"""Per-tenant quotas at upload time: refused with a clear message, nothing half-stored."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django_tenants.utils import tenant_context

from apps.incidents.models import Incident
from apps.ingestion import quotas, services
from apps.ingestion.models import IngestJob, StoredFile
from apps.tenants.models import IngestTicket

LINE = "2024-01-01T00:00:00Z ERROR api: quota test\n"


def media_files() -> set[Path]:
    root = Path(settings.MEDIA_ROOT) / "uploads"
    return {p for p in root.rglob("*") if p.is_file()} if root.exists() else set()


@pytest.fixture(autouse=True)
def private_media(settings, tmp_path):
    """Other test runs share the test MEDIA_ROOT: count files in a directory of our own."""
    settings.MEDIA_ROOT = tmp_path / "media"


@pytest.fixture
def incident(personas):
    with tenant_context(personas.alpha):
        yield Incident.objects.get(title__startswith="incident ALPHA")


def test_queue_quota_refuses_the_upload_that_would_exceed_it(personas, incident, settings):
    with tenant_context(personas.alpha):
        settings.INGEST_TENANT_MAX_QUEUED = quotas.pending_jobs() + 2
        services.add_files(incident=incident, uploads=[services.upload_from_text(LINE)] * 2)
        files, rows = media_files(), StoredFile.objects.count()
        with pytest.raises(services.UploadRejected, match="may queue at most") as refused:
            services.add_files(incident=incident, uploads=[services.upload_from_text(LINE)])
        assert "Try again when some have finished" in str(refused.value)
        assert StoredFile.objects.count() == rows
        assert media_files() == files  # nothing stored for the refused upload
        # run by the caller (the `ingest` command): nothing is queued, the queue quota is moot
        services.add_files(
            incident=incident, uploads=[services.upload_from_text(LINE)], run_inline=True
        )
    # two tickets for the two queued jobs, none for the refused or the inline one
    assert IngestTicket.objects.filter(tenant=personas.alpha).count() == 2


def test_finished_jobs_free_the_queue(personas, incident, settings):
    with tenant_context(personas.alpha):
        settings.INGEST_TENANT_MAX_QUEUED = quotas.pending_jobs() + 1
        (job,) = services.add_files(incident=incident, uploads=[services.upload_from_text(LINE)])
        with pytest.raises(services.UploadRejected):
            services.add_files(incident=incident, uploads=[services.upload_from_text(LINE)])
        assert services.run_ingest(job.pk) == IngestJob.Status.DONE
        services.add_files(incident=incident, uploads=[services.upload_from_text(LINE)])


def test_storage_quota_refuses_mid_upload_and_removes_earlier_files(personas, incident, settings):
    with tenant_context(personas.alpha):
        settings.INGEST_TENANT_STORAGE_BYTES = quotas.stored_bytes() + 1000
        files, rows = media_files(), StoredFile.objects.count()
        first, second = LINE * 10, LINE * 10  # 440 bytes each: the third file crosses
        with pytest.raises(services.UploadRejected, match="quota") as refused:
            services.add_files(
                incident=incident,
                uploads=[
                    services.upload_from_text(first, name="one.log"),
                    services.upload_from_text(second, name="two.log"),
                    services.upload_from_text(second, name="three.log"),
                ],
            )
        assert str(refused.value).startswith("three.log: ")
        assert "Delete old sources or incidents first" in str(refused.value)
        assert media_files() == files  # one.log and two.log were removed again
        assert StoredFile.objects.count() == rows
        # what fits still goes in, run inline or queued
        services.add_files(incident=incident, uploads=[services.upload_from_text(first)])
        assert StoredFile.objects.count() == rows + 1


def test_storage_quota_applies_to_inline_runs_too(personas, incident, settings):
    with tenant_context(personas.alpha):
        settings.INGEST_TENANT_STORAGE_BYTES = quotas.stored_bytes() + 10
        with pytest.raises(services.UploadRejected, match="quota"):
            services.add_files(
                incident=incident, uploads=[services.upload_from_text(LINE)], run_inline=True
            )


def test_quota_refusal_is_shown_in_the_upload_form(client, personas, incident, settings):
    with tenant_context(personas.alpha):
        settings.INGEST_TENANT_STORAGE_BYTES = quotas.stored_bytes() + 100
        rows = StoredFile.objects.count()
    connection.set_schema_to_public()
    client.force_login(personas.member)
    url = f"{personas.alpha.url_prefix}incidents/{incident.pk}/files/"
    upload = SimpleUploadedFile("big.log", LINE.encode() * 10)
    response = client.post(url, {"files": [upload]})
    assert response.status_code == 200
    body = response.content.decode()
    assert "big.log: this upload would take your team&#x27;s stored logs past its" in body
    with tenant_context(personas.alpha):
        assert StoredFile.objects.count() == rows


@pytest.mark.django_db(transaction=True)
def test_concurrent_uploads_cannot_both_slip_under_the_queue_quota(personas, settings):
    """The first upload's job is not committed when the second checks up front; the final
    check under the tenant's advisory lock waits for it and refuses the second."""
    import threading

    from django.db import transaction

    with tenant_context(personas.alpha):
        incident = Incident.objects.get(title__startswith="incident ALPHA")
        settings.INGEST_TENANT_MAX_QUEUED = quotas.pending_jobs() + 1
    stored, release = threading.Event(), threading.Event()
    errors: list[BaseException] = []

    def first() -> None:
        try:
            with tenant_context(personas.alpha), transaction.atomic():
                services.add_files(incident=incident, uploads=[services.upload_from_text(LINE)])
                stored.set()  # holds the tenant's lock until this transaction commits
                release.wait(10)
        except BaseException as exc:
            errors.append(exc)
        finally:
            stored.set()
            connection.close()

    thread = threading.Thread(target=first)
    thread.start()
    assert stored.wait(10)
    threading.Timer(1.0, release.set).start()
    with (
        tenant_context(personas.alpha),
        pytest.raises(services.UploadRejected, match="may queue at most"),
    ):
        services.add_files(incident=incident, uploads=[services.upload_from_text(LINE)])
    thread.join(10)
    assert not errors
    with tenant_context(personas.alpha):
        assert quotas.pending_jobs() == settings.INGEST_TENANT_MAX_QUEUED
