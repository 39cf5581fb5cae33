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
