"""A real server process for a test or a prove script: started in its own process group with
its output in a log file, waited for until it answers, and stopped as a group afterwards."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path


@contextlib.contextmanager
def running(
    argv: Sequence[str],
    *,
    env: dict[str, str],
    cwd: Path | str,
    log: Path,
    ready: Callable[[], bool],
    start_timeout: float = 60,
    stop_timeout: float = 20,
    poll: float = 0.2,
) -> Iterator[subprocess.Popen]:
    """Yield the process once `ready()` is true (an OSError counts as not yet). It fails with
    the log's tail if the process exits or `start_timeout` passes first. On exit, whatever of
    the group still runs gets SIGTERM, then SIGKILL after `stop_timeout`."""
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("wb") as out:
        proc = subprocess.Popen(
            list(argv), cwd=cwd, env=env, stdout=out, stderr=out, start_new_session=True
        )
    try:
        deadline = time.monotonic() + start_timeout
        while True:
            try:
                if ready():
                    break
            except OSError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"{argv[0]} … did not start: {log.read_text()[-3000:]}")
            time.sleep(poll)
        yield proc
    finally:
        with contextlib.suppress(ProcessLookupError):  # the whole group is gone already
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=stop_timeout)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)


def wait_for(check: Callable[[], object], timeout: float, what: str, every: float = 0.1):
    """Poll `check` until it returns something true (returned) or fail after `timeout` s."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(every)


@contextlib.contextmanager
def running_qcluster(log: Path, *, workers: int = 2) -> Iterator[subprocess.Popen]:
    """A real django-q2 cluster (`manage.py qcluster`) on the test database, yielded once it
    has answered a first task; stopped as a group afterwards, the connection set back to the
    public schema (a task may leave a tenant's)."""
    import sys
    import uuid

    from django.conf import settings
    from django.db import connection
    from django_q.models import Task
    from django_q.tasks import async_task

    from conftest import test_database_url

    env = {k: v for k, v in os.environ.items() if not k.startswith("AIOPS_TEST")}
    env.update(
        DJANGO_SETTINGS_MODULE="aiops.settings_test",
        DATABASE_URL=test_database_url(),
        Q_WORKERS=str(workers),
    )
    probe = f"probe-{uuid.uuid4().hex[:8]}"
    async_task("math.floor", 1.5, task_name=probe)
    with running(
        [sys.executable, "manage.py", "qcluster"],
        env=env,
        cwd=settings.BASE_DIR,
        log=log,
        ready=lambda: Task.objects.filter(name=probe).exists(),
        start_timeout=90,
    ) as proc:
        yield proc
    connection.set_schema_to_public()
