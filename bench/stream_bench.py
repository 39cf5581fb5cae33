"""Streaming benchmark: a real client (the OpenTelemetry SDK's OTLP/HTTP exporter) at the
receivers, with gunicorn and a qcluster draining, end to end.

Starts gunicorn (2 workers × 2 threads) and `manage.py qcluster` on the database of
DATABASE_URL, makes an ingest token for the `stream-bench` tenant's `stream-bench` project,
then SENDERS threads each export batches of BATCH records through their own `OTLPLogExporter` (protobuf over HTTP, one request
per batch) as fast as the server answers. Prints:

  sent        records/s accepted by the receivers (2xx = spooled)
  latency     p50 / p99 / max of one export request
  end to end  records/s from the first request to the last record stored in the stream
              (drained: parsed, grouped, rules run, COPYed), and the drain's lag behind
  cpu         CPU time per 1,000 records of the client (this process), the web server, the
              worker (their process trees) and PostgreSQL (the backends connected to the
              bench's database, when the cluster runs on this machine)
  load        the machine's load average before and after (others' work shares the cores)
Before the clock starts, each sender exports a small batch and waits for it to be drained,
so gunicorn's workers and the qcluster are up and warm. Nothing is asserted. Quotas are
lifted for the run. Usage:

  . scripts/dev-env.sh && python bench/stream_bench.py [--records N] [--batch B] [--senders S]
"""

from __future__ import annotations

import argparse
import os
import socket
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "aiops.settings")
LIFTED = {
    "STREAM_TENANT_RATE": "100000000",
    "STREAM_TENANT_BURST": "100000000",
    "STREAM_MAX_BACKLOG": "100000000",
}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_port(port: int, proc: subprocess.Popen, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit("gunicorn exited")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.2)
    raise SystemExit("gunicorn did not start")


def session_cpu(session: int) -> float:
    """CPU seconds (user + system) of the live processes of a session (a process tree)."""
    return _cpu(lambda pid, fields: int(fields[3]) == session)  # stat field 6: the session


def database_cpu(name: str) -> float:
    """CPU seconds of the live PostgreSQL backends connected to database `name` (a local
    cluster: its backends are processes here, named `postgres: USER DB HOST(PORT) STATE`)."""

    def connected(pid: str, fields: list[str]) -> bool:
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as cmdline:
                words = cmdline.read().split()
        except OSError:
            return False
        return len(words) > 3 and words[0] == b"postgres:" and words[2] == name.encode()

    return _cpu(connected)


def _cpu(wanted) -> float:
    total = 0
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as stat:
                fields = stat.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if wanted(entry, fields):
            total += int(fields[11]) + int(fields[12])
    return total / os.sysconf("SC_CLK_TCK")


def make_records(total: int, batch: int, service: str) -> list[list]:
    """SDK log records (ReadableLogRecord), grouped in batches, built before the clock starts."""
    from opentelemetry.sdk._logs import LoggerProvider
    from opentelemetry.sdk._logs.export import (
        LogRecordExporter,
        LogRecordExportResult,
        SimpleLogRecordProcessor,
    )
    from opentelemetry.sdk.resources import Resource

    collected: list = []

    class Collect(LogRecordExporter):
        def export(self, batch):
            collected.extend(batch)
            return LogRecordExportResult.SUCCESS

        def shutdown(self):
            pass

        def force_flush(self, timeout_millis: int = 0) -> bool:
            return True

    provider = LoggerProvider(resource=Resource.create({"service.name": service}))
    provider.add_log_record_processor(SimpleLogRecordProcessor(Collect()))
    logger = provider.get_logger("bench")
    from opentelemetry._logs import SeverityNumber

    for i in range(total):
        error = i % 1000 == 999
        logger.emit(
            severity_number=SeverityNumber.ERROR if error else SeverityNumber.INFO,
            severity_text="ERROR" if error else "INFO",
            body=(
                f"upstream timeout after 30000 ms calling inventory (request {i})"
                if error
                else f"GET /api/orders/{i % 5000} 200 in {i % 97} ms user={i % 311}"
            ),
            attributes={"http.route": "/api/orders/{id}", "request.n": i},
        )
    return [collected[i : i + batch] for i in range(0, len(collected), batch)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=200_000)
    parser.add_argument("--batch", type=int, default=1000)
    parser.add_argument("--senders", type=int, default=4)
    args = parser.parse_args()

    import django

    django.setup()
    from django.core.management import call_command
    from django_tenants.utils import tenant_context

    from apps.incidents.models import Project
    from apps.ingestion.tokens import services as tokens
    from apps.tenants.models import Tenant
    from apps.tenants.services import create_tenant, ensure_public_tenant

    ensure_public_tenant()
    tenant = Tenant.objects.filter(slug="stream-bench").first() or create_tenant(
        name="Stream bench", slug="stream-bench", owner_username="stream-bench"
    )
    with tenant_context(tenant):
        project, _ = Project.objects.get_or_create(slug="stream-bench", defaults={"name": "bench"})
    _, token = tokens.create_token(tenant=tenant, project=project, name="stream-bench")
    service = f"bench-{uuid.uuid4().hex[:6]}"
    batches = make_records(args.records, args.batch, service)
    warmup = make_records(10 * args.senders, 10, f"{service}-warmup")
    call_command("check", verbosity=0)

    env = {**os.environ, **LIFTED}
    port = free_port()
    logs = ROOT / ".artifacts"
    logs.mkdir(exist_ok=True)
    web = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "aiops.wsgi:application", "--bind",
         f"127.0.0.1:{port}", "--workers", "2", "--threads", "2"],
        env=env, cwd=ROOT, stdout=(logs / "stream-bench-web.log").open("wb"),
        stderr=subprocess.STDOUT, start_new_session=True,
    )  # fmt: skip
    worker = subprocess.Popen(
        [sys.executable, "manage.py", "qcluster"],
        env={**env, "Q_WORKERS": "2"}, cwd=ROOT,
        stdout=(logs / "stream-bench-worker.log").open("wb"), stderr=subprocess.STDOUT,
        start_new_session=True,
    )  # fmt: skip
    try:
        wait_port(port, web)
        run(args, port, token, batches, warmup, service, tenant, project.pk, (web, worker))
    finally:
        for proc in (web, worker):
            os.killpg(proc.pid, 15)
        for proc in (web, worker):
            proc.wait(timeout=30)


def run(args, port, token, batches, warmup, service, tenant, project_id, procs) -> None:
    from django.conf import settings
    from django.db.models import Sum
    from django.utils import timezone
    from django_tenants.utils import tenant_context
    from opentelemetry.exporter.otlp.proto.http._log_exporter import OTLPLogExporter
    from opentelemetry.sdk._logs.export import LogRecordExportResult

    from apps.streams.models import SpoolBatch, StreamEvent

    url = f"http://127.0.0.1:{port}/ingest/otlp/v1/logs"
    latencies: list[float] = []
    failures = [0]
    todo = list(batches)
    lock = threading.Lock()

    def drained_since(moment) -> int:
        """Records of the project's batches received since `moment` and drained (done: their
        records committed to the stream). The spool has a row per request: a cheap poll."""
        with tenant_context(tenant):
            done = SpoolBatch.objects.filter(
                project_id=project_id, received_at__gte=moment, status="done"
            )
            return done.aggregate(n=Sum("record_count"))["n"] or 0

    def sender(first: list) -> None:
        exporter = OTLPLogExporter(
            endpoint=url, headers={"Authorization": f"Bearer {token}"}, timeout=30
        )
        exporter.export(first)  # warm-up, before the clock
        ready.wait()
        while True:
            with lock:
                if not todo:
                    return
                batch = todo.pop()
            started = time.perf_counter()
            result = exporter.export(batch)
            elapsed = time.perf_counter() - started
            with lock:
                latencies.append(elapsed)
                if result != LogRecordExportResult.SUCCESS:
                    failures[0] += 1

    ready = threading.Event()
    threads = [threading.Thread(target=sender, args=(first,)) for first in warmup]
    for thread in threads:
        thread.start()
    deadline = time.monotonic() + 120
    warm_start = timezone.now()
    while drained_since(warm_start) < sum(map(len, warmup)):
        if time.monotonic() > deadline:
            raise SystemExit("the warm-up batches were not drained within 120 s")
        time.sleep(0.25)
    load_before = os.getloadavg()
    database = settings.DATABASES["default"]["NAME"]
    cpu_before = [session_cpu(proc.pid) for proc in procs] + [database_cpu(database)]
    client_before = time.process_time()
    started, run_start = time.perf_counter(), timezone.now()
    ready.set()
    for thread in threads:
        thread.join()
    sent_s = time.perf_counter() - started
    client_cpu = time.process_time() - client_before
    stored = 0
    deadline = time.monotonic() + 600
    while stored < args.records and time.monotonic() < deadline:
        time.sleep(0.1)
        stored = drained_since(run_start)
    drained_s = time.perf_counter() - started
    with tenant_context(tenant):  # the stream holds them, once
        stored = StreamEvent.objects.filter(
            project_id=project_id, received_at__gte=run_start, service=service
        ).count()
    cpu_after = [session_cpu(proc.pid) for proc in procs] + [database_cpu(database)]
    cpu = [after - before for after, before in zip(cpu_after, cpu_before, strict=True)]
    load_after = os.getloadavg()
    latencies.sort()

    def pct(p: float) -> float:
        return latencies[min(len(latencies) - 1, int(p * len(latencies)))] * 1000

    print(f"records {args.records:,} in {len(batches):,} requests of {args.batch}, "
          f"{args.senders} senders, failed requests {failures[0]}")  # fmt: skip
    print(f"sent        {args.records / sent_s:>10,.0f} records/s  ({sent_s:.1f} s)")
    print(f"latency     p50 {pct(0.5):.0f} ms  p99 {pct(0.99):.0f} ms  max {pct(1.0):.0f} ms")
    print(f"end to end  {stored / drained_s:>10,.0f} records/s  ({stored:,} stored in "
          f"{drained_s:.1f} s; drain lag {drained_s - sent_s:.1f} s)")  # fmt: skip
    per = 1e6 / args.records  # seconds per record → ms per 1,000
    print(f"cpu         per 1,000 records: client {client_cpu * per:.0f} ms, web {cpu[0] * per:.0f} "
          f"ms, worker {cpu[1] * per:.0f} ms, postgres {cpu[2] * per:.0f} ms")  # fmt: skip
    print(f"load        {load_before[0]:.2f} before, {load_after[0]:.2f} after (1-minute average)")


if __name__ == "__main__":
    main()
