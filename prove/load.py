"""Load: concurrent big uploads through gunicorn while members browse; and per-tenant fairness.

    python prove/load.py    (env: PROVE_LOAD_MB=50, PROVE_LOAD_UPLOADS=4, PROVE_LOAD_BROWSERS=6,
                             PROVE_LOAD_BROWSE_LINES=50000, PROVE_LOAD_TIMEOUT=900,
                             PROVE_FAIR_FLOOD=10, PROVE_FAIR_MB=5)

A real gunicorn (gthread) and a real `qcluster` (2 workers) serve the test database. gunicorn is
pinned to CPU 0 and this process, the load generator, to CPU 1 (os.sched_setaffinity /
taskset); the worker is not pinned and runs at nice 10, as background jobs should; PostgreSQL
is the shared dev cluster and floats. Logs are mixed files from ../shared/data/loghub plus
synthetic JSON/logfmt/Spring lines (bench/mixed_log.py).

Row "load": PROVE_LOAD_UPLOADS uploads of PROVE_LOAD_MB each, one per tenant, sent at once
through the new-incident form (multipart over HTTP, CSRF token from the form), while
PROVE_LOAD_BROWSERS members of those tenants browse an already ingested incident (incident page,
events partial, timeline partial, evidence panel) until every upload is ingested. The same
browsing for PROVE_LOAD_BASELINE_S before the uploads gives the machine's pace without the load
(reported, not judged). Each browser fetches its URLs once before measuring (warm-up). An
upload's time is its POST: sending the body until the response that says it is stored and
queued (302). Pass: uploads p95 < 10 s, page and partial p95 < 500 ms, zero errors; the ingest
throughput each tenant got is reported (lines/s while its job ran, and upload → done, which
includes waiting its turn: 2 workers, one job per tenant at a time).

Row "fairness": tenant B's one file is uploaded alone (its solo time, upload accepted → job
done), then tenant A uploads PROVE_FAIR_FLOOD files of the same size and B uploads its file
again. Pass: B's time under the flood is within FAIR_FACTOR × its solo time (docs/prove.md: fair
queuing lets A hold one worker; B gets the other, sharing the CPU).
"""

from __future__ import annotations

import http.client
import os
import random
import re
import socket
import subprocess
import sys
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from prove.common import run_module

    sys.exit(run_module(__file__, "load"))

import pytest
from django.conf import settings
from django.db import connection
from django_tenants.utils import tenant_context

from prove.common import OUT, read_result, write_result

pytestmark = pytest.mark.django_db(transaction=True)

UPLOAD_MB = int(os.environ.get("PROVE_LOAD_MB", "50"))
UPLOADS = int(os.environ.get("PROVE_LOAD_UPLOADS", "4"))
BROWSERS = int(os.environ.get("PROVE_LOAD_BROWSERS", "6"))
BROWSE_LINES = int(os.environ.get("PROVE_LOAD_BROWSE_LINES", "50000"))
BASELINE_S = float(os.environ.get("PROVE_LOAD_BASELINE_S", "15"))  # browsing alone, reported
TIMEOUT = float(os.environ.get("PROVE_LOAD_TIMEOUT", "900"))
FLOOD = int(os.environ.get("PROVE_FAIR_FLOOD", "10"))
FAIR_MB = int(os.environ.get("PROVE_FAIR_MB", "5"))
FAIR_FACTOR = 3.0  # stated in docs/configuration.md (INGEST_TENANT_CONCURRENCY)
UPLOAD_P95 = 10.0
PAGE_P95 = 0.5
BYTES_PER_LINE = 117.5  # bench/mixed_log.py output, measured
SERVER_CPU, CLIENT_CPU = 0, 1
GUNICORN_WORKERS, GUNICORN_THREADS = 3, 4
Q_WORKERS = 2
TENANTS = ("alpha", "beta", "gamma", "delta")


def mixed_log(*, mb: float = 0, lines: int = 0) -> Path:
    """A mixed log of about `mb` MiB (or `lines` lines), built once under bench/out/."""
    sys.path.insert(0, str(settings.BASE_DIR))
    from bench.mixed_log import build

    return build(max(lines or int(mb * 2**20 / BYTES_PER_LINE), 1000))


def p95(values: list[float]) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]


# ----------------------------------------------------------------------------- processes


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def server_env() -> dict[str, str]:
    from conftest import test_database_url

    return {
        **os.environ,
        "DATABASE_URL": test_database_url(),
        "DJANGO_SETTINGS_MODULE": "aiops.settings_test",
        "Q_WORKERS": str(Q_WORKERS),
        "LOG_LEVEL": "WARNING",
    }


@dataclass
class Servers:
    port: int
    procs: list[subprocess.Popen] = field(default_factory=list)

    def stop(self) -> None:
        import signal

        for proc in self.procs:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=20)


def start_servers() -> Servers:
    port = free_port()
    log = (OUT / "load-servers.log").open("ab")
    servers = Servers(port)
    cpus = os.sched_getaffinity(0)
    pin = ["taskset", "-c", str(SERVER_CPU)] if SERVER_CPU in cpus and len(cpus) > 1 else []
    gunicorn = [
        *pin,
        sys.executable,
        "-m",
        "gunicorn",
        "aiops.wsgi",
        "--bind",
        f"127.0.0.1:{port}",
        "--worker-class",
        "gthread",
        "--workers",
        str(GUNICORN_WORKERS),
        "--threads",
        str(GUNICORN_THREADS),
        "--timeout",
        "300",
        "--preload",  # import the app once, before forking, as in production
    ]
    worker = ["nice", "-n", "10", sys.executable, "manage.py", "qcluster"]
    for argv in (gunicorn, worker):
        servers.procs.append(
            subprocess.Popen(
                argv,
                cwd=settings.BASE_DIR,
                env=server_env(),
                stdout=log,
                stderr=log,
                start_new_session=True,
            )
        )
    deadline = time.monotonic() + 60
    while True:
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            conn.request("GET", "/healthz")
            if conn.getresponse().status == 200:
                break
        except OSError:
            pass
        if time.monotonic() > deadline:
            servers.stop()
            pytest.fail("gunicorn did not come up (see prove/out/load-servers.log)")
        time.sleep(0.3)
    return servers


# ----------------------------------------------------------------------------- HTTP client


class Member:
    """A signed-in member talking HTTP to gunicorn: keep-alive, session + CSRF cookies."""

    def __init__(self, port: int, session: str) -> None:
        self.port = port
        self.cookies = {settings.SESSION_COOKIE_NAME: session}
        self.conn: http.client.HTTPConnection | None = None

    def _connection(self) -> http.client.HTTPConnection:
        if self.conn is None:
            self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=300)
        return self.conn

    def _cookie_header(self) -> str:
        return "; ".join(f"{k}={v}" for k, v in self.cookies.items())

    def _read(self, response: http.client.HTTPResponse) -> tuple[int, str, bytes]:
        body = response.read()
        for header, value in response.getheaders():
            if header.lower() == "set-cookie":
                name, _, rest = value.partition("=")
                self.cookies[name.strip()] = rest.split(";", 1)[0]
        return response.status, response.getheader("Location") or "", body

    def get(self, url: str, *, htmx: bool = False) -> tuple[int, str, bytes]:
        headers = {"Cookie": self._cookie_header()}
        if htmx:
            headers["HX-Request"] = "true"
        reused = self.conn is not None
        try:
            conn = self._connection()
            conn.request("GET", url, headers=headers)
            return self._read(conn.getresponse())
        except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
            self.close()
            if not reused:
                raise
            # gunicorn closed an idle keep-alive connection (its keepalive is 2 s): once more
            return self.get(url, htmx=htmx)
        except (OSError, http.client.HTTPException):
            self.close()
            raise

    def upload(self, url: str, title: str, path: Path) -> tuple[int, str, bytes, float]:
        """Open the new-incident form, then POST it with one file streamed from disk.

        Returns the POST's status, Location, body and seconds (sending to response).
        """
        status, _, body = self.get(url)
        if status != 200:
            return status, "", body, 0.0
        match = re.search(rb'name="csrfmiddlewaretoken" value="([^"]+)"', body)
        token = match.group(1).decode() if match else ""
        boundary = uuid.uuid4().hex
        head = (
            f'--{boundary}\r\nContent-Disposition: form-data; name="csrfmiddlewaretoken"\r\n\r\n'
            f"{token}\r\n"
            f'--{boundary}\r\nContent-Disposition: form-data; name="title"\r\n\r\n{title}\r\n'
            f'--{boundary}\r\nContent-Disposition: form-data; name="files"; '
            f'filename="{path.name}"\r\nContent-Type: application/octet-stream\r\n\r\n'
        ).encode()
        tail = f"\r\n--{boundary}--\r\n".encode()
        self.close()  # a fresh connection: a POST is not retried
        conn = self._connection()
        began = time.monotonic()
        try:
            conn.putrequest("POST", url)
            conn.putheader("Content-Type", f"multipart/form-data; boundary={boundary}")
            conn.putheader("Content-Length", str(len(head) + path.stat().st_size + len(tail)))
            conn.putheader("Cookie", self._cookie_header())
            conn.endheaders()
            conn.send(head)
            with path.open("rb") as handle:
                while chunk := handle.read(1 << 20):
                    conn.send(chunk)
            conn.send(tail)
            return (*self._read(conn.getresponse()), time.monotonic() - began)
        except (OSError, http.client.HTTPException):
            self.close()
            raise

    def close(self) -> None:
        if self.conn is not None:
            self.conn.close()
            self.conn = None


def sign_in(tenant, username: str, port: int) -> Member:
    from django.contrib.auth import get_user_model
    from django.test import Client

    from apps.tenants.models import Membership, Role

    user, _ = get_user_model().objects.get_or_create(username=username)
    Membership.objects.get_or_create(tenant=tenant, user=user, defaults={"role": Role.MEMBER})
    client = Client()
    client.force_login(user)  # a session row in the database gunicorn reads
    return Member(port, client.cookies[settings.SESSION_COOKIE_NAME].value)


# ----------------------------------------------------------------------------- fixtures


@dataclass
class Target:
    """An ingested incident one tenant's members browse."""

    tenant: object
    incident_id: int
    evidence: list[tuple[int, int]]

    def urls(self) -> list[tuple[str, str, bool]]:
        base = f"{self.tenant.url_prefix}incidents/{self.incident_id}/"
        source, line = random.choice(self.evidence)
        return [
            ("incident page", base, False),
            ("events partial", f"{base}events/", True),
            ("events partial", f"{base}events/?level=ERROR", True),
            ("timeline partial", f"{base}timeline/", True),
            ("evidence", f"{base}evidence/{source}/{line}/", True),
        ]


def browse_target(tenant, path: Path) -> Target:
    from apps.incidents.models import Incident, Project
    from apps.ingestion import services
    from apps.ingestion.models import Event

    with tenant_context(tenant):
        project, _ = Project.objects.get_or_create(slug="load", defaults={"name": "load"})
        incident = Incident.objects.filter(project=project, title="browse me").first()
        if incident is None:
            incident = services.create_incident(
                project=project,
                title="browse me",
                uploads=[services.upload_from_path(path)],
                run_inline=True,
            )
            for job in incident.jobs.all():
                services.run_ingest(job.pk)
        evidence = list(
            Event.objects.filter(incident=incident, level__gte=4)
            .order_by("?")
            .values_list("source_id", "line")[:50]
        ) or list(Event.objects.filter(incident=incident).values_list("source_id", "line")[:50])
    connection.set_schema_to_public()
    return Target(tenant, incident.pk, evidence)


@dataclass
class Samples:
    latencies: dict[str, list[float]] = field(default_factory=dict)
    baseline: list[float] = field(default_factory=list)  # before the load: the machine's pace
    measuring: bool = False
    errors: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, kind: str, seconds: float) -> None:
        with self.lock:
            if self.measuring:
                self.latencies.setdefault(kind, []).append(seconds)
            else:
                self.baseline.append(seconds)

    def error(self, text: str) -> None:
        with self.lock:
            self.errors.append(text)


def browse(member: Member, target: Target, samples: Samples, stop: threading.Event) -> None:
    rng = random.Random()
    for _, url, htmx in target.urls():  # warm-up, not measured: templates, first connection
        member.get(url, htmx=htmx)
    while not stop.is_set():
        for kind, url, htmx in target.urls():
            if stop.is_set():
                break
            started = time.monotonic()
            try:
                status, _, body = member.get(url, htmx=htmx)
            except Exception as exc:
                samples.error(f"{kind} {url}: {type(exc).__name__}: {exc}")
                continue
            elapsed = time.monotonic() - started
            if status != 200:
                samples.error(f"{kind} {url}: HTTP {status} {body[:120]!r}")
            else:
                samples.add(kind, elapsed)
            stop.wait(rng.uniform(0.1, 0.4))  # a person reads, clicks


def job_rows(tenant, incident_id: int):
    from apps.ingestion.models import IngestJob

    connection.set_schema_to_public()
    with tenant_context(tenant):
        return list(IngestJob.objects.filter(incident_id=incident_id))


def wait_done(tenant, incident_id: int, deadline: float) -> list:
    while True:
        jobs = job_rows(tenant, incident_id)
        if jobs and all(j.status in ("done", "failed") for j in jobs):
            return jobs
        if time.monotonic() > deadline:
            return jobs
        time.sleep(0.5)


def wait_idle(deadline: float) -> None:
    """Until the ORM broker holds no task (it deletes each message once its task ended)."""
    from django_q.models import OrmQ

    connection.set_schema_to_public()
    while OrmQ.objects.exists() and time.monotonic() < deadline:
        time.sleep(0.5)


def incident_id_from(location: str) -> int:
    match = re.search(r"/incidents/(\d+)/", location)
    assert match, location
    return int(match.group(1))


# ----------------------------------------------------------------------------- the attack


def test_load_and_fairness():
    from conftest import ensure_tenant

    OUT.mkdir(parents=True, exist_ok=True)
    tenants = [ensure_tenant(slug) for slug in TENANTS[: max(UPLOADS, 2)]]
    big = mixed_log(mb=UPLOAD_MB)
    small = mixed_log(mb=FAIR_MB)
    browse_file = mixed_log(lines=BROWSE_LINES)
    targets = [browse_target(tenant, browse_file) for tenant in tenants]
    cpus = os.sched_getaffinity(0)
    servers = start_servers()
    try:
        if CLIENT_CPU in cpus and len(cpus) > 1:
            os.sched_setaffinity(0, {CLIENT_CPU})  # the load generator: its own core
        load = run_load(servers.port, tenants, targets, big)
        fairness = run_fairness(servers.port, tenants[0], tenants[1], small)
    finally:
        servers.stop()
        os.sched_setaffinity(0, cpus)
    print(f"  load: {load}")
    print(f"  fairness: {fairness}")
    failed = [name for name in ("load", "fairness") if not (read_result(name) or {}).get("ok")]
    assert not failed, [read_result(name) for name in failed]


def run_load(port: int, tenants, targets, big: Path) -> dict:
    samples = Samples()
    stop = threading.Event()
    browsers = []
    for i in range(BROWSERS):
        target = targets[i % len(targets)]
        member = sign_in(target.tenant, f"load-browser-{i}", port)
        browsers.append(
            threading.Thread(target=browse, args=(member, target, samples, stop), daemon=True)
        )
    uploaders = [sign_in(t, f"load-uploader-{t.slug}", port) for t in tenants[:UPLOADS]]
    for thread in browsers:
        thread.start()
    time.sleep(BASELINE_S)  # browsing alone first: the baseline, reported but not judged
    samples.measuring = True
    started = time.monotonic()
    results: dict[str, dict] = {}

    def send(member: Member, tenant) -> None:
        url = f"{tenant.url_prefix}projects/load/incidents/new/"
        try:
            status, location, body, seconds = member.upload(
                url, f"load {tenant.slug} {uuid.uuid4().hex[:6]}", big
            )
        except Exception as exc:
            results[tenant.slug] = {"error": f"{type(exc).__name__}: {exc}"}
            return
        results[tenant.slug] = {
            "status": status,
            "seconds": seconds,
            "location": location,
            "body": body[:200].decode(errors="replace") if status != 302 else "",
        }

    threads = [
        threading.Thread(target=send, args=(m, t)) for m, t in zip(uploaders, tenants, strict=False)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    uploaded = time.monotonic()
    deadline = started + TIMEOUT
    per_tenant: dict[str, dict] = {}
    problems: list[str] = []
    for tenant in tenants[:UPLOADS]:
        result = results.get(tenant.slug, {})
        if result.get("status") != 302:
            problems.append(f"upload {tenant.slug}: {result}")
            continue
        jobs = wait_done(tenant, incident_id_from(result["location"]), deadline)
        job = jobs[0] if jobs else None
        if job is None or job.status != "done":
            problems.append(f"ingest {tenant.slug}: {job.status if job else 'no job'}")
        if job is not None and job.claimed_at:
            end = job.finished_at or job.heartbeat_at or job.claimed_at
            run = max((end - job.claimed_at).total_seconds(), 1e-6)
            total = max((end - job.created_at).total_seconds(), 1e-6)
            per_tenant[tenant.slug] = {
                "status": job.status,
                "lines": job.lines_done,
                "mb": round(job.bytes_done / 2**20, 1),
                "run_s": round(run, 1),
                "lines_per_s": round(job.lines_done / run),
                "mb_per_s": round(job.bytes_done / 2**20 / run, 2),
                "upload_to_done_s": round(total, 1),
                "attempts": job.attempts,
            }
    ingested = time.monotonic()
    stop.set()
    for thread in browsers:
        thread.join(timeout=30)
    upload_times = [r["seconds"] for r in results.values() if "seconds" in r]
    all_pages = [s for values in samples.latencies.values() for s in values]
    by_kind = {
        kind: {
            "n": len(v),
            "p50_ms": round(sorted(v)[len(v) // 2] * 1000),
            "p95_ms": round(p95(v) * 1000),
            "max_ms": round(max(v) * 1000),
        }
        for kind, v in samples.latencies.items()
    }
    if p95(upload_times) >= UPLOAD_P95:
        problems.append(f"upload p95 {p95(upload_times):.1f} s ≥ {UPLOAD_P95:.0f} s")
    for kind, stats in by_kind.items():
        if stats["p95_ms"] >= PAGE_P95 * 1000:
            problems.append(f"{kind} p95 {stats['p95_ms']} ms ≥ {PAGE_P95 * 1000:.0f} ms")
    if samples.errors:
        problems.append(f"{len(samples.errors)} page errors, first: {samples.errors[0][:200]}")
    throughput = ", ".join(
        f"{slug} {t['lines_per_s']:,} lines/s ({t['mb_per_s']} MB/s, done {t['upload_to_done_s']:.0f} s after upload)"
        for slug, t in per_tenant.items()
    )
    ok = not problems
    write_result(
        "load",
        what=f"{UPLOADS} concurrent {UPLOAD_MB} MB uploads through gunicorn while"
        f" {BROWSERS} members of {len(tenants)} tenants browse incidents",
        how_many=(
            f"uploads accepted p95 {p95(upload_times):.1f} s; {len(all_pages):,} page/partial"
            f" requests, p95 {p95(all_pages) * 1000:.0f} ms (before the load"
            f" {p95(samples.baseline) * 1000:.0f} ms), {len(samples.errors)} errors;"
            f" ingest {throughput}; {ingested - started:.0f} s"
        ),
        broke="0" if ok else "; ".join(problems)[:600],
        ok=ok,
        uploads=results,
        pages=by_kind,
        baseline_pages={"n": len(samples.baseline), "p95_ms": round(p95(samples.baseline) * 1000)},
        ingest=per_tenant,
        upload_seconds=round(uploaded - started, 1),
        setup={
            "gunicorn": f"gthread {GUNICORN_WORKERS} workers × {GUNICORN_THREADS} threads, CPU {SERVER_CPU}",
            "qcluster": f"{Q_WORKERS} workers, nice 10, not pinned",
            "load generator": f"CPU {CLIENT_CPU}",
            "file": f"{big.name} ({big.stat().st_size / 2**20:.0f} MiB)",
        },
    )
    return {"problems": problems, "pages": by_kind, "ingest": per_tenant}


def run_fairness(port: int, flooder, other, path: Path) -> dict:
    a = sign_in(flooder, f"fair-{flooder.slug}", port)
    b = sign_in(other, f"fair-{other.slug}", port)
    url_a = f"{flooder.url_prefix}projects/load/incidents/new/"
    url_b = f"{other.url_prefix}projects/load/incidents/new/"
    deadline = time.monotonic() + TIMEOUT

    def b_time(label: str) -> tuple[float, object]:
        status, location, body, _ = b.upload(url_b, f"fair {label} {uuid.uuid4().hex[:6]}", path)
        assert status == 302, (status, body[:300])
        (job,) = wait_done(other, incident_id_from(location), deadline)
        assert job.status == "done", job.status
        return (job.finished_at - job.created_at).total_seconds(), job

    wait_idle(deadline)  # the load row's follow-up jobs (text index) must not count as B's wait
    solo, _ = b_time("solo")
    wait_idle(deadline)
    a_incidents = []
    for i in range(FLOOD):
        status, location, body, _ = a.upload(url_a, f"flood {i} {uuid.uuid4().hex[:6]}", path)
        assert status == 302, (status, body[:300])
        a_incidents.append(incident_id_from(location))
    flooded, b_job = b_time("under flood")
    a_jobs = [job for incident in a_incidents for job in job_rows(flooder, incident)]
    a_done = [j for j in a_jobs if j.status == "done"]
    a_runs = [(j.finished_at - j.claimed_at).total_seconds() for j in a_done if j.claimed_at]
    ahead = [j for j in a_done if b_job.created_at < j.finished_at < b_job.finished_at]
    factor = flooded / max(solo, 1e-6)
    a_mean = sum(a_runs) / len(a_runs) if a_runs else 0.0
    fifo_estimate = solo + a_mean * FLOOD / Q_WORKERS  # behind all of A's jobs, both workers
    ok = factor <= FAIR_FACTOR
    write_result(
        "fairness",
        what=f"tenant A floods {FLOOD} uploads of {FAIR_MB} MB, tenant B uploads one:"
        f" B's wait vs its solo time (stated bound ≤ {FAIR_FACTOR:g}×)",
        how_many=(
            f"B solo {solo:.1f} s, under the flood {flooded:.1f} s = {factor:.2f}×"
            f" ({len(ahead)} of A's jobs finished meanwhile; first-in-first-out would be"
            f" ≈ {fifo_estimate:.0f} s); {Q_WORKERS} workers, INGEST_TENANT_CONCURRENCY"
            f" {settings.INGEST_TENANT_CONCURRENCY}"
        ),
        broke="0" if ok else f"B took {factor:.2f}× its solo time (> {FAIR_FACTOR:g}×)",
        ok=ok,
        solo_s=solo,
        flooded_s=flooded,
        factor=factor,
        a_jobs_done_during_b=len(ahead),
        a_mean_run_s=a_mean,
        fifo_estimate_s=fifo_estimate,
    )
    return {"solo": solo, "flooded": flooded, "factor": factor}
