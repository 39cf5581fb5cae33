"""The always-on slice of `make prove` (prove/): hostile files, XSS escaping, SIGKILLs.

The full runs (≥ 500 files, ≥ 200 payloads in Chromium, ≥ 20 kills and PostgreSQL restarts)
are `make prove`; this keeps a sample of each attack inside `make test` (SIGKILL mid-ingest is
already always-on in test_durability.py).
"""

from __future__ import annotations

import html
import time

import pytest
from django_tenants.utils import tenant_context

from prove.checks import push
from prove.corpus import TS, hostile_files, sample, xss_payloads

HOSTILE_SAMPLE = 30  # ~0.7 s each: the rules engine compiles its re2 set per job
XSS_SAMPLE = 30


@pytest.fixture
def member_client(client, personas, django_capture_on_commit_callbacks):
    client.raise_request_exception = False  # a view exception is the 500 a user would see
    client.force_login(personas.member)
    with django_capture_on_commit_callbacks(execute=False):  # no broker round-trips
        yield client


@pytest.mark.django_db
def test_hostile_sample_never_crashes(member_client, personas):
    # a text bomb is parsed for its first 32 MiB (the ratio grace) before it is refused: ~25 s,
    # so the always-on slice keeps the zero-byte bombs only
    small = [
        f
        for f in hostile_files(full=False)
        if len(f.data) < 512 * 1024 and f.name not in ("bomb-text-40m.log.gz", "zip-bomb.zip")
    ]
    files = sample(small, HOSTILE_SAMPLE)
    assert len(files) == HOSTILE_SAMPLE
    results = []
    for i, item in enumerate(files):
        started = time.monotonic()
        outcome, detail = push(member_client, personas.alpha, "alpha-marker", item, f"h{i}")
        results.append((outcome, item.kind, item.name[:40], detail, time.monotonic() - started))
    crashes = [r for r in results if r[0] == "crash"]
    assert not crashes, crashes


@pytest.mark.django_db
def test_xss_sample_is_escaped_server_side(member_client, personas):
    from apps.incidents.models import Project
    from apps.ingestion import services

    payloads = xss_payloads()[:: max(1, len(xss_payloads()) // XSS_SAMPLE)][:XSS_SAMPLE]
    with tenant_context(personas.alpha):
        project = Project.objects.create(slug="xss-subset", name=payloads[0][:80])
        uploads = [
            services.upload_from_text(f"{TS} ERROR svc: failed {p}\n    at {p}\n", name=p + ".log")
            for p in payloads
        ]
        incident = services.create_incident(
            project=project, title=payloads[1], uploads=uploads, run_inline=True
        )
        for job in incident.jobs.all():
            services.run_ingest(job.pk)
        source = incident.sources.first()
    prefix = personas.alpha.url_prefix
    pages = [
        f"{prefix}",
        f"{prefix}projects/xss-subset/",
        f"{prefix}incidents/{incident.pk}/",
        f"{prefix}incidents/{incident.pk}/events/",
        f"{prefix}incidents/{incident.pk}/evidence/{source.pk}/1/",
        f"{prefix}projects/xss-subset/groups/",
    ]
    for url in pages:
        for headers in ({}, {"HTTP_HX_REQUEST": "true"}):
            response = member_client.get(url, **headers)
            assert response.status_code == 200, url
            body = response.content.decode()
            for payload in payloads:
                if "<" in payload:
                    assert payload not in body, (url, payload)  # never raw markup
            assert "evil.example" not in body or "&lt;" in body
    body = member_client.get(f"{prefix}incidents/{incident.pk}/").content.decode()
    assert html.escape(payloads[1], quote=False).split("&lt;")[0] in body  # shown, as text
