"""`manage.py qcluster` stops within 10 s of SIGTERM (apps/tenants/management/commands/qcluster.py),
idle, busy and signalled as a process group, and a task it interrupts is delivered again.

Real `manage.py qcluster` processes on the test database (ORM broker), two workers each.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

import pytest
from django.conf import settings
from django.utils import timezone
from django_q.models import OrmQ, Task
from django_q.tasks import async_task

from conftest import test_database_url

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

STOP_WITHIN = 10.0


def slow_once(marker: str, seconds: float) -> str:
    """A task body (run by the worker): slow on its first delivery, quick on the next."""
    path = Path(marker)
    if path.exists():
        return "delivered again"
    path.write_text("started")
    time.sleep(seconds)
    return "finished the first time"


class Qcluster:
    def __init__(self, log: Path) -> None:
        self.log = log
        env = {
            **os.environ,
            "DATABASE_URL": test_database_url(),
            "DJANGO_SETTINGS_MODULE": "aiops.settings_test",
            "Q_WORKERS": "2",
        }
        with log.open("ab") as out:
            self.proc = subprocess.Popen(
                [sys.executable, "manage.py", "qcluster"],
                cwd=settings.BASE_DIR,
                env=env,
                stdout=out,
                stderr=out,
                start_new_session=True,
            )
        self.wait_for_log("running.")

    def wait_for_log(self, text: str, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while text not in self.log.read_text():
            assert self.proc.poll() is None, self.log.read_text()[-3000:]
            assert time.monotonic() < deadline, f"no {text!r} in {self.log.read_text()[-3000:]}"
            time.sleep(0.1)

    def group(self) -> list[str]:
        """Processes left in the cluster's process group (zombies count as gone)."""
        result = subprocess.run(
            ["ps", "-o", "pid=,stat=", "-g", str(self.proc.pid)], capture_output=True, text=True
        )
        return [line for line in result.stdout.splitlines() if "Z" not in line.split()[-1]]

    def stop(self, *, group: bool = False) -> float:
        """Seconds from SIGTERM to the main process's exit."""
        started = time.monotonic()
        if group:
            os.killpg(self.proc.pid, signal.SIGTERM)
        else:
            self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            pytest.fail(
                f"qcluster still running 30 s after SIGTERM: {self.log.read_text()[-2000:]}"
            )
        return time.monotonic() - started

    def kill(self) -> None:
        if self.proc.poll() is None or self.group():
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=20)


@pytest.fixture
def qclusters(tmp_path):
    started: list[Qcluster] = []

    def start() -> Qcluster:
        started.append(Qcluster(tmp_path / f"qcluster-{len(started)}.log"))
        return started[-1]

    yield start
    for cluster in started:
        cluster.kill()


def assert_stopped_cleanly(cluster: Qcluster, seconds: float) -> None:
    assert seconds < STOP_WITHIN, f"stopped after {seconds:.1f} s"
    assert cluster.proc.returncode == 0, cluster.log.read_text()[-2000:]
    time.sleep(0.3)
    assert cluster.group() == [], "qcluster left processes behind"


@pytest.mark.parametrize("group", [False, True], ids=["main-process", "process-group"])
def test_an_idle_cluster_stops_at_once(qclusters, group):
    cluster = qclusters()
    seconds = cluster.stop(group=group)
    assert_stopped_cleanly(cluster, seconds)
    if not group:  # the polite path: django-q2's own shutdown, well inside the grace
        assert seconds < 5
        assert "has stopped" in cluster.log.read_text()


def test_a_busy_cluster_stops_in_time_and_its_task_is_delivered_again(qclusters, tmp_path):
    marker = tmp_path / "task-started"
    task_id = async_task(f"{__name__}.slow_once", str(marker), 120)
    cluster = qclusters()
    deadline = time.monotonic() + 60
    while not marker.exists():
        assert time.monotonic() < deadline, cluster.log.read_text()[-3000:]
        time.sleep(0.1)

    seconds = cluster.stop()
    assert_stopped_cleanly(cluster, seconds)
    assert "delivered again" in cluster.log.read_text()  # the watchdog's warning
    # not acknowledged: the broker still holds the task, locked until `retry` runs out
    queued = OrmQ.objects.get()
    assert queued.task_id() == task_id
    assert queued.lock > timezone.now() + timedelta(seconds=settings.Q_CLUSTER["timeout"])
    assert not Task.objects.filter(id=task_id).exists()

    # as if `retry` had passed: the next cluster takes the task again and finishes it
    OrmQ.objects.update(lock=timezone.now() - timedelta(seconds=1))
    cluster = qclusters()
    deadline = time.monotonic() + 60
    while not Task.objects.filter(id=task_id).exists():
        assert time.monotonic() < deadline, cluster.log.read_text()[-3000:]
        time.sleep(0.2)
    task = Task.objects.get(id=task_id)
    assert task.success and task.result == "delivered again"
    assert_stopped_cleanly(cluster, cluster.stop())
    assert not OrmQ.objects.exists()
