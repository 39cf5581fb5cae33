"""Faults during a sustained stream: SIGKILL web and drain workers, restart PostgreSQL.

    python prove/stream_faults.py   (env: PROVE_STREAM_SECONDS; AIOPS_PG_DIR/AIOPS_PG_PORT)

Runs on a private PostgreSQL cluster of its own (default /tmp/pg-streams on port 54343, made
by scripts/dev-env.sh): it restarts that cluster and never the shared dev cluster in .pg/.

Three shippers send NDJSON batches of 200 records to /ingest/http on the app under gunicorn
(2 workers) for PROVE_STREAM_SECONDS, each retrying a batch until it is acknowledged; a real
django-q2 cluster (`manage.py qcluster`) drains the spool into the stream. Meanwhile, in turn:
gunicorn workers are SIGKILLed mid-request (the master starts new ones), django-q2 workers
are SIGKILLed mid-drain, the whole cluster is SIGKILLed (a supervisor — this script — starts
it again, as a container's restart policy would), and PostgreSQL is restarted with
`pg_ctl restart -m fast` and `-m immediate`. Then the stream must drain by itself.

Pass: every acknowledged record is in the stream exactly once, no record is there twice
(acknowledged or not: a retried batch is deduplicated), no spool batch failed or stuck, and
the stream drained without help within the wait.
"""

from __future__ import annotations

import os
import random
import re
import signal
import sys
import threading
import time
from collections import Counter
from pathlib import Path

if __name__ == "__main__":
    if os.environ.get("AIOPS_PROVE_PRIVATE_PG") != "1":  # re-run on a private cluster
        env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "AIOPS_PG_DATA")}
        env.setdefault("AIOPS_PG_DIR", "/tmp/pg-streams")  # noqa: S108
        env.setdefault("AIOPS_PG_PORT", "54343")
        env["AIOPS_PROVE_PRIVATE_PG"] = "1"
        env.setdefault("AIOPS_TEST_DB", "test_prove_streams")
        script = '. scripts/dev-env.sh && exec python prove/stream_faults.py "$@"'
        os.chdir(Path(__file__).resolve().parents[1])
        os.execvpe("bash", ["bash", "-c", script, "stream_faults", *sys.argv[1:]], env)  # noqa: S606
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from prove.common import run_module

    sys.exit(run_module(__file__, "stream_faults"))

import pytest
from django.db import connection
from django_tenants.utils import tenant_context

from prove.common import ROOT, db_retry, pg_ctl_restart, write_result
from prove.stream_common import Gunicorn, QCluster, Shipper, make_token

pytestmark = pytest.mark.django_db(transaction=True)

SECONDS = int(os.environ.get("PROVE_STREAM_SECONDS", "90"))
DRAIN_WAIT = int(os.environ.get("PROVE_STREAM_DRAIN_WAIT", "420"))  # the sweep's 2 min included
PLAN = [
    "kill-web-worker", "kill-drain-worker", "pg-fast", "kill-cluster", "kill-web-worker",
    "kill-drain-worker", "pg-immediate", "kill-web-worker", "kill-drain-worker", "kill-cluster",
]  # fmt: skip
_ID = re.compile(r"id=(\S+)")


def _pg_restart(mode: str) -> float:
    pg_bin, pg_data = os.environ.get("AIOPS_PG_BIN"), os.environ.get("AIOPS_PG_DATA")
    if not pg_bin or not pg_data or os.environ.get("AIOPS_PROVE_PRIVATE_PG") != "1":
        pytest.fail("run as `python prove/stream_faults.py`: it restarts a private cluster only")
    if Path(pg_data).resolve().is_relative_to((ROOT / ".pg").resolve()):
        pytest.fail(f"refusing to restart the shared dev cluster ({pg_data})")
    return pg_ctl_restart(pg_bin, pg_data, mode)


def _stream_ids(tenant, project_id: int) -> Counter[str]:
    def read() -> Counter[str]:
        with tenant_context(tenant), connection.cursor() as cursor:
            cursor.execute("SELECT message FROM streams_event WHERE project_id = %s", [project_id])
            return Counter(m[1] for (message,) in cursor.fetchall() if (m := _ID.search(message)))

    return db_retry(read)


def _batches(tenant, project_id: int) -> dict[str, int]:
    from apps.streams.models import SpoolBatch

    def read() -> dict[str, int]:
        with tenant_context(tenant):
            rows = SpoolBatch.objects.filter(project_id=project_id).values_list("status")
            return dict(Counter(status for (status,) in rows))

    return db_retry(read)


def test_stream_faults():
    from conftest import ensure_tenant

    rng = random.Random()
    tenant = ensure_tenant("alpha")
    token, project = make_token("alpha", "prove-stream", "stream faults")
    web = Gunicorn(workers=2, threads=4)
    drains = QCluster(Q_WORKERS="2")
    stop, give_up = threading.Event(), threading.Event()
    shippers = [Shipper(web.port, token, f"s{k}", size=200) for k in range(3)]
    threads = [threading.Thread(target=s.run, args=(stop, give_up)) for s in shippers]
    done: list[str] = []
    restarts_of_cluster = 0
    started = time.monotonic()
    try:
        for thread in threads:
            thread.start()
        step = SECONDS / (len(PLAN) + 1)
        for action in PLAN:
            time.sleep(step * rng.uniform(0.7, 1.3))
            if not drains.alive():  # the supervisor: a cluster that died is started again
                drains.start()
                restarts_of_cluster += 1
            if action == "kill-web-worker":
                pids = web.workers()
                if pids:
                    os.kill(rng.choice(pids), signal.SIGKILL)
                    done.append(action)
            elif action == "kill-drain-worker":
                pids = drains.workers()
                if pids:
                    os.kill(rng.choice(pids), signal.SIGKILL)
                    done.append(action)
            elif action == "kill-cluster":
                drains.kill_all()
                done.append(action)
                time.sleep(rng.uniform(0.5, 3))
                drains.start()
            else:
                took = _pg_restart(action[3:])
                done.append(f"{action} ({took:.1f}s)")
        time.sleep(step)
        stop.set()
        for thread in threads:
            thread.join(timeout=120)
        give_up.set()
        for thread in threads:
            thread.join(timeout=30)
        sent_for = time.monotonic() - started

        acked = [rid for s in shippers for rid in s.acked]
        drain_started = time.monotonic()
        drained_in = None
        while time.monotonic() - drain_started < DRAIN_WAIT:
            if not drains.alive():
                drains.start()
                restarts_of_cluster += 1
            statuses = _batches(tenant, project.pk)
            if not statuses.get("queued") and not statuses.get("running"):
                drained_in = time.monotonic() - drain_started
                break
            time.sleep(2)
        statuses = _batches(tenant, project.pk)
        stored = _stream_ids(tenant, project.pk)
    finally:
        stop.set()
        give_up.set()
        drains.stop()
        web.stop()

    missing = sorted(set(acked) - set(stored))
    twice = sorted(rid for rid, n in stored.items() if n > 1)
    problems = []
    if missing:
        problems.append(f"{len(missing)} acknowledged records missing, e.g. {missing[:3]}")
    if twice:
        problems.append(f"{len(twice)} records stored twice, e.g. {twice[:3]}")
    if statuses.get("failed"):
        problems.append(f"{statuses['failed']} spool batches failed")
    if drained_in is None:
        problems.append(f"not drained within {DRAIN_WAIT} s: {statuses}")
    if len(done) < len(PLAN):
        problems.append(f"only {len(done)} of {len(PLAN)} faults happened: {done}")
    answers: Counter[str] = Counter()
    for shipper in shippers:
        answers.update(shipper.statuses)
    kills = sum(1 for d in done if d.startswith("kill"))
    pg = [d for d in done if d.startswith("pg")]
    print(f"  faults: {done}; cluster restarted by the supervisor {restarts_of_cluster}x")
    print(f"  answers: {dict(answers)}; batches: {statuses}; drained in {drained_in}")
    write_result(
        "stream_faults",
        what="sustained NDJSON stream via gunicorn + qcluster: SIGKILL web/drain workers and"
        " the cluster, restart PostgreSQL",
        how_many=f"{len(acked):,} records acked in {sent_for:.0f} s by 3 shippers, {kills}"
        f" SIGKILLs, {' + '.join(pg) or 'no restart'}; drained in"
        f" {'—' if drained_in is None else f'{drained_in:.0f} s'}",
        broke="0" if not problems else "; ".join(problems)[:500],
        ok=not problems,
        faults=done,
        answers=dict(answers),
        batches=statuses,
        stored=sum(stored.values()),
        acked=len(acked),
        retries=sum(s.retries for s in shippers),
        supervisor_restarts=restarts_of_cluster,
    )
    assert not problems, problems
