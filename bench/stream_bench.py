"""Streaming benchmark: a real client (the OpenTelemetry SDK's OTLP/HTTP exporter) at the
receivers, with gunicorn and a qcluster draining, end to end.

Starts gunicorn (2 workers × 2 threads) and `manage.py qcluster` on the database of
DATABASE_URL, makes an ingest token for the `stream-bench` tenant's `stream-bench` project,
then SENDERS threads each export batches of BATCH records through their own `OTLPLogExporter`
(protobuf over HTTP, one request per batch) as fast as the server answers. With --processes
each sender is a process of its own (several services' SDKs): the client's encoding then uses
both cores instead of sharing one GIL, and request latency is less the client's own queueing.
Prints:

  sent        records/s accepted by the receivers (2xx = spooled)
  latency     p50 / p99 / max of one export request
  end to end  records/s from the first request to the last record stored in the stream
              (drained: parsed, grouped, rules run, COPYed), and the drain's lag behind
  cpu         CPU time per 1,000 records of the client (the senders), the web server, the
              worker (their process trees) and PostgreSQL (the backends connected to the
              bench's database, when the cluster runs on this machine)
  memory      resident memory of the web server's and the worker's process trees, before,
              at each quarter of the run and after
  load        the machine's load average before and after (others' work shares the cores)
Before the clock starts, each sender exports a small batch and waits for it to be drained,
so gunicorn's workers and the qcluster are up and warm. Nothing is asserted. Quotas are
lifted for the run. Usage:

  . scripts/dev-env.sh && python bench/stream_bench.py [--records N] [--batch B] [--senders S]
                                                        [--processes]
"""

from __future__ import annotations

import argparse
import json
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
# The server runs as in production: with DEBUG on, Django keeps the text of its last 9,000
# queries per connection (the spool's payloads and the drain's documents among them: hundreds
# of MiB of resident memory) and formats each for the log.
PRODUCTION = {
    "DJANGO_DEBUG": "false",
    "SECRET_KEY": "stream-bench-only-not-a-secret",
    "ALLOWED_HOSTS": "127.0.0.1",
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


def session_rss(session: int) -> float:
    """Resident memory (MiB) of the live processes of a session."""
    total = 0
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as stat:
                if int(stat.read().rsplit(")", 1)[1].split()[3]) != session:
                    continue
            with open(f"/proc/{entry}/status") as status:
                total += next(int(line.split()[1]) for line in status if line.startswith("VmRSS"))
        except (OSError, StopIteration):
            continue
    return total / 1024


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


def make_records(total: int, batch: int, service: str, start: int = 0) -> list[list]:
    """SDK log records (ReadableLogRecord), grouped in batches, built before the clock starts;
    record i of the whole run is numbered `start + i`."""
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

    for i in range(start, start + total):
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


def export_all(url: str, token: str, first: list, batches: list, go) -> tuple[list, int]:
    """One sender: export the warm-up batch, wait for `go()`, then export `batches` (a shared
    list: popped under the GIL) one request at a time; the latencies and failed requests."""
    from opentelemetry.exporter.otlp.proto.http._log_exporter import OTLPLogExporter
    from opentelemetry.sdk._logs.export import LogRecordExportResult

    exporter = OTLPLogExporter(
        endpoint=url, headers={"Authorization": f"Bearer {token}"}, timeout=30
    )
    exporter.export(first)  # warm-up, before the clock
    go()
    latencies, failures = [], 0
    while True:
        try:
            batch = batches.pop()
        except IndexError:
            return latencies, failures
        started = time.perf_counter()
        result = exporter.export(batch)
        latencies.append(time.perf_counter() - started)
        failures += result != LogRecordExportResult.SUCCESS


def sender_process(argv: list[str]) -> None:
    """--sender URL TOKEN SERVICE START COUNT BATCH: one sender as a process of its own."""
    url, token, service, start, count, batch = argv
    batches = make_records(int(count), int(batch), service, start=int(start))
    batches.reverse()  # popped from the end: sent in order
    (first,) = make_records(10, 10, f"{service}-warmup", start=int(start))

    def go() -> None:
        print("ready", flush=True)
        sys.stdin.readline()

    clock = []

    def timed_go() -> None:
        go()
        clock.append(time.process_time())

    latencies, failures = export_all(url, token, first, batches, timed_go)
    cpu = time.process_time() - clock[0]
    print(json.dumps({"latencies": latencies, "failures": failures, "cpu": cpu}), flush=True)


def main() -> None:
    if sys.argv[1:2] == ["--sender"]:
        sender_process(sys.argv[2:])
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=200_000)
    parser.add_argument("--batch", type=int, default=1000)
    parser.add_argument("--senders", type=int, default=4)
    parser.add_argument("--processes", action="store_true", help="one process per sender")
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
    call_command("check", verbosity=0)

    env = {**os.environ, **LIFTED, **PRODUCTION}
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
        run(args, port, token, service, tenant, project.pk, (web, worker))
    finally:
        for proc in (web, worker):
            os.killpg(proc.pid, 15)
        for proc in (web, worker):
            proc.wait(timeout=30)


def run(args, port, token, service, tenant, project_id, procs) -> None:
    from django.conf import settings
    from django.db.models import Sum
    from django.utils import timezone
    from django_tenants.utils import tenant_context

    from apps.streams.models import SpoolBatch, StreamEvent

    url = f"http://127.0.0.1:{port}/ingest/otlp/v1/logs"

    def drained_since(moment) -> int:
        """Records of the project's batches received since `moment` and drained (done: their
        records committed to the stream). The spool has a row per request: a cheap poll."""
        with tenant_context(tenant):
            done = SpoolBatch.objects.filter(
                project_id=project_id, received_at__gte=moment, status="done"
            )
            return done.aggregate(n=Sum("record_count"))["n"] or 0

    warm_start = timezone.now()
    sending = (
        Processes(args, url, token, service)
        if args.processes
        else Threads(args, url, token, service)
    )
    deadline = time.monotonic() + 120
    while drained_since(warm_start) < 10 * args.senders:
        if time.monotonic() > deadline:
            raise SystemExit("the warm-up batches were not drained within 120 s")
        time.sleep(0.25)
    load_before = os.getloadavg()
    database = settings.DATABASES["default"]["NAME"]
    cpu_before = [session_cpu(proc.pid) for proc in procs] + [database_cpu(database)]
    rss_before = [session_rss(proc.pid) for proc in procs]
    started, run_start = time.perf_counter(), timezone.now()
    samples: list[list[float]] = []  # resident MiB of web and worker, every 2 s
    sampling = threading.Event()

    def sample() -> None:
        while not sampling.wait(2):
            samples.append([session_rss(proc.pid) for proc in procs])

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    latencies, failures, client_cpu = sending.go()
    sent_s = time.perf_counter() - started
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
    sampling.set()
    sampler.join()
    rss_after = [session_rss(proc.pid) for proc in procs]
    quarters = [samples[min(len(samples) - 1, len(samples) * q // 4)] for q in (1, 2, 3)]
    load_after = os.getloadavg()
    latencies.sort()

    def pct(p: float) -> float:
        return latencies[min(len(latencies) - 1, int(p * len(latencies)))] * 1000

    print(f"records {args.records:,} in {len(latencies):,} requests of {args.batch}, "
          f"{args.senders} sender {'processes' if args.processes else 'threads'}, "
          f"failed requests {failures}")  # fmt: skip
    print(f"sent        {args.records / sent_s:>10,.0f} records/s  ({sent_s:.1f} s)")
    print(f"latency     p50 {pct(0.5):.0f} ms  p99 {pct(0.99):.0f} ms  max {pct(1.0):.0f} ms")
    print(f"end to end  {stored / drained_s:>10,.0f} records/s  ({stored:,} stored in "
          f"{drained_s:.1f} s; drain lag {drained_s - sent_s:.1f} s)")  # fmt: skip
    per = 1e6 / args.records  # seconds per record → ms per 1,000
    print(f"cpu         per 1,000 records: client {client_cpu * per:.0f} ms, web {cpu[0] * per:.0f} "
          f"ms, worker {cpu[1] * per:.0f} ms, postgres {cpu[2] * per:.0f} ms")  # fmt: skip
    for name, n in (("web", 0), ("worker", 1)):
        along = " → ".join(f"{rss[n]:.0f}" for rss in [rss_before, *quarters, rss_after])
        print(f"memory      {name} {along} MiB (resident: before, at each quarter, after)")
    print(f"load        {load_before[0]:.2f} before, {load_after[0]:.2f} after (1-minute average)")


class Threads:
    """The senders as threads of this process (one GIL: the client's encoding shares a core)."""

    def __init__(self, args, url: str, token: str, service: str) -> None:
        self.batches = make_records(args.records, args.batch, service)
        self.batches.reverse()
        warmup = make_records(10 * args.senders, 10, f"{service}-warmup")
        self.ready = threading.Event()
        self.results: list = []
        self.threads = [
            threading.Thread(target=self._send, args=(url, token, first)) for first in warmup
        ]
        for thread in self.threads:
            thread.start()

    def _send(self, url: str, token: str, first: list) -> None:
        self.results.append(export_all(url, token, first, self.batches, self.ready.wait))

    def go(self) -> tuple[list[float], int, float]:
        before = time.process_time()
        self.ready.set()
        for thread in self.threads:
            thread.join()
        cpu = time.process_time() - before
        return [s for lat, _ in self.results for s in lat], sum(f for _, f in self.results), cpu


class Processes:
    """The senders as processes of their own, each with a share of the records."""

    def __init__(self, args, url: str, token: str, service: str) -> None:
        per = -(-args.records // args.senders // args.batch) * args.batch  # whole batches
        self.procs = []
        for n in range(args.senders):
            start, count = n * per, max(0, min(per, args.records - n * per))
            argv = [sys.executable, __file__, "--sender", url, token, service, str(start),
                    str(count), str(args.batch)]  # fmt: skip
            self.procs.append(
                subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
            )
        for proc in self.procs:
            if proc.stdout.readline().strip() != "ready":
                raise SystemExit("a sender did not start")

    def go(self) -> tuple[list[float], int, float]:
        for proc in self.procs:
            proc.stdin.write("go\n")
            proc.stdin.flush()
        results = [json.loads(proc.stdout.readline()) for proc in self.procs]
        for proc in self.procs:
            proc.wait(timeout=30)
        latencies = [s for r in results for s in r["latencies"]]
        return latencies, sum(r["failures"] for r in results), sum(r["cpu"] for r in results)


if __name__ == "__main__":
    main()
