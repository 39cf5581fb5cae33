"""Hostile and ordinary uploads through the web form: never a 500, always a visible outcome."""

from __future__ import annotations

import gzip
import io
import os
import zipfile

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django_tenants.utils import tenant_context

from apps.incidents.models import Incident
from apps.ingestion import services
from apps.ingestion.models import IngestJob


def _zip(members: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return buf.getvalue()


HOSTILE = {
    "binary.log": os.urandom(4096),
    "elf.bin": b"\x7fELF\x02\x01\x01" + os.urandom(2000),
    "invalid-utf8.log": b"2024-01-01T00:00:00Z ERROR bad \xff\xfe\xc3 bytes\n" * 20,
    "utf16.log": "2024-01-01T00:00:00Z ERROR utf16 line\n".encode("utf-16"),
    "nul.log": b"2024-01-01T00:00:00Z INFO a\x00b\x00c\n" * 10,
    "cr-only.log": b"2024-01-01T00:00:00Z INFO one\r2024-01-01T00:00:01Z INFO two\r",
    "ansi.log": b"\x1b[31m2024-01-01T00:00:00Z ERROR red\x1b[0m\n",
    "empty.log": b"",
    "long-line.log": b"2024-01-01T00:00:00Z INFO " + b"x" * (600 * 1024) + b"\n",
    "truncated.log.gz": gzip.compress(b"2024-01-01T00:00:00Z INFO ok\n" * 1000)[:-20],
    "traversal.zip": _zip({"../../etc/passwd": b"root:x:0:0\n", "/abs/app.log": b"x\n"}),
    "not-really.zip": b"PK\x03\x04garbage",
    "<script>alert(1)</script>.log": b"<img src=x onerror=alert(1)>\n",
}


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_hostile_upload_never_crashes(client, personas, django_capture_on_commit_callbacks, name):
    client.force_login(personas.member)
    url = personas.alpha.url_prefix + "projects/alpha-marker/incidents/new/"
    upload = SimpleUploadedFile(name, HOSTILE[name])
    with django_capture_on_commit_callbacks(execute=False):
        response = client.post(url, {"title": f"hostile {name}", "files": [upload]})
    if not HOSTILE[name]:  # refused up front, with the reason in the form
        assert response.status_code == 200
        assert "The submitted file is empty" in response.content.decode()
        return
    assert response.status_code == 302, response.content.decode()[:500]
    with tenant_context(personas.alpha):
        incident = Incident.objects.get(title=f"hostile {name}")
        job = incident.jobs.get()
        status = services.run_ingest(job.pk)  # what the worker runs
        job.refresh_from_db()
        assert status in (IngestJob.Status.DONE, IngestJob.Status.FAILED)
        if status == IngestJob.Status.FAILED:
            assert job.error  # a visible reason
        for source in incident.sources.all():
            if source.status == "skipped":
                assert source.warnings
    page = client.get(f"{personas.alpha.url_prefix}incidents/{incident.pk}/")
    assert page.status_code == 200
    body = page.content.decode()
    assert "<script>alert(1)</script>" not in body
    assert "<img src=x onerror" not in body
    if job.error:
        assert job.error.split(":")[0] in body or "failed" in body


def test_upload_is_queued_on_commit(client, personas, django_capture_on_commit_callbacks):
    from django_q.models import OrmQ

    client.force_login(personas.member)
    url = personas.alpha.url_prefix + "projects/alpha-marker/incidents/new/"
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        response = client.post(url, {"title": "queued", "pasted": "2024-01-01T00:00:00Z ERROR x\n"})
    assert response.status_code == 302
    assert len(callbacks) == 1
    assert OrmQ.objects.count() >= 1  # the job waits for a worker, carrying its schema


def test_nothing_to_upload_is_a_form_error(client, personas):
    client.force_login(personas.member)
    url = personas.alpha.url_prefix + "projects/alpha-marker/incidents/new/"
    response = client.post(url, {"title": "empty"})
    assert response.status_code == 200
    assert "Choose at least one file" in response.content.decode()


def test_viewer_cannot_upload(client, personas):
    client.force_login(personas.viewer)
    url = personas.alpha.url_prefix + "projects/alpha-marker/incidents/new/"
    assert client.post(url, {"title": "v", "pasted": "x"}).status_code == 403


def test_too_many_files_is_refused(client, personas, settings):
    settings.INGEST_LIMITS = {**settings.INGEST_LIMITS, "max_files_per_upload": 2}
    settings.DATA_UPLOAD_MAX_NUMBER_FILES = 100
    client.force_login(personas.member)
    url = personas.alpha.url_prefix + "projects/alpha-marker/incidents/new/"
    files = [SimpleUploadedFile(f"f{i}.log", b"x\n") for i in range(3)]
    response = client.post(url, {"title": "many", "files": files})
    assert response.status_code == 200
    assert "the limit is 2" in response.content.decode()


def test_oversized_request_gets_413_before_parsing(client, personas, settings):
    settings.MAX_REQUEST_BYTES = 1000
    client.force_login(personas.member)
    url = personas.alpha.url_prefix + "projects/alpha-marker/incidents/new/"
    response = client.post(url, {"title": "big", "pasted": "x" * 5000})
    assert response.status_code == 413
    assert "the limit is" in response.content.decode()


def test_add_files_and_delete_source(client, personas):
    client.force_login(personas.member)
    with tenant_context(personas.alpha):
        incident = Incident.objects.get(title__startswith="incident ALPHA")
    url = f"{personas.alpha.url_prefix}incidents/{incident.pk}/files/"
    response = client.post(url, {"pasted": "2024-01-01T00:00:00Z ERROR later\n"})
    assert response.status_code == 302
    with tenant_context(personas.alpha):
        job = incident.jobs.order_by("-pk").first()
        services.run_ingest(job.pk)
        source = job.stored_file.sources.get()
    response = client.post(f"{personas.alpha.url_prefix}sources/{source.pk}/delete/")
    assert response.status_code == 302
    with tenant_context(personas.alpha):
        assert not incident.sources.filter(pk=source.pk).exists()


@pytest.mark.parametrize("name", [".", ".."])
def test_a_file_without_a_usable_name_is_named_in_the_error(client, personas, name):
    """Django drops file parts whose name sanitises to nothing; the user is told why."""
    client.force_login(personas.member)
    url = personas.alpha.url_prefix + "projects/alpha-marker/incidents/new/"
    boundary = "aiops-test-boundary"
    body = (
        (
            f'--{boundary}\r\nContent-Disposition: form-data; name="title"\r\n\r\nnameless\r\n'
            f'--{boundary}\r\nContent-Disposition: form-data; name="files"; '
            f'filename="{name}"\r\nContent-Type: text/plain\r\n\r\n'
        ).encode()
        + b"2024-01-01T00:00:00Z ERROR api: boom\n" * 500
        + f"\r\n--{boundary}--\r\n".encode()
    )
    # built by hand: Django's test client refuses such names before sending
    response = client.post(url, body, content_type=f"multipart/form-data; boundary={boundary}")
    assert response.status_code == 200
    body = response.content.decode()
    assert "without a usable name" in body
    assert "Choose at least one file" not in body


def test_upload_stores_the_year_and_timezone(client, personas):
    from apps.ingestion.models import StoredFile

    client.force_login(personas.member)
    url = personas.alpha.url_prefix + "projects/alpha-marker/incidents/new/"
    response = client.post(
        url,
        {
            "title": "dated",
            "pasted": "Jan 15 14:02:11 web-1 sshd[812]: Accepted publickey\n",
            "year": "2021",
            "timezone": "Europe/Paris",
        },
    )
    assert response.status_code == 302
    stored = StoredFile.objects.get(incident__title="dated")
    assert (stored.year, stored.timezone) == (2021, "Europe/Paris")


@pytest.mark.parametrize(
    ("field", "value", "error"),
    [("timezone", "Mars/Olympus", "Not a time zone name"), ("year", "1066", "greater than")],
)
def test_upload_refuses_a_bad_year_or_timezone(client, personas, field, value, error):
    client.force_login(personas.member)
    url = personas.alpha.url_prefix + "projects/alpha-marker/incidents/new/"
    response = client.post(url, {"title": "bad", "pasted": "x\n", field: value})
    assert response.status_code == 200
    assert error in response.content.decode()
