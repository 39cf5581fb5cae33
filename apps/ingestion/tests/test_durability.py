"""A worker killed mid-ingest (SIGKILL, several times) loses and duplicates nothing."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from datetime import timedelta

import pytest
from django.conf import settings
from django.db.models import Sum
from django.utils import timezone
from django_tenants.utils import tenant_context

from apps.ingestion import services
from apps.ingestion.models import IngestJob

from .conftest import file_digest, source_digest
from .test_rollup import assert_rollup_matches

pytestmark = pytest.mark.django_db(transaction=True)

RUNNER = """
import sys, django
django.setup()
from apps.tenants.jobs import run_tenant_task
run_tenant_task(sys.argv[1], "apps.ingestion.tasks.ingest", int(sys.argv[2]))
"""


def _big_log(path, lines=60_000):
    with path.open("w") as out:
        for i in range(lines):
            level = "ERROR" if i % 97 == 0 else "INFO"
            out.write(
                f"2024-03-14T10:{i // 6000 % 60:02d}:{i // 100 % 60:02d}.{i % 1000:03d}Z {level} api: request {i} took {i % 300}ms\n"
            )
            if i % 997 == 0:
                out.write(
                    "Traceback (most recent call last):\n  File \"app.py\", line 9, in handler\nKeyError: 'user'\n"
                )


def _worker(schema, job_id):
    from conftest import test_database_url

    env = {
        **os.environ,
        "DATABASE_URL": test_database_url(),
        "DJANGO_SETTINGS_MODULE": "aiops.settings_test",
        # up to three kills and the final delivery: four attempts (the default allows three,
        # and the test failed whenever no killed round happened to finish the job first)
        "Q_MAX_ATTEMPTS": "5",
    }
    return subprocess.Popen(
        [sys.executable, "-c", RUNNER, schema, str(job_id)],
        cwd=settings.BASE_DIR,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def test_sigkill_mid_ingest_then_resume(tmp_path):
    from apps.incidents.models import Project
    from conftest import ensure_tenant

    tenant = ensure_tenant("alpha")
    log = tmp_path / "big.log"
    _big_log(log)
    with tenant_context(tenant):
        project = Project.objects.get(slug="alpha-marker")
        incident = services.create_incident(
            project=project,
            title="killed worker",
            uploads=[services.upload_from_path(log)],
            run_inline=True,
        )
        job = incident.jobs.get()
    kills = 0
    for _ in range(3):
        proc = _worker(tenant.schema_name, job.pk)
        deadline = time.monotonic() + 60
        with tenant_context(tenant):
            while time.monotonic() < deadline:
                done = (
                    IngestJob.objects.filter(pk=job.pk).values_list("events_done", "status").get()
                )
                if done[1] == IngestJob.Status.DONE or done[0] > 0:
                    break
                time.sleep(0.05)
        time.sleep(0.2 * (kills + 1))
        if proc.poll() is None:
            proc.send_signal(signal.SIGKILL)
            kills += 1
        proc.wait(timeout=30)
        with tenant_context(tenant):
            # the worker died: its heartbeat goes stale, so a re-delivery may claim the job
            IngestJob.objects.filter(pk=job.pk, status=IngestJob.Status.RUNNING).update(
                heartbeat_at=timezone.now() - timedelta(minutes=5)
            )
    assert kills >= 1, "the file was too small to kill the worker mid-ingest"
    proc = _worker(tenant.schema_name, job.pk)  # the final, undisturbed delivery
    assert proc.wait(timeout=300) == 0
    with tenant_context(tenant):
        job.refresh_from_db()
        assert job.status == IngestJob.Status.DONE, job.error
        source = incident.sources.get()
        assert source_digest(source) == file_digest(log)
        # the job's closing aggregates, the timeline's on a second connection (services.
        # _SecondConnection, threaded outside a transaction as here), count every stored event
        assert_rollup_matches(incident)
        assert incident.occurrences.aggregate(n=Sum("count"))["n"] == source.event_count
        incident.delete()
