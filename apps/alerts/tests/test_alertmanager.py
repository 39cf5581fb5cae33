"""The real Prometheus Alertmanager (Debian's prometheus-alertmanager) routes an alert to our
receiver on a live server through two webhooks, basic auth and bearer, each carrying an ingest
token (so every alert arrives twice and must open one incident); a real worker drains the
stream, ingests the incident's range of it and runs the analysis; the resolve follows.

Skipped only when the binary cannot be found (`make test` installs it with apt).
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx2
import pytest
from django_tenants.utils import tenant_context

from apps.alerts.models import InboundAlert
from apps.analysis.models import AnalysisRun
from apps.incidents.models import Incident
from apps.ingestion.models import Event
from apps.streams.models import StreamEvent, StreamIncident
from apps.streams.tests.conftest import make_token
from apps.tenants.tests.processes import running, running_qcluster, wait_for

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

PROJECT = "alerts-alertmanager"  # its own project: a transactional test's rows survive it


def alertmanager_binary() -> str | None:
    found = os.environ.get("ALERTMANAGER_PATH") or shutil.which("prometheus-alertmanager")
    for candidate in (found, "/usr/bin/prometheus-alertmanager", shutil.which("alertmanager")):
        if candidate and Path(candidate).is_file():
            return candidate
    return None


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def ready(url: str) -> bool:
    try:
        return httpx2.get(url, timeout=1).status_code == 200
    except httpx2.TransportError:
        return False


@pytest.fixture
def worker(tmp_path):
    """A real django-q2 cluster on the test database, answering a first task."""
    with running_qcluster(tmp_path / "qcluster.log") as proc:
        yield proc


@pytest.fixture
def alertmanager_for(tmp_path):
    binary = alertmanager_binary()
    if binary is None:
        pytest.skip("prometheus-alertmanager not found (apt-get install prometheus-alertmanager)")

    def start(url: str, token: str):
        port = free_port()
        config = {
            "route": {
                "receiver": "aiops",
                "group_by": ["alertname", "service"],
                "group_wait": "1s",
                "group_interval": "1s",
                "repeat_interval": "1h",
            },
            "receivers": [
                {
                    "name": "aiops",
                    "webhook_configs": [  # two: both auth styles, and every alert sent twice
                        {
                            "url": url,
                            "send_resolved": True,
                            "http_config": {
                                "basic_auth": {"username": "alertmanager", "password": token}
                            },
                        },
                        {
                            "url": url,
                            "send_resolved": True,
                            "http_config": {
                                "authorization": {"type": "Bearer", "credentials": token}
                            },
                        },
                    ],
                }
            ],
        }
        path = tmp_path / "alertmanager.yml"
        path.write_text(json.dumps(config))  # YAML is a superset of JSON
        api = f"http://127.0.0.1:{port}"
        return api, running(
            [
                binary,
                f"--config.file={path}",
                f"--storage.path={tmp_path / 'data'}",
                f"--web.listen-address=127.0.0.1:{port}",
                "--cluster.listen-address=",  # no gossip: one instance, no port 9094
                "--log.level=debug",
            ],
            env={"PATH": os.environ.get("PATH", "/usr/bin:/bin")},
            cwd=tmp_path,
            log=tmp_path / "alertmanager.log",
            ready=lambda: ready(f"{api}/-/ready"),
            start_timeout=30,
        )

    return start


def test_an_alert_from_alertmanager_opens_an_incident_with_the_stream_and_analysis(
    live_server, worker, alertmanager_for
):
    token = make_token("alpha", PROJECT, "alertmanager")
    service = f"checkout-{uuid.uuid4().hex[:6]}"
    now = datetime.now(UTC)
    lines = [
        {"time": (now - timedelta(seconds=40 - n)).isoformat(), "level": "INFO",
         "service": service, "message": f"GET /cart/{n} 200 in {n} ms"}
        for n in range(20)
    ] + [
        {"time": (now - timedelta(seconds=10 - n)).isoformat(), "level": "ERROR",
         "service": service, "message": f"charge declined by risk engine code=R17 order={n}"}
        for n in range(5)
    ]  # fmt: skip
    body = "\n".join(json.dumps(line) for line in lines)
    sent = httpx2.post(
        f"{live_server.url}/ingest/http",
        content=body.encode(),
        headers={"Authorization": f"Bearer {token.text}", "Content-Type": "application/x-ndjson"},
    )
    assert sent.status_code == 200, sent.text

    def drained():
        with tenant_context(token.tenant):
            return StreamEvent.objects.filter(service=service).count() == 25

    wait_for(drained, 60, "the stream to be drained", every=0.3)

    api, alertmanager = alertmanager_for(
        f"{live_server.url}/ingest/alerts/alertmanager", token.text
    )
    with alertmanager:
        alert = {
            "labels": {"alertname": "CheckoutErrors", "service": service, "severity": "critical"},
            "annotations": {"summary": "checkout error rate above 5%"},
            "startsAt": now.isoformat(),
            "generatorURL": "http://prometheus.example/graph",
        }
        fired = httpx2.post(f"{api}/api/v2/alerts", json=[alert], timeout=5)
        assert fired.status_code == 200, fired.text

        def received():
            with tenant_context(token.tenant):
                return InboundAlert.objects.filter(service=service).first()

        inbound = wait_for(received, 30, "Alertmanager's webhook", every=0.3)

        def twice():
            with tenant_context(token.tenant):
                return InboundAlert.objects.get(pk=inbound.pk).received >= 2

        wait_for(twice, 30, "the second webhook (bearer) to deliver the same alert", every=0.3)
        assert inbound.sender == "alertmanager" and inbound.opened_incident
        assert inbound.labels["severity"] == "critical" and len(inbound.fingerprint) == 16
        incident_id = inbound.incident_id

        def analysed():
            with tenant_context(token.tenant):
                run = AnalysisRun.objects.filter(incident_id=incident_id).first()
                return run if run and run.status in ("done", "failed") else None

        run = wait_for(analysed, 120, "the incident's ingest and analysis", every=0.5)
        with tenant_context(token.tenant):
            incident = Incident.objects.get(pk=incident_id)
            assert incident.title == f"CheckoutErrors in {service}: checkout error rate above 5%"
            assert StreamIncident.objects.get(incident=incident).service == service
            events = Event.objects.filter(incident=incident, service=service)
            assert events.count() == 25  # the stream's logs of that moment
            assert events.filter(message__contains="charge declined").count() == 5
            assert run.status == "done", run.error
            assert run.result, "the analysis has a result"

        alert["endsAt"] = datetime.now(UTC).isoformat()  # resolved
        resolved = httpx2.post(f"{api}/api/v2/alerts", json=[alert], timeout=5)
        assert resolved.status_code == 200, resolved.text

        def closed():
            with tenant_context(token.tenant):
                return Incident.objects.get(pk=incident_id).status == "resolved"

        wait_for(closed, 30, "the resolve to arrive", every=0.3)
        with tenant_context(token.tenant):
            inbound.refresh_from_db()
            assert inbound.status == "resolved" and inbound.ends_at is not None
            assert InboundAlert.objects.filter(service=service).count() == 1
            assert Incident.objects.filter(inbound_alerts__service=service).count() == 1
