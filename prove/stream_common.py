"""What the stream prove scripts share: the app under gunicorn, a django-q2 cluster, a token,
and a shipper that sends NDJSON batches to /ingest/http and retries the way shippers do.

The shipper is plain `http.client` (one connection per request, like Vector or Fluent Bit
after an error): a 2xx is an acknowledgement, a 429/503 is retried after `Retry-After`, any
other failure (a connection reset by a killed worker, a 5xx) is retried with the same body.
Each record carries a unique id in its message so what the stream holds can be checked
against what was acknowledged.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from prove.common import OUT, ROOT


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def server_env(**extra: str) -> dict[str, str]:
    from conftest import test_database_url

    env = {k: v for k, v in os.environ.items() if not k.startswith("AIOPS_TEST")}
    env.update(
        DJANGO_SETTINGS_MODULE="aiops.settings_test",
        DATABASE_URL=test_database_url(),
        ALLOWED_HOSTS="127.0.0.1,localhost",
    )
    env.update(extra)
    return env


class Gunicorn:
    """The app under gunicorn (what production runs), its own process group."""

    def __init__(self, *, workers: int = 2, threads: int = 4, **env: str) -> None:
        self.port = free_port()
        self.log = OUT / f"stream-gunicorn-{self.port}.log"
        argv = [
            *(sys.executable, "-m", "gunicorn", "aiops.wsgi:application"),
            *("--bind", f"127.0.0.1:{self.port}", "--workers", str(workers)),
            *("--threads", str(threads), "--timeout", "60", "--graceful-timeout", "5"),
        ]
        with self.log.open("wb") as out:
            self.proc = subprocess.Popen(
                argv, cwd=ROOT, env=server_env(**env), stdout=out, stderr=out,
                start_new_session=True,
            )  # fmt: skip
        deadline = time.monotonic() + 60
        while not self._healthy():
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"gunicorn did not start: {self.log.read_text()[-2000:]}")
            time.sleep(0.2)

    def _healthy(self) -> bool:
        try:
            conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=2)
            conn.request("GET", "/healthz")
            ok = conn.getresponse().status == 200
            conn.close()
            return ok
        except OSError:
            return False

    def workers(self) -> list[int]:
        return children(self.proc.pid)

    def stop(self) -> None:
        stop_group(self.proc)


class QCluster:
    """`manage.py qcluster` (django-q2) in its own process group; restartable."""

    def __init__(self, **env: str) -> None:
        self.env = server_env(**env)
        self.log = OUT / "stream-qcluster.log"
        self.log.write_bytes(b"")
        self.starts = 0
        self.proc: subprocess.Popen | None = None
        self.start()

    def start(self) -> None:
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen(
                [sys.executable, "manage.py", "qcluster"], cwd=ROOT, env=self.env,
                stdout=out, stderr=out, start_new_session=True,
            )  # fmt: skip
        self.starts += 1

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def kill_all(self) -> None:
        """SIGKILL the whole cluster: sentinel, workers, monitor, pusher."""
        assert self.proc is not None
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait(timeout=30)

    def workers(self) -> list[int]:
        """The cluster's processes below its sentinel (workers, monitor, pusher)."""
        assert self.proc is not None
        found = []
        for child in children(self.proc.pid):
            found.extend(children(child))
        return found

    def stop(self) -> None:
        if self.proc is not None:
            stop_group(self.proc)


def children(pid: int) -> list[int]:
    out = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                status = (entry / "status").read_text()
            except OSError:
                continue
            if f"\nPPid:\t{pid}\n" in status:
                out.append(int(entry.name))
    return out


def stop_group(proc: subprocess.Popen) -> None:
    try:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=20)
    except ProcessLookupError:
        return
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)


def make_token(tenant_slug: str, project_slug: str, name: str = "prove") -> tuple[str, object]:
    """(plain token, project) for a project of the tenant, made if missing."""
    from django_tenants.utils import tenant_context

    from apps.incidents.models import Project
    from apps.ingestion.tokens import services
    from conftest import ensure_tenant

    tenant = ensure_tenant(tenant_slug)
    with tenant_context(tenant):
        project, _ = Project.objects.get_or_create(
            slug=project_slug, defaults={"name": project_slug}
        )
    _, text = services.create_token(tenant=tenant, project=project, name=name)
    return text, project


def post(
    port: int, path: str, body: bytes, token: str, *, timeout: float = 30, **headers: str
) -> tuple[int, dict[str, str], bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request(
            "POST", path, body=body,
            headers={"Authorization": f"Bearer {token}", "Content-Type": "application/x-ndjson",
                     **headers},
        )  # fmt: skip
        response = conn.getresponse()
        return response.status, dict(response.getheaders()), response.read()
    finally:
        conn.close()


@dataclass
class Shipper:
    """Sends batches of `size` records from `name` until `stop`; retries each batch until it is
    acknowledged (or `give_up` is set). Keeps the ids acknowledged and every answer's latency."""

    port: int
    token: str
    name: str
    size: int = 200
    pause: float = 0.0  # between acknowledged batches
    acked: list[str] = field(default_factory=list)
    statuses: dict[str, int] = field(default_factory=dict)
    latencies: list[tuple[float, float, int]] = field(default_factory=list)  # (t, s, status)
    retries: int = 0
    batches: int = 0

    def batch(self, n: int) -> tuple[list[str], bytes]:
        now = datetime.now(UTC).isoformat()
        ids = [f"{self.name}-{n}-{i}" for i in range(self.size)]
        lines = [
            json.dumps(
                {"ts": now, "level": "error" if i % 50 == 0 else "info", "service": self.name,
                 "msg": f"request handled id={rid}"}
            )
            for i, rid in enumerate(ids)
        ]  # fmt: skip
        return ids, ("\n".join(lines) + "\n").encode()

    def send_until_acked(self, body: bytes, give_up: threading.Event) -> bool:
        while not give_up.is_set():
            started = time.monotonic()
            try:
                status, headers, _ = post(self.port, "/ingest/http", body, self.token)
            except (OSError, http.client.HTTPException) as exc:
                kind = type(exc).__name__
                self.statuses[kind] = self.statuses.get(kind, 0) + 1
                self.retries += 1
                time.sleep(0.2)
                continue
            took = time.monotonic() - started
            self.latencies.append((started, took, status))
            self.statuses[str(status)] = self.statuses.get(str(status), 0) + 1
            if 200 <= status < 300:
                return True
            self.retries += 1
            if status in (429, 503):
                time.sleep(min(float(headers.get("Retry-After", "1")), 10))
            else:
                time.sleep(0.2)
        return False

    def run(self, stop: threading.Event, give_up: threading.Event) -> None:
        n = 0
        while not stop.is_set():
            ids, body = self.batch(n)
            if self.send_until_acked(body, give_up):
                self.acked.extend(ids)
                self.batches += 1
            n += 1
            if self.pause:
                time.sleep(self.pause)


def percentile(values: list[float], q: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]
