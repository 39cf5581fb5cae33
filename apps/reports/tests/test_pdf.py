"""The PDF of a samples/ incident, the export job, and hostile log lines end to end."""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import time
from pathlib import Path

import pytest

from apps.core.render.markdown import cite
from apps.core.tests.render.test_pdf_sandbox import Listener
from apps.reports import services
from apps.reports.models import PdfExport, SectionKey

from .conftest import ingest_text

ARTIFACTS = Path(__file__).resolve().parents[3] / ".artifacts" / "reports"
needs_poppler = pytest.mark.skipif(
    not shutil.which("pdftotext"), reason="poppler-utils missing (apt-get install poppler-utils)"
)


def pdf_text(pdf: bytes, name: str) -> str:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.pdf"
    path.write_bytes(pdf)
    out = subprocess.run(["pdftotext", "-layout", str(path), "-"], capture_output=True, check=True)
    return out.stdout.decode()


def export_now(report, user=None) -> PdfExport:
    export = PdfExport.objects.create(report=report, requested_by=user)
    assert services.render_export(export.pk) == PdfExport.Status.DONE
    return PdfExport.objects.get(pk=export.pk)


@needs_poppler
def test_sample_incident_pdf_shows_sections_cited_lines_and_digests(report, incident):
    from apps.core.render.document import to_print_html

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    (ARTIFACTS / "sample-postmortem.html").write_text(
        to_print_html(services.build_document(report))
    )
    export = export_now(report)
    text = pdf_text(bytes(export.pdf), "sample-postmortem")
    flat = " ".join(text.split())
    for key, label in SectionKey.choices:
        if key != "title":
            assert label in flat, label
    assert "Contents" in flat and "Page 2 of" in flat
    assert incident.get_severity_display() in flat and incident.get_status_display() in flat
    doc = services.build_document(report)
    assert doc.evidence and not any(e.missing for e in doc.evidence)
    for item in doc.evidence:
        assert item.file_sha256 in flat.replace(" ", "") or item.file_sha256 in text
        first_row = item.rows[0][1]
        assert " ".join(first_row.split())[:40].replace(" ", "") in flat.replace(" ", "")
    for item in doc.evidence:
        if item.source_sha256:
            assert item.source_sha256 in text.replace("\n", "").replace(" ", "")
    assert export.pages >= 4 and export.refused_urls == 0
    # pages as PNG to look at (layout is part of the work)
    subprocess.run(
        [
            "pdftoppm",
            "-png",
            "-r",
            "60",
            str(ARTIFACTS / "sample-postmortem.pdf"),
            str(ARTIFACTS / "sample-postmortem"),
        ],
        check=True,
    )
    assert list(ARTIFACTS.glob("sample-postmortem-*.png"))


def test_markdown_export_has_every_section_and_the_evidence(report):
    body = services.markdown_export(report)
    for key, label in SectionKey.choices:
        if key != "title":
            assert f"## {label}" in body
    doc = services.build_document(report)
    for item in doc.evidence:
        assert item.file_sha256 in body
        assert f"{item.line:>6}  " in body


def test_export_job_retried_stores_one_pdf(report, personas):
    export = PdfExport.objects.create(report=report, requested_by=personas.member)
    assert services.render_export(export.pk) == PdfExport.Status.DONE
    first = PdfExport.objects.get(pk=export.pk)
    assert services.render_export(export.pk) == "skipped"  # a re-delivery of the same job
    again = PdfExport.objects.get(pk=export.pk)
    assert again.sha256 == first.sha256 and again.attempts == 1
    assert PdfExport.objects.filter(report=report).count() == 1


def test_large_reports_render_in_the_background(
    report, personas, settings, django_capture_on_commit_callbacks, monkeypatch
):
    queued = []
    monkeypatch.setattr(
        "apps.reports.services.enqueue_tenant_task",
        lambda func, *args, schema_name, **kw: queued.append((func, args, schema_name)),
    )
    settings.REPORTS_PDF_INLINE_MAX_LINES = 0
    with django_capture_on_commit_callbacks(execute=True):
        export = services.request_pdf(report=report, user=personas.member)
    assert queued == [("apps.reports.tasks.render_pdf", (export.pk,), personas.alpha.schema_name)]
    export.refresh_from_db()
    assert export.status == PdfExport.Status.QUEUED
    from apps.reports.tasks import render_pdf

    assert render_pdf(export.pk) == PdfExport.Status.DONE


def test_render_failure_is_visible_not_looping(report, settings):
    settings.REPORTS_PDF_TIMEOUT = 0.01
    export = PdfExport.objects.create(report=report)
    assert services.render_export(export.pk) == PdfExport.Status.FAILED
    export.refresh_from_db()
    assert export.status == PdfExport.Status.FAILED and "longer than" in export.error


HOSTILE_LINES = [
    '2024-01-15T14:02:11Z ERROR api: upstream said <img src="file:///etc/passwd">',
    '2024-01-15T14:02:12Z ERROR api: bad header <link rel=attachment href="file:///etc/passwd">',
    '2024-01-15T14:02:13Z ERROR api: callback http://127.0.0.1:{port}/hook failed <img src="http://127.0.0.1:{port}/x.png">',
    '2024-01-15T14:02:14Z ERROR api: read <img src="file:///dev/urandom"> ![x](file:///dev/urandom)',
]


@needs_poppler
def test_hostile_log_lines_cause_zero_fetches_and_no_embedded_files(project, personas):
    listener = Listener()
    port = listener.port
    try:
        text = "\n".join(HOSTILE_LINES).format(port=listener.port) + "\n"
        incident = ingest_text(project, text, title=f"hostile <b>{listener.port}</b>")
        report = services.create_draft(incident=incident, user=personas.member)
        source = incident.sources.get()
        root = report.sections.get(key="root_cause")
        body = "Cited: " + " ".join(cite(f"line {n}", source.pk, n) for n in range(1, 5))
        body += f'\n\n<img src="http://127.0.0.1:{listener.port}/md.png"> ![i](file:///etc/passwd)'
        assert services.save_section(
            report=report, key="root_cause", body=body, base_version=root.version
        ).ok
        started = time.monotonic()
        export = export_now(report)
        elapsed = time.monotonic() - started
        time.sleep(0.3)
        assert listener.connections == 0
    finally:
        listener.close()
    pdf = bytes(export.pdf)
    assert b"/EmbeddedFile" not in pdf and b"/FileAttachment" not in pdf
    assert b"root:x:0:0" not in pdf
    assert export.refused_urls == 0  # nothing even reached the fetcher: all of it was text
    assert elapsed < 60
    text = pdf_text(pdf, "hostile-postmortem")
    flat = "".join(text.split())
    assert '<imgsrc="file:///etc/passwd">' in flat
    assert "<linkrel=attachment" in flat
    assert "file:///dev/urandom" in flat
    assert f"hostile<b>{port}</b>" in flat  # the incident title, escaped, on the cover
    md = services.markdown_export(report)
    assert '<img src="file:///etc/passwd">' in md  # inside a code fence
    assert "\\<img src" in md  # escaped where it is Markdown text


@pytest.mark.django_db(transaction=True)
def test_export_rides_out_a_database_restart_mid_render(incident, personas, monkeypatch):
    """The worker's connection is terminated (as by `pg_ctl restart -m fast`) while the PDF
    renders: the export still ends done, with one whole PDF, on its first attempt."""
    import threading

    from django.db import connection

    from apps.tenants.tests.test_outage import _admin, terminate_backend

    monkeypatch.setitem(connection.settings_dict, "CONN_HEALTH_CHECKS", False)
    existed = hasattr(incident, "report")
    report = services.create_draft(incident=incident, user=personas.member)
    try:
        export = PdfExport.objects.create(report=report)
        pid = connection.connection.info.backend_pid
        table = f'"{connection.schema_name}".reports_pdfexport'

        def kill_once_rendering() -> None:
            with _admin() as admin:
                query = f"SELECT status FROM {table} WHERE id = %s"
                while admin.execute(query, [export.pk]).fetchone()[0] != "running":
                    time.sleep(0.02)
            time.sleep(0.3)
            terminate_backend(pid)

        killer = threading.Thread(target=kill_once_rendering)
        killer.start()
        status = services.render_export(export.pk)
        killer.join()
        assert connection.connection.info.backend_pid != pid  # it did reconnect
        export.refresh_from_db()
        assert status == export.status == PdfExport.Status.DONE, export.error
        pdf = bytes(export.pdf)
        assert export.attempts == 1 and pdf.startswith(b"%PDF-") and pdf.rstrip().endswith(b"%%EOF")
        assert export.size == len(pdf) and export.sha256 == hashlib.sha256(pdf).hexdigest()
    finally:  # transactional: leave the incident as the other tests expect it
        if not existed:
            report.delete()
        else:
            PdfExport.objects.filter(report=report).delete()
