"""django-q2's `qcluster`, stopping within STOP_GRACE_SECONDS (+1.5 s) of SIGTERM or SIGINT.

This app is listed before django_q, so `manage.py qcluster` (compose, `make run`, the tests)
runs this command. django-q2 1.11 stops a cluster politely: the pusher stops, each worker gets
a poison pill, and the sentinel waits for every worker to finish its task, however long
(Q_TIMEOUT is 30 minutes), so `docker stop` (10 s, then SIGKILL) and systemd never see a
clean exit while a job runs. Signalled as a process group (systemd's default, `kill -- -pid`)
it never exits at all: the sentinel and workers die at once (their SIGTERM is the default
action) and the main process waits on the dead sentinel's event forever.

So the main process arms a watchdog on the first signal. After STOP_GRACE_SECONDS it kills
what is still running below the sentinel (busy workers, the monitor); the sentinel then ends
its own shutdown. If the main process is still alive 1.5 s later, everything left is killed
and the process exits. A task killed this way is not lost: its broker entry is acknowledged
only after it ends, so the ORM broker delivers it again once its lock (Q_CLUSTER `retry`)
expires, and ingest jobs are handed over again by the dispatch sweep as soon as their
heartbeat goes stale (apps.ingestion.scheduling). Jobs are idempotent, so a re-run is harmless.
"""

from __future__ import annotations

import logging
import os
import signal
import threading
import time
from pathlib import Path

from django.conf import settings
from django_q.cluster import Cluster
from django_q.management.commands import qcluster

log = logging.getLogger(__name__)

STOP_GRACE_SECONDS = 6.0  # docker stop waits 10 s before SIGKILL
FINAL_WAIT_SECONDS = 1.5


def descendants(pid: int) -> list[int]:
    """Every process below `pid`, children first (Linux /proc)."""
    parents: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue  # gone meanwhile
        parents.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    found, todo = [], [pid]
    while todo:
        children = parents.get(todo.pop(0), [])
        found += children
        todo += children
    return found


def kill(pids: list[int]) -> int:
    killed = 0
    for pid in pids:
        try:
            os.kill(pid, signal.SIGKILL)
            killed += 1
        except ProcessLookupError:
            pass
    return killed


class Watchdog:
    """Bounds the cluster's shutdown. Its thread starts with the command and waits; the first
    stop signal arms it (a signal handler only sets an event: no thread is started there)."""

    def __init__(self, cluster: Cluster, grace: float = STOP_GRACE_SECONDS) -> None:
        self.cluster = cluster
        self.grace = grace
        self.armed = threading.Event()
        threading.Thread(target=self._run, name="qcluster-stop-watchdog", daemon=True).start()

    def arm(self) -> None:
        self.armed.set()

    def _run(self) -> None:
        self.armed.wait()
        time.sleep(self.grace)
        sentinel = self.cluster.sentinel.pid if self.cluster.sentinel else None
        if sentinel is not None:
            busy = kill(descendants(sentinel))
            if busy:
                log.warning(
                    "qcluster: %d process(es) still busy %.0f s after the stop signal were "
                    "killed; their tasks will be delivered again",
                    busy,
                    self.grace,
                )
        time.sleep(FINAL_WAIT_SECONDS)
        left = kill(descendants(os.getpid()))
        log.warning("qcluster: shutdown did not finish; killed %d process(es), exiting", left)
        logging.shutdown()
        os._exit(0)


class Command(qcluster.Command):
    help = "Starts the django-q2 cluster; it stops within 10 s of SIGTERM or SIGINT."

    def handle(self, *args, **options):
        settings.SECRET_KEY  # noqa: B018 — django-q2 signs tasks with it: fail early
        if options.get("cluster_name"):
            os.environ["Q_CLUSTER_NAME"] = options["cluster_name"]
        cluster = Cluster()  # installs django-q2's handlers; ours wrap them
        watchdog = Watchdog(cluster)

        def stop(signum, frame):
            watchdog.arm()
            cluster.sig_handler(signum, frame)

        signal.signal(signal.SIGTERM, stop)
        signal.signal(signal.SIGINT, stop)
        cluster.start()
        if options.get("run_once"):
            cluster.stop()
        elif cluster.sentinel is not None:
            cluster.sentinel.join()  # here, not in the interpreter's exit: signals keep working
