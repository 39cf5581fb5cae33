"""Faults for alert deliveries: receivers that fail, and workers killed mid-delivery.

    python prove/alerts_faults.py      (or `make prove PROVE="alerts_faults"`; env:
                                        PROVE_ALERT_SEED, PROVE_ALERT_INCIDENTS)

1. **Failing receivers** (a real `manage.py qcluster` with two workers delivers; the alerts
   sweep's `tick()` runs every 0.5 s instead of once a minute, to re-send due retries): one
   rule sends each opened incident to five channels on loopback — a receiver that is down
   (nothing listens), one that answers 500, one that answers 429 with `Retry-After: 2` to a
   message's first try, one slower than ALERTS_HTTP_TIMEOUT, and a healthy one. Two incidents
   open a second apart. Pass: the failing ones end `failed` after exactly Q_MAX_ATTEMPTS tries,
   each try in the delivery log with its outcome and the gaps growing by the backoff (1 s, 4 s,
   16 s); the throttled one is delivered on its second try, no sooner than Retry-After; every
   try of a message carries the same idempotency key; and the healthy channel's messages are
   delivered within a few seconds of their incident, while the others fail: nothing waits
   behind a bad receiver.
2. **kill -9 mid-delivery**: deliveries to a PagerDuty Events v2 receiver and a Standard
   Webhooks receiver (each answers after 0.6 s) run in subprocess workers (`run_tenant_task`,
   what django-q2 runs) that are SIGKILLed at random moments — during start-up, while the
   receiver holds the request, just after it answered — then delivered again until done. A
   killed worker's heartbeat is aged by hand instead of waiting the 60 s stale window. Pass:
   every notification ends `done` (never zero), and each receiver, deduplicating as the spec
   says (PagerDuty by `dedup_key` and action, webhooks by `webhook-id`, signatures verified),
   saw each message exactly once; the raw re-sends the keys absorbed are counted.
"""

from __future__ import annotations

import json
import os
import random
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter, defaultdict
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from itertools import pairwise
from pathlib import Path

if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from prove.common import run_module

    os.environ.setdefault("AIOPS_TEST_DB", "test_prove_alerts")
    sys.exit(run_module(__file__, "alerts_faults"))

import pytest
from django.conf import settings as django_settings
from django.db import connection
from django.utils import timezone
from django_tenants.utils import schema_context, tenant_context

from prove.common import OUT, db_retry, write_result

pytestmark = pytest.mark.django_db(transaction=True)

MAX_ATTEMPTS = 4  # Q_MAX_ATTEMPTS of the workers
RETRY_SECONDS = 1  # ALERTS_RETRY_SECONDS: backoff 1, 4, 16 s
HTTP_TIMEOUT = 1  # ALERTS_HTTP_TIMEOUT
HEALTHY_WITHIN = 6.0  # seconds from an incident to its healthy channel's message
RUNNER = """
import sys, django
django.setup()
from apps.tenants.jobs import run_tenant_task
print("result:", run_tenant_task(sys.argv[1], sys.argv[2], int(sys.argv[3])), flush=True)
"""
DELIVER = "apps.alerts.tasks.deliver"


class Endpoint:
    """An HTTP receiver on loopback: records each request when it arrives, then answers what
    `policy(body, headers)` says: (status, headers, delay before answering)."""

    def __init__(self, policy) -> None:
        self.requests: list[tuple[float, dict, bytes]] = []
        self.answered = 0
        endpoint = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                headers = {k.lower(): v for k, v in self.headers.items()}
                endpoint.requests.append((time.monotonic(), headers, body))
                status, extra, delay = policy(body, headers)
                time.sleep(delay)
                try:
                    self.send_response(status)
                    for name, value in extra.items():
                        self.send_header(name, value)
                    self.send_header("Content-Length", "2")
                    self.end_headers()
                    self.wfile.write(b"ok")
                    endpoint.answered += 1
                except OSError:  # the client gave up (a timeout, a killed worker)
                    pass

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def ok(delay: float = 0.0):
    return lambda body, headers: (200, {}, delay)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def worker_env() -> dict[str, str]:
    from conftest import test_database_url

    env = {k: v for k, v in os.environ.items() if not k.startswith("AIOPS_TEST")}
    env.update(
        DATABASE_URL=test_database_url(),
        DJANGO_SETTINGS_MODULE="aiops.settings_test",
        Q_MAX_ATTEMPTS=str(MAX_ATTEMPTS),
        Q_WORKERS="2",
        ALERTS_EGRESS_ALLOW="127.0.0.1",
        ALERTS_RETRY_SECONDS=str(RETRY_SECONDS),
        ALERTS_HTTP_TIMEOUT=str(HTTP_TIMEOUT),
    )
    return env


def test_alerts_faults(personas, settings):
    from apps.alerts import services
    from apps.alerts.models import AlertRule, Notification
    from apps.incidents import services as incidents
    from apps.incidents.models import Project

    settings.ALERTS_EGRESS_ALLOW = ["127.0.0.1"]
    settings.ALERTS_RETRY_SECONDS = RETRY_SECONDS
    settings.ALERTS_HTTP_TIMEOUT = HTTP_TIMEOUT
    tenant = personas.alpha
    seed = int(os.environ.get("PROVE_ALERT_SEED", str(time.time_ns() % 10**6)))
    rng = random.Random(seed)
    OUT.mkdir(parents=True, exist_ok=True)
    problems: list[str] = []
    started = time.monotonic()

    # --- 1. failing receivers, a real worker cluster ------------------------------------------
    first_try: set[str] = set()

    def throttle_first(body, headers):
        key = body.decode()
        if key not in first_try:
            first_try.add(key)
            return 429, {"Retry-After": "2"}, 0.0
        return 200, {}, 0.0

    endpoints = {
        "500": Endpoint(lambda body, headers: (500, {}, 0.0)),
        "429": Endpoint(throttle_first),
        "slow": Endpoint(ok(HTTP_TIMEOUT + 2.0)),
        "healthy": Endpoint(ok()),
    }
    down_url = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    with tenant_context(tenant):
        project, _ = Project.objects.get_or_create(slug="prove-alerts", defaults={"name": "alerts"})
        make = services.create_channel
        chans = {
            "down": make(project=project, kind="webhook", name="down", url=f"{down_url}/h")[0],
            "500": make(project=project, kind="webhook", name="500", url=endpoints["500"].url)[0],
            "429": make(
                project=project,
                kind="pagerduty",
                name="429",
                routing_key="R" * 32,
                url=f"{endpoints['429'].url}/v2/enqueue",
            )[0],
            "slow": make(project=project, kind="slack", name="slow", url=endpoints["slow"].url)[0],
            "healthy": make(
                project=project, kind="slack", name="healthy", url=endpoints["healthy"].url
            )[0],
        }
        rule = AlertRule.objects.create(
            project=project, name="faults", event=AlertRule.Event.INCIDENT_OPENED, group_seconds=0
        )
        rule.channels.set(chans.values())
    name_of = {channel.pk: name for name, channel in chans.items()}

    from apps.alerts.tasks import tick
    from apps.tenants.tests.processes import running

    stop = threading.Event()

    def sweeper() -> None:
        while not stop.is_set():
            try:
                with schema_context(tenant.schema_name):
                    tick()
            except Exception as exc:  # a sweep that fails is a finding, not a crash
                problems.append(f"sweep: {type(exc).__name__}: {exc}")
            stop.wait(0.5)
        connection.close()

    from django_q.models import Task
    from django_q.tasks import async_task

    probe = f"probe-{uuid.uuid4().hex[:8]}"
    async_task("math.floor", 1.5, task_name=probe)
    opened_at: dict[int, float] = {}
    with running(
        [sys.executable, "manage.py", "qcluster"],
        env=worker_env(),
        cwd=django_settings.BASE_DIR,
        log=OUT / "alerts-faults-qcluster.log",
        ready=lambda: Task.objects.filter(name=probe).exists(),
        start_timeout=90,
    ):
        thread = threading.Thread(target=sweeper, daemon=True)
        thread.start()
        for n in range(2):
            with tenant_context(tenant):
                incident = incidents.open_incident(project=project, title=f"faults {n}")
            opened_at[incident.pk] = time.monotonic()
            time.sleep(1.0)
        deadline = time.monotonic() + 120

        def settled() -> bool:
            with tenant_context(tenant):
                rows = Notification.objects.filter(alert__rule=rule)
                return rows.count() == 10 and not rows.exclude(status__in=("done", "failed"))

        while not db_retry(settled) and time.monotonic() < deadline:
            time.sleep(0.5)
        stop.set()
        thread.join(timeout=30)

    part_one: dict[str, list] = defaultdict(list)
    with tenant_context(tenant):
        for row in Notification.objects.filter(alert__rule=rule).prefetch_related("attempts_log"):
            name = name_of[row.channel_id]
            tries = list(row.attempts_log.order_by("number"))
            gaps = [round((b.at - a.at).total_seconds(), 1) for a, b in pairwise(tries)]
            latency = (
                (row.finished_at - row.created_at).total_seconds() if row.finished_at else None
            )
            item = {
                "status": row.status, "attempts": row.attempts, "tries": len(tries),
                "codes": [t.response_code for t in tries], "gaps": gaps,
                "detail": tries[-1].detail if tries else "", "error": row.error[:80],
                "latency": round(latency, 2) if latency is not None else None,
            }  # fmt: skip
            part_one[name].append(item)
            expect = {"healthy": "done", "429": "done"}.get(name, "failed")
            if row.status != expect:
                problems.append(f"{name} {row.pk}: {row.status}, expected {expect}: {item}")
                continue
            if expect == "failed":
                if len(tries) != MAX_ATTEMPTS or row.attempts != MAX_ATTEMPTS:
                    problems.append(f"{name} {row.pk}: {len(tries)} tries, {row.attempts} claims")
                wanted = [RETRY_SECONDS * 4**i for i in range(len(gaps))]
                if any(gap < want - 0.3 for gap, want in zip(gaps, wanted, strict=True)):
                    problems.append(f"{name} {row.pk}: gaps {gaps} shorter than backoff {wanted}")
                if not row.error:
                    problems.append(f"{name} {row.pk}: failed without a reason in the log")
            if name == "429" and (len(tries) != 2 or gaps[0] < 2.0 - 0.3):
                problems.append(f"429 {row.pk}: {len(tries)} tries, gaps {gaps} (Retry-After 2)")
            if name == "healthy" and (latency is None or latency > HEALTHY_WITHIN):
                problems.append(f"healthy {row.pk}: delivered after {latency} s")
    for name, endpoint in endpoints.items():
        ids = Counter(h.get("webhook-id") or b[:80] for _, h, b in endpoint.requests)
        if name == "500" and sorted(ids.values()) != [MAX_ATTEMPTS, MAX_ATTEMPTS]:
            problems.append(f"500 receiver: tries per webhook-id {dict(ids)}")
        if name == "healthy" and len(endpoint.requests) != 2:
            problems.append(f"healthy receiver got {len(endpoint.requests)} requests, not 2")
        endpoint.close()

    # --- 2. kill -9 mid-delivery ----------------------------------------------------------------
    from standardwebhooks.webhooks import Webhook

    from apps.jobs.lifecycle import STALE_AFTER

    pd = Endpoint(ok(0.6))
    hook = Endpoint(ok(0.6))
    count = int(os.environ.get("PROVE_ALERT_INCIDENTS", "6"))
    with tenant_context(tenant):
        project2, _ = Project.objects.get_or_create(slug="prove-kill", defaults={"name": "kill"})
        pd_channel, _ = services.create_channel(
            project=project2, kind="pagerduty", name="pd", routing_key="K" * 32,
            url=f"{pd.url}/v2/enqueue",
        )  # fmt: skip
        hook_channel, secret = services.create_channel(
            project=project2, kind="webhook", name="hook", url=f"{hook.url}/in"
        )
        rule2 = AlertRule.objects.create(
            project=project2, name="kill", event=AlertRule.Event.INCIDENT_OPENED, group_seconds=0
        )
        rule2.channels.set([pd_channel, hook_channel])
        for n in range(count):
            incidents.open_incident(project=project2, title=f"kill {n}")
        channel_of = dict(
            Notification.objects.filter(alert__rule=rule2).values_list("pk", "channel_id")
        )
    pks = sorted(channel_of)
    env = worker_env()
    log_path = OUT / "alerts-faults-worker.log"
    log_path.write_bytes(b"")
    kills: Counter[str] = Counter()
    deliveries = 0

    def status(pk: int) -> str:
        with tenant_context(tenant):
            return Notification.objects.values_list("status", flat=True).get(pk=pk)

    for pk in pks:
        endpoint = pd if channel_of[pk] == pd_channel.pk else hook
        plan = rng.sample(["startup", "in-call", "after-answer"], k=rng.choice([1, 2]))
        for _ in range(12):
            action = plan.pop(0) if plan else "finish"
            seen, answered = len(endpoint.requests), endpoint.answered
            with log_path.open("ab") as out:
                proc = subprocess.Popen(
                    [sys.executable, "-c", RUNNER, tenant.schema_name, DELIVER, str(pk)],
                    cwd=django_settings.BASE_DIR, env=env, stdout=out, stderr=out,
                )  # fmt: skip
            deliveries += 1
            deadline = time.monotonic() + 30
            if action == "startup":
                time.sleep(rng.uniform(0.05, 1.0))
            elif action == "in-call":
                while len(endpoint.requests) == seen and time.monotonic() < deadline:
                    time.sleep(0.01)
                time.sleep(rng.uniform(0.0, 0.4))
            elif action == "after-answer":
                while endpoint.answered == answered and time.monotonic() < deadline:
                    time.sleep(0.002)
                time.sleep(rng.uniform(0.0, 0.01))
            if action != "finish" and proc.poll() is None:
                proc.send_signal(signal.SIGKILL)
                kills[action] += 1
            proc.wait(timeout=60)
            if status(pk) in ("done", "failed"):
                break
            with tenant_context(tenant):  # the killed worker's heartbeat, aged
                Notification.objects.filter(pk=pk, status="running").update(
                    heartbeat_at=timezone.now() - STALE_AFTER - timedelta(seconds=1)
                )

    with tenant_context(tenant):
        rows = list(Notification.objects.filter(pk__in=pks).select_related("alert"))
    raw = {"pagerduty": len(pd.requests), "webhook": len(hook.requests)}
    received_pd: Counter[tuple] = Counter()
    for _, _headers, body in pd.requests:
        event = json.loads(body)
        received_pd[(event["dedup_key"], event["event_action"])] += 1
    received_hook: Counter[str] = Counter()
    for _, headers, body in hook.requests:
        try:
            Webhook(secret).verify(body, headers)
        except Exception as exc:
            problems.append(f"webhook signature refused: {exc}")
        received_hook[headers["webhook-id"]] += 1
    for row in rows:
        if row.status != "done":
            problems.append(f"kill: notification {row.pk} ended {row.status}: {row.error[:100]}")
        if row.channel_id == pd_channel.pk:
            if received_pd[(row.alert.dedup_key, "trigger")] < 1:
                problems.append(f"kill: PagerDuty never got {row.alert.dedup_key}")
        elif received_hook[row.key] < 1:
            problems.append(f"kill: the webhook never got {row.key}")
    once_pd = len(received_pd) == len([r for r in rows if r.channel_id == pd_channel.pk])
    once_hook = len(received_hook) == len([r for r in rows if r.channel_id == hook_channel.pk])
    if not (once_pd and once_hook):
        problems.append(f"kill: distinct messages pd {len(received_pd)}, hook {len(received_hook)}")
    extra = sum(received_pd.values()) - len(received_pd)
    extra += sum(received_hook.values()) - len(received_hook)
    pd.close()
    hook.close()
    elapsed = time.monotonic() - started

    passed = not problems and sum(kills.values()) >= len(pks) // 2
    write_result(
        "alerts_faults",
        what="alert deliveries: receivers down / 500 / 429 Retry-After / slower than the"
        " timeout beside a healthy one (real qcluster); worker SIGKILLed mid-delivery",
        how_many=f"2 incidents × 5 channels, {MAX_ATTEMPTS} tries each for the failing ones;"
        f" healthy delivered in ≤ {max((i['latency'] or 0) for i in part_one['healthy']):.1f} s;"
        f" {len(pks)} PagerDuty/webhook messages, {deliveries} deliveries,"
        f" {sum(kills.values())} SIGKILLs ({', '.join(f'{n} {k}' for k, n in kills.items())}),"
        f" {extra} re-sends absorbed by dedup_key / webhook-id; {elapsed:.0f} s (seed {seed})",
        broke="0" if not problems else "; ".join(problems)[:500],
        ok=passed,
        receivers=dict(part_one),
        raw_requests=raw,
        problems=problems,
    )
    assert passed, problems
