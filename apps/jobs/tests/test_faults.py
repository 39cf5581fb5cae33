"""The one job lifecycle under faults, for each kind of job: ingest, analysis, PDF export.

On the real PostgreSQL test database; the crash test SIGKILLs a worker process running the
task as django-q2 does (`run_tenant_task`), the double-delivery test runs a real
`manage.py qcluster`. Each test runs for every kind (`KINDS`).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

import pytest
from django.conf import settings
from django.db import connection
from django.utils import timezone
from django_q.models import Task
from django_tenants.utils import tenant_context

from apps.analysis import services as analysis
from apps.analysis.models import AnalysisRun
from apps.incidents.models import Incident, Project
from apps.ingestion import services as ingestion
from apps.ingestion.models import Event, IngestJob
from apps.jobs import lifecycle
from apps.jobs.models import Job
from apps.reports import services as reports
from apps.reports.models import PdfExport
from apps.tenants.jobs import send_tenant_task
from conftest import ensure_tenant, test_database_url

pytestmark = pytest.mark.django_db(transaction=True)

LINES = 30_000  # six COPY batches: enough to kill an ingest between two
LOG = "".join(
    f"2024-03-14T10:{i // 6000 % 60:02d}:{i // 100 % 60:02d}.{i % 1000:03d}Z "
    f"{'ERROR' if i % 97 == 0 else 'INFO'} api: request {i} failed: connection refused\n"
    for i in range(LINES)
)


@dataclass(frozen=True)
class Kind:
    name: str
    model: type[Job]
    task: str  # the django-q2 entry point
    run: Callable[[int], str]  # what the task runs (the job through the lifecycle)
    new: Callable[[Incident], int]  # a queued job of this kind, its pk
    slow_step: str  # a step of the body the crash test slows down: module.attribute
    fail_step: str  # a step the failure test makes raise
    failure: str  # what the job's error then says


def _new_ingest(incident: Incident) -> int:
    upload = ingestion.upload_from_text(LOG, name=f"again-{time.monotonic_ns()}.log")
    return ingestion.add_files(incident=incident, uploads=[upload], run_inline=True)[0].pk


def _new_export(incident: Incident) -> int:
    report = reports.create_draft(incident=incident)
    return PdfExport.objects.create(report=report).pk


KINDS = [
    Kind(
        "ingest",
        IngestJob,
        "apps.ingestion.tasks.ingest",
        ingestion.run_ingest,
        _new_ingest,
        "apps.ingestion.writing.copy_batch",
        "apps.ingestion.jobs._ingest_file",
        "RuntimeError: boom",
    ),
    Kind(
        "analysis",
        AnalysisRun,
        "apps.analysis.tasks.analyze_incident",
        analysis.execute_run,
        lambda incident: AnalysisRun.objects.create(incident=incident).pk,
        "apps.analysis.services.build_pack",
        "apps.analysis.services.run_analysis",
        "the analysis failed (RuntimeError)",
    ),
    Kind(
        "pdf",
        PdfExport,
        "apps.reports.tasks.render_pdf",
        reports.render_export,
        _new_export,
        "apps.reports.services.render_report_pdf",
        "apps.reports.services.render_report_pdf",
        "RuntimeError: boom",
    ),
]
by_name = pytest.mark.parametrize("kind", KINDS, ids=[k.name for k in KINDS])


@pytest.fixture
def alpha():
    return ensure_tenant("alpha")


@pytest.fixture
def incident(alpha) -> Incident:
    """A small ingested incident (what analysis and PDF jobs read)."""
    with tenant_context(alpha):
        project, _ = Project.objects.get_or_create(slug="jobs", defaults={"name": "jobs"})
        incident = ingestion.create_incident(
            project=project,
            title=f"jobs {time.monotonic_ns()}",
            uploads=[ingestion.upload_from_text(LOG[:20_000])],
            run_inline=True,
        )
        for job in incident.jobs.all():
            assert ingestion.run_ingest(job.pk) == IngestJob.Status.DONE
    connection.set_schema_to_public()
    return incident


def row(alpha, kind: Kind, pk: int) -> Job:
    connection.set_schema_to_public()
    with tenant_context(alpha):
        return kind.model.objects.get(pk=pk)


def new_job(alpha, kind: Kind, incident: Incident) -> int:
    with tenant_context(alpha):
        return kind.new(incident)


def deliver(alpha, kind: Kind, pk: int) -> str:
    """One more delivery of the job, in this process (what the task runs)."""
    connection.set_schema_to_public()
    with tenant_context(alpha):
        return kind.run(pk)


# --- double delivery ------------------------------------------------------------------------


@by_name
def test_a_second_delivery_does_not_run_again(alpha, incident, kind):
    pk = new_job(alpha, kind, incident)
    assert deliver(alpha, kind, pk) == "done"
    first = row(alpha, kind, pk)
    assert deliver(alpha, kind, pk) == lifecycle.SKIPPED
    again = row(alpha, kind, pk)
    assert (again.status, again.attempts, again.finished_at) == ("done", 1, first.finished_at)
    # and a job alive in another worker (fresh heartbeat) is not taken over either
    pk = new_job(alpha, kind, incident)
    with tenant_context(alpha):
        kind.model.objects.filter(pk=pk).update(
            status="running", attempts=1, heartbeat_at=timezone.now()
        )
    assert deliver(alpha, kind, pk) == lifecycle.SKIPPED
    assert row(alpha, kind, pk).attempts == 1


def test_double_delivery_through_a_real_qcluster_runs_each_job_once(alpha, incident):
    """Every kind's task sent twice to django-q2, two workers taking them side by side: one
    delivery runs the job, the other is skipped."""
    jobs = [(kind, new_job(alpha, kind, incident)) for kind in KINDS]
    names = []
    for kind, pk in jobs:
        for n in (1, 2):
            name = f"double-{kind.name}-{pk}-{n}"
            send_tenant_task(kind.task, pk, schema_name=alpha.schema_name, task_name=name)
            names.append(name)
    env = {
        **os.environ,
        "DATABASE_URL": test_database_url(),
        "DJANGO_SETTINGS_MODULE": "aiops.settings_test",
        "Q_WORKERS": "2",
    }
    proc = subprocess.Popen(
        [sys.executable, "manage.py", "qcluster"],
        cwd=settings.BASE_DIR,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 180
        while Task.objects.filter(name__in=names).count() < len(names):
            assert time.monotonic() < deadline, "the worker did not run every delivery"
            time.sleep(0.3)
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=20)
    results = dict(Task.objects.filter(name__in=names).values_list("name", "result"))
    for kind, pk in jobs:
        pair = sorted(results[f"double-{kind.name}-{pk}-{n}"] for n in (1, 2))
        assert pair == ["done", "skipped"], (kind.name, pair)
        job = row(alpha, kind, pk)
        assert (job.status, job.attempts) == ("done", 1), kind.name
    connection.set_schema_to_public()  # the worker's tasks left this process's schema alone


# --- crash mid-run, then a re-claim once the heartbeat is stale --------------------------------

RUNNER = """
import importlib, sys, time
import django
django.setup()
from apps.jobs import lifecycle
from apps.tenants.jobs import run_tenant_task
schema, task, pk, step, pause = sys.argv[1:6]
lifecycle.HEARTBEAT_EVERY = 0.2  # so that the test sees the heartbeat move
module_name, name = step.rsplit(".", 1)
module = importlib.import_module(module_name)
original = getattr(module, name)
def slowed(*args, **kwargs):
    result = original(*args, **kwargs)
    time.sleep(float(pause))
    return result
setattr(module, name, slowed)
print("result:", run_tenant_task(schema, task, int(pk)), flush=True)
"""


@by_name
def test_a_crashed_worker_s_job_is_claimed_again_once_stale(alpha, incident, kind, monkeypatch):
    monkeypatch.setattr(lifecycle, "STALE_AFTER", timedelta(seconds=2))
    pk = new_job(alpha, kind, incident)
    pause = "0.5" if kind.name == "ingest" else "60"  # per COPY batch / in one step
    env = {
        **os.environ,
        "DATABASE_URL": test_database_url(),
        "DJANGO_SETTINGS_MODULE": "aiops.settings_test",
    }
    argv = [sys.executable, "-c", RUNNER, alpha.schema_name, kind.task, str(pk)]
    proc = subprocess.Popen(
        [*argv, kind.slow_step, pause],
        cwd=settings.BASE_DIR,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 60
        while not _mid_run(row(alpha, kind, pk)):
            assert proc.poll() is None, "the worker ended before it could be killed"
            assert time.monotonic() < deadline, "the worker never got going"
            time.sleep(0.05)
        beat = row(alpha, kind, pk).heartbeat_at
        time.sleep(2.5)  # longer than STALE_AFTER: only a heartbeat keeps the job its own
        alive = row(alpha, kind, pk)
        assert alive.status == "running" and alive.heartbeat_at > beat
        assert deliver(alpha, kind, pk) == lifecycle.SKIPPED  # alive: not taken over
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    assert deliver(alpha, kind, pk) == lifecycle.SKIPPED  # its heartbeat is still fresh
    time.sleep(2.5)
    assert deliver(alpha, kind, pk) == "done"  # stale: claimed again, run to the end
    job = row(alpha, kind, pk)
    assert (job.status, job.attempts, job.error) == ("done", 2, "")
    if kind.name == "ingest":  # resumed from its checkpoint: no line lost or stored twice
        with tenant_context(alpha):
            lines = list(Event.objects.filter(source__stored_file__job=pk).values_list("line"))
        assert sorted(n for (n,) in lines) == list(range(1, LINES + 1))


def _mid_run(job: Job) -> bool:
    if job.status != "running":
        return False
    return not isinstance(job, IngestJob) or job.events_done > 0


# --- the retry limit and failures -------------------------------------------------------------


@by_name
def test_the_retry_limit_ends_the_job_failed(alpha, incident, kind):
    pk = new_job(alpha, kind, incident)
    limit = settings.Q_CLUSTER["max_attempts"]
    with tenant_context(alpha):
        # a job whose every delivery so far died mid-run (stale: no heartbeat)
        kind.model.objects.filter(pk=pk).update(status="running", attempts=limit)
    assert deliver(alpha, kind, pk) == "failed"
    job = row(alpha, kind, pk)
    assert (job.status, job.attempts) == ("failed", limit + 1)
    assert job.error == f"gave up after {limit} attempts" and job.finished_at is not None
    assert deliver(alpha, kind, pk) == lifecycle.SKIPPED  # over: never runs again
    if kind.name == "ingest":
        with tenant_context(alpha):
            assert not Event.objects.filter(source__stored_file__job=pk).exists()


@by_name
def test_a_failure_records_its_error_and_does_not_loop(alpha, incident, kind, monkeypatch):
    def boom(*args, **kwargs):
        raise RuntimeError("boom")

    module, name = kind.fail_step.rsplit(".", 1)
    monkeypatch.setattr(f"{module}.{name}", boom)
    pk = new_job(alpha, kind, incident)
    assert deliver(alpha, kind, pk) == "failed"
    job = row(alpha, kind, pk)
    assert (job.status, job.attempts, job.error) == ("failed", 1, kind.failure)
    assert job.finished_at is not None
    assert deliver(alpha, kind, pk) == lifecycle.SKIPPED
