"""Faults: SIGKILL the ingest worker at random moments and restart PostgreSQL mid-ingest.

    python prove/faults.py            (or `make prove`; env: PROVE_FAULT_LINES, PROVE_KILLS)

A generated bundle of a few million lines (prove/out/faults-bundle.log) is ingested by the
real job in a subprocess worker (`run_tenant_task`, what django-q2 runs). Several runs; in each
the worker is SIGKILLed at random moments (some during start-up, most mid-COPY) and restarted,
and PostgreSQL is restarted once with `-m fast` and once with `-m immediate` while a worker
writes. Afterwards every job must be in a terminal state within its retry budget
(Q_MAX_ATTEMPTS), and per source the event count and a digest over (line number, sha256 of
the line) must equal the file's: nothing lost, nothing duplicated.

Restarting PostgreSQL restarts the shared dev cluster: other test runs see a blip.
A killed worker's heartbeat is aged by hand instead of waiting the 60 s stale window.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from prove.common import run_module

    sys.exit(run_module(__file__, "faults"))

import pytest
from django.conf import settings
from django.utils import timezone
from django_tenants.utils import tenant_context

from prove.common import (
    OUT,
    db_retry,
    file_line_digest,
    pg_ctl_restart,
    source_line_digest,
    write_result,
)

pytestmark = pytest.mark.django_db(transaction=True)

LINES = int(os.environ.get("PROVE_FAULT_LINES", "2000000"))
KILLS = int(os.environ.get("PROVE_KILLS", "21"))
KILLS_PER_RUN = 7
# pg_ctl restart modes, in order; PROVE_PG_RESTARTS=none for a dry run that spares the cluster
PG_MODES = [m for m in os.environ.get("PROVE_PG_RESTARTS", "fast,immediate").split(",") if m]
PG_MODES = [] if PG_MODES == ["none"] else PG_MODES
MAX_ATTEMPTS = KILLS_PER_RUN + 3  # the retry budget given to the worker (Q_MAX_ATTEMPTS)
RUNNER = """
import sys, django
django.setup()
from apps.tenants.jobs import run_tenant_task
run_tenant_task(sys.argv[1], "apps.ingestion.tasks.ingest", int(sys.argv[2]))
"""


def bundle(lines: int) -> tuple[Path, int]:
    """A log of `lines` physical lines: several formats' worth of text, tracebacks, tabs,
    backslashes, `\\N`, UTF-8. Returns the path and the number of events it holds."""
    path = OUT / f"faults-bundle-{lines}.log"
    events = 0
    tmp = path.with_suffix(".tmp")
    rng = random.Random(lines)
    OUT.mkdir(parents=True, exist_ok=True)
    written = 0
    with tmp.open("w", encoding="utf-8", newline="\n") as out:
        i = 0
        while written < lines:
            level = "ERROR" if i % 97 == 0 else ("WARN" if i % 31 == 0 else "INFO")
            svc = ("api", "db", "worker", "gateway")[i % 4]
            extra = ("", "\tuser=ünïcødé", " path=C:\\tmp\\x \\N", " 💥 ok")[rng.randrange(4)]
            out.write(
                f"2024-03-14T{10 + i // 3_600_000 % 10:02d}:{i // 60_000 % 60:02d}:"
                f"{i // 1000 % 60:02d}.{i % 1000:03d}Z {level} {svc}: request {i} took "
                f"{rng.randrange(900)}ms{extra}\n"
            )
            written += 1
            events += 1
            if i % 997 == 0 and written + 3 <= lines:
                out.write(
                    'Traceback (most recent call last):\n  File "app.py", line 9, in handler\n'
                    f"KeyError: 'user-{i}'\n"
                )
                written += 3
            i += 1
    tmp.replace(path)
    return path, events


def _db(fn, *, attempts: int = 60):
    return db_retry(fn, attempts=attempts)


def _worker(schema: str, job_id: int, log: Path) -> subprocess.Popen:
    from conftest import test_database_url

    env = {
        **os.environ,
        "DATABASE_URL": test_database_url(),
        "DJANGO_SETTINGS_MODULE": "aiops.settings_test",
        "Q_MAX_ATTEMPTS": str(MAX_ATTEMPTS),
    }
    with log.open("ab") as out:
        return subprocess.Popen(
            [sys.executable, "-c", RUNNER, schema, str(job_id)],
            cwd=settings.BASE_DIR,
            env=env,
            stdout=out,
            stderr=out,
        )


def _pg_restart(mode: str) -> float:
    pg_bin, pg_data = os.environ.get("AIOPS_PG_BIN"), os.environ.get("AIOPS_PG_DATA")
    if not pg_bin or not pg_data:
        pytest.fail("AIOPS_PG_BIN/AIOPS_PG_DATA are not set: run under `. scripts/dev-env.sh`")
    return pg_ctl_restart(pg_bin, pg_data, mode)


def test_faults():
    from apps.incidents.models import Project
    from apps.ingestion import services
    from apps.ingestion.models import IngestJob
    from conftest import ensure_tenant

    rng = random.Random()
    path, expected_events = bundle(LINES)
    expected = file_line_digest(path)
    assert expected.lines == LINES
    tenant = ensure_tenant("alpha")
    log = OUT / "faults-worker.log"
    log.write_bytes(b"")
    with tenant_context(tenant):
        project, _ = Project.objects.get_or_create(slug="prove-faults", defaults={"name": "prove"})
    kills = 0
    restarts: list[str] = []
    restart_plan = list(PG_MODES)
    runs: list[dict] = []
    started = time.monotonic()
    while kills < KILLS or restart_plan or len(runs) < 3:
        if len(runs) >= 8:
            break
        with tenant_context(tenant):
            incident = services.create_incident(
                project=project,
                title=f"faults run {len(runs) + 1}",
                uploads=[services.upload_from_path(path)],
                run_inline=True,
            )
            job_id = incident.jobs.get().pk
        run = {"incident": incident.pk, "job": job_id, "kills": 0, "pg": [], "exits": []}
        runs.append(run)
        pg_mode = restart_plan.pop(0) if restart_plan else None
        plan = ["kill"] * KILLS_PER_RUN
        if pg_mode:
            plan.insert(rng.randrange(1, len(plan)), f"pg-{pg_mode}")
        while True:
            action = plan.pop(0) if plan else "finish"
            proc = _worker(tenant.schema_name, job_id, log)

            def state(job_id=job_id):
                with tenant_context(tenant):
                    return IngestJob.objects.filter(pk=job_id).values_list(
                        "status", "events_done", "attempts"
                    )[0]

            if action == "kill":
                if rng.random() < 0.3:  # anywhere: start-up, claim, parsing, COPY
                    time.sleep(rng.uniform(0.1, 4.0))
                else:  # mid-COPY: after rows started landing in this attempt
                    before = _db(state)[1]
                    deadline = time.monotonic() + 30
                    while proc.poll() is None and time.monotonic() < deadline:
                        if _db(state)[1] > before:
                            break
                        time.sleep(0.05)
                    time.sleep(rng.uniform(0.0, 2.0))
                if proc.poll() is None:
                    proc.send_signal(signal.SIGKILL)
                    kills += 1
                    run["kills"] += 1
                run["exits"].append(proc.wait(timeout=60))
            elif action.startswith("pg-"):
                before = _db(state)[1]
                deadline = time.monotonic() + 30
                while proc.poll() is None and time.monotonic() < deadline:
                    if _db(state)[1] > before:
                        break
                    time.sleep(0.05)
                time.sleep(rng.uniform(0.2, 1.5))
                if proc.poll() is None:
                    mode = action[3:]
                    took = _pg_restart(mode)
                    restarts.append(mode)
                    run["pg"].append(f"{mode} ({took:.1f}s)")
                # the worker retries transient errors itself; it must finish or exit
                run["exits"].append(proc.wait(timeout=900))
            else:
                run["exits"].append(proc.wait(timeout=900))
            status = _db(state)[0]
            if status in (IngestJob.Status.DONE, IngestJob.Status.FAILED):
                break
            if action == "finish" and len(run["exits"]) > KILLS_PER_RUN + 4:
                break  # not terminal: reported below

            # the worker died: age its heartbeat so the next delivery may claim the job
            def age(job_id=job_id):
                with tenant_context(tenant):
                    IngestJob.objects.filter(pk=job_id, status=IngestJob.Status.RUNNING).update(
                        heartbeat_at=timezone.now() - timedelta(minutes=5)
                    )

            _db(age)
    elapsed = time.monotonic() - started

    problems: list[str] = []
    for run in runs:
        with tenant_context(tenant):
            job = IngestJob.objects.get(pk=run["job"])
            run["status"], run["attempts"] = job.status, job.attempts
            if job.status not in (IngestJob.Status.DONE, IngestJob.Status.FAILED):
                problems.append(f"job {job.pk} left {job.status}")
                continue
            if job.attempts > MAX_ATTEMPTS:
                problems.append(f"job {job.pk}: {job.attempts} attempts > {MAX_ATTEMPTS}")
            if job.status == IngestJob.Status.FAILED:
                problems.append(f"job {job.pk} failed: {job.error[:200]}")
                continue
            source = job.stored_file.sources.get()
            got, events = source_line_digest(source)
            run["events"] = events
            if events != expected_events or source.event_count != expected_events:
                problems.append(
                    f"job {job.pk}: {events} events stored, source says {source.event_count},"
                    f" file has {expected_events}"
                )
            if got.hexdigest() != expected.hexdigest():
                problems.append(
                    f"job {job.pk}: digest differs ({got.lines} lines stored, last {got.last},"
                    f" file {expected.lines})"
                )
    for run in runs:
        print(f"  run {run}")
    restarts_text = " + ".join(f"pg_ctl restart -m {m}" for m in restarts) or "no restart"
    ok = not problems and kills >= min(KILLS, 20) and len(restarts) == len(PG_MODES)
    write_result(
        "faults",
        what=f"ingest {LINES:,}-line file ({path.stat().st_size / 2**20:.0f} MiB): SIGKILL worker,"
        " restart PostgreSQL mid-ingest",
        how_many=f"{len(runs)} runs, {kills} SIGKILLs, {restarts_text}, {elapsed:.0f} s",
        broke="0" if not problems else "; ".join(problems)[:500],
        ok=ok,
        runs=runs,
        expected_events=expected_events,
    )
    assert ok, problems
