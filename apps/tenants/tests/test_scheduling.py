"""Fair queuing of ingest jobs (apps.ingestion.scheduling) under real django-q2 workers.

Each test starts its own `manage.py qcluster` on the test database (1 or 2 workers) and
uploads through `add_files`, the path the web form takes.
"""

from __future__ import annotations

import importlib
import itertools
import os
import signal
import subprocess
import sys
import time
from datetime import timedelta

import pytest
from django.apps import apps as django_apps
from django.conf import settings
from django.db import connection
from django.utils import timezone
from django_q.models import OrmQ, Task
from django_tenants.utils import tenant_context

from apps.incidents.models import Incident, Project
from apps.ingestion import scheduling, services
from apps.ingestion.models import IngestJob
from apps.tenants.models import IngestTicket
from conftest import ensure_tenant, test_database_url

pytestmark = pytest.mark.django_db(transaction=True)

DONE = (IngestJob.Status.DONE, IngestJob.Status.FAILED)


def start_qcluster(workers: int) -> subprocess.Popen:
    env = {
        **os.environ,
        "DATABASE_URL": test_database_url(),
        "DJANGO_SETTINGS_MODULE": "aiops.settings_test",
        "Q_WORKERS": str(workers),
    }
    return subprocess.Popen(
        [sys.executable, "manage.py", "qcluster"],
        cwd=settings.BASE_DIR,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )


def kill(proc: subprocess.Popen) -> None:
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(timeout=20)


@pytest.fixture
def cluster():
    procs: list[subprocess.Popen] = []

    def start(workers: int = 1) -> subprocess.Popen:
        procs.append(start_qcluster(workers))
        return procs[-1]

    yield start
    for proc in procs:
        if proc.poll() is None:
            kill(proc)


def log_text(lines: int, tag: str) -> str:
    return "".join(
        f"2024-03-14T10:{i // 6000 % 60:02d}:{i // 100 % 60:02d}.{i % 1000:03d}Z "
        f"{'ERROR' if i % 97 == 0 else 'INFO'} api: {tag} request {i} took {i % 300}ms\n"
        for i in range(lines)
    )


def incident_in(tenant, title: str) -> Incident:
    with tenant_context(tenant):
        project, _ = Project.objects.get_or_create(slug="fair", defaults={"name": "fair"})
        return Incident.objects.create(project=project, title=title)


def upload(tenant, incident: Incident, texts: list[str]) -> list[int]:
    with tenant_context(tenant):
        jobs = services.add_files(
            incident=incident,
            uploads=[services.upload_from_text(t, name=f"f{i}.log") for i, t in enumerate(texts)],
        )
    return [job.pk for job in jobs]


def jobs_of(tenant, ids: list[int]) -> list[IngestJob]:
    connection.set_schema_to_public()
    with tenant_context(tenant):
        return list(IngestJob.objects.filter(pk__in=ids).order_by("pk"))


def wait_until_done(pairs, timeout: float = 180.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if all(job.status in DONE for tenant, ids in pairs for job in jobs_of(tenant, ids)):
            return
        time.sleep(0.3)
    states = [(j.pk, j.status) for tenant, ids in pairs for j in jobs_of(tenant, ids)]
    raise AssertionError(f"jobs not done in {timeout} s: {states}")


def wait_until_tickets_dropped(timeout: float = 60.0) -> None:
    """A ticket goes when its task ends, which is after its job is `done`: the task then
    builds the sources' text index (apps.ingestion.tasks.ingest)."""
    deadline = time.monotonic() + timeout
    while IngestTicket.objects.exists():
        left = list(IngestTicket.objects.values_list("job_id", "state"))
        assert time.monotonic() < deadline, f"tickets outlived their tasks: {left}"
        time.sleep(0.2)


def test_one_worker_a_flood_delays_another_tenant_by_at_most_one_job(cluster):
    alpha, beta = ensure_tenant("alpha"), ensure_tenant("beta")
    a_ids = upload(alpha, incident_in(alpha, "flood"), [log_text(4000, "a")] * 10)
    b_ids = upload(beta, incident_in(beta, "single"), [log_text(4000, "b")])
    # A has one ticket handed over, nine waiting; B's one was handed over at once
    assert IngestTicket.objects.filter(state="dispatched").count() == 2
    assert IngestTicket.objects.filter(state="waiting", tenant=alpha).count() == 9
    cluster(workers=1)
    wait_until_done([(alpha, a_ids), (beta, b_ids)])
    (b_job,) = jobs_of(beta, b_ids)
    a_jobs = jobs_of(alpha, a_ids)
    assert b_job.status == IngestJob.Status.DONE
    ahead = [j for j in a_jobs if j.finished_at < b_job.finished_at]
    # the stated bound: with 1 worker B waits for at most the one A job handed over before it
    # (FIFO would make it wait for all ten)
    assert len(ahead) <= 1, [(j.pk, j.finished_at) for j in a_jobs]
    wait_until_tickets_dropped()  # every ticket dropped once its task ended


def test_two_workers_one_tenant_never_holds_both(cluster):
    alpha, beta = ensure_tenant("alpha"), ensure_tenant("beta")
    a_ids = upload(alpha, incident_in(alpha, "flood2"), [log_text(4000, "a")] * 6)
    cluster(workers=2)
    time.sleep(1.0)
    b_uploaded = timezone.now()
    b_ids = upload(beta, incident_in(beta, "single2"), [log_text(4000, "b")])
    wait_until_done([(alpha, a_ids), (beta, b_ids)])
    a_jobs = jobs_of(alpha, a_ids)
    (b_job,) = jobs_of(beta, b_ids)
    # INGEST_TENANT_CONCURRENCY = 1: A's jobs ran one after another even with a free worker
    for earlier, later in itertools.pairwise(a_jobs):
        assert earlier.finished_at <= later.claimed_at, (earlier.pk, later.pk)
    # so B had the other worker: at most the A job in progress finished while B waited to
    # start (FIFO would have put B behind five queued A jobs, both workers on them)
    assert len([j for j in a_jobs if b_uploaded < j.finished_at < b_job.claimed_at]) <= 1
    assert b_job.status == IngestJob.Status.DONE


def test_a_queued_task_is_handed_over_again_only_when_the_broker_lost_it():
    alpha = ensure_tenant("alpha")
    (job_id,) = upload(alpha, incident_in(alpha, "lost"), [log_text(10, "lost")])
    ticket = IngestTicket.objects.get(job_id=job_id, tenant=alpha)
    long_ago = timezone.now() - timedelta(hours=1)
    IngestTicket.objects.filter(pk=ticket.pk).update(dispatched_at=long_ago)
    # a long django-q2 backlog: the message is still there, waiting for a worker
    assert scheduling.dispatch() == 0
    assert OrmQ.objects.count() == 1
    OrmQ.objects.all().delete()  # the message is gone (e.g. its task failed before the claim)
    assert scheduling.dispatch() == 1
    assert OrmQ.objects.count() == 1
    ticket.refresh_from_db()
    assert ticket.dispatches == 2 and ticket.dispatched_at > long_ago


def test_a_ticket_handed_over_twice_runs_once(cluster):
    alpha = ensure_tenant("alpha")
    text = log_text(3000, "twice")
    (job_id,) = upload(alpha, incident_in(alpha, "twice"), [text])
    ticket = IngestTicket.objects.get(job_id=job_id, tenant=alpha)
    assert ticket.state == "dispatched" and ticket.dispatches == 1
    # the job looks claimed by a worker that died (stale heartbeat): handed over again, while
    # the first message is still in the broker: two deliveries of one job
    with tenant_context(alpha):
        IngestJob.objects.filter(pk=job_id).update(
            status=IngestJob.Status.RUNNING, heartbeat_at=timezone.now() - timedelta(minutes=5)
        )
    assert scheduling.dispatch() == 1
    assert OrmQ.objects.count() == 2
    cluster(workers=2)
    wait_until_done([(alpha, [job_id])])
    deadline = time.monotonic() + 30
    while Task.objects.filter(name__startswith=f"ingest-{alpha.schema_name}-{job_id}-").count() < 2:
        assert time.monotonic() < deadline, "both deliveries should have run"
        time.sleep(0.2)
    results = sorted(
        Task.objects.filter(name__startswith=f"ingest-{alpha.schema_name}-{job_id}-").values_list(
            "result", flat=True
        )
    )
    assert results == ["done", "skipped"]
    (job,) = jobs_of(alpha, [job_id])
    assert job.attempts == 1  # one claim: the other delivery was skipped
    with tenant_context(alpha):
        assert job.incident.events.count() == 3000
        assert sorted(job.incident.events.values_list("line", flat=True)) == list(range(1, 3001))


def test_a_killed_worker_s_job_is_handed_over_again_by_the_sweep(cluster):
    """SIGKILL the whole qcluster mid-ingest; django-q2 would redeliver only after `retry`
    (35 min). The once-a-minute sweep (the schedule the migration creates) hands it over."""
    alpha = ensure_tenant("alpha")
    # transactional tests flush the migrated row: the migrations make it again
    importlib.import_module("apps.tenants.migrations.0003_ingest_tickets").add_schedule(
        django_apps, None
    )
    importlib.import_module("apps.tenants.migrations.0006_sweep_moves_to_ingestion").forwards(
        django_apps, None
    )
    (job_id,) = upload(alpha, incident_in(alpha, "killed"), [log_text(60_000, "k")])
    first = cluster(workers=1)
    deadline = time.monotonic() + 60
    while True:
        (job,) = jobs_of(alpha, [job_id])
        if job.status == IngestJob.Status.RUNNING and job.events_done > 0:
            break
        assert job.status not in DONE, "the job finished before it could be killed"
        assert time.monotonic() < deadline, "the job never started"
        time.sleep(0.05)
    kill(first)
    # age the heartbeat instead of waiting out the 60 s stale window
    with tenant_context(alpha):
        IngestJob.objects.filter(pk=job_id).update(
            heartbeat_at=timezone.now() - timedelta(minutes=5)
        )
    cluster(workers=1)  # its scheduler runs the sweep within ~30 s of starting
    wait_until_done([(alpha, [job_id])], timeout=120)
    (job,) = jobs_of(alpha, [job_id])
    assert job.status == IngestJob.Status.DONE
    assert job.attempts == 2
    with tenant_context(alpha):
        assert job.incident.events.count() == 60_000
    wait_until_tickets_dropped()
