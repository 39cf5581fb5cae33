"""An upload that stored nothing says so at the top of the incident, not in a collapsed section."""

from __future__ import annotations

import gzip
import os
import re

from django_tenants.utils import tenant_context

from apps.incidents.models import Project
from apps.ingestion import services


def _incident_with(personas, settings, *uploads: services.Upload):
    settings.INGEST_LIMITS = {**settings.INGEST_LIMITS, "max_decompressed_bytes": 1024 * 1024}
    with tenant_context(personas.alpha):
        incident = services.create_incident(
            project=Project.objects.get(slug="alpha-marker"),
            title="banner",
            uploads=list(uploads),
            run_inline=True,
        )
        for job in incident.jobs.order_by("pk"):
            services.run_ingest(job.pk)
    return incident


def _page(client, personas, incident) -> str:
    client.force_login(personas.member)
    response = client.get(f"{personas.alpha.url_prefix}incidents/{incident.pk}/")
    assert response.status_code == 200
    return response.content.decode()


def _banner(body: str) -> str:
    found = re.search(r'<div[^>]*data-testid="upload-problems".*?</div>', body, re.S)
    assert found, "no banner"
    # at the top: before the sources section (collapsed or not) and the workspace
    assert found.start() < body.index('data-testid="ingest-status"')
    assert found.start() < body.index('data-testid="workspace"')
    return re.sub(r"\s+", " ", found.group(0))


def test_binary_and_empty_uploads_say_so_at_the_top(client, personas, settings):
    incident = _incident_with(
        personas,
        settings,
        services.Upload(name="firmware.bin", chunks=[b"\x7fELF\x02\x01\x01" + os.urandom(3000)]),
        services.Upload(name="nothing.log.gz", chunks=[gzip.compress(b"")]),
        services.upload_from_text("2024-01-15T14:02:11Z ERROR api: fine\n", name="ok.log"),
    )
    banner = _banner(_page(client, personas, incident))
    assert "firmware.bin looks binary: 0 lines stored" in banner
    assert "nothing.log is empty: 0 lines stored" in banner
    assert "ok.log" not in banner  # only the uploads that stored nothing


def test_a_refused_upload_says_why_at_the_top(client, personas, settings):
    lines = b"".join(b"2024-01-15T14:02:11Z INFO api: tick %d\n" % i for i in range(100_000))
    incident = _incident_with(
        personas, settings, services.Upload(name="bomb.log.gz", chunks=[gzip.compress(lines)])
    )
    banner = _banner(_page(client, personas, incident))
    assert "bomb.log was not ingested" in banner
    assert "expands to more than 1.0 MiB" in banner


def test_no_banner_when_every_upload_stored_lines(client, personas, settings):
    incident = _incident_with(
        personas, settings, services.upload_from_text("2024-01-15T14:02:11Z ERROR api: x\n")
    )
    assert 'data-testid="upload-problems"' not in _page(client, personas, incident)
