"""A tenant flooding its quota: it gets 429s, another tenant's latency stays flat.

    python prove/stream_flood.py   (or `make prove PROVE=stream_flood`; env: PROVE_FLOOD_SECONDS)

The app runs under gunicorn (2 workers × 4 threads) with a per-tenant quota of
STREAM_TENANT_RATE=1,000 records/s (burst 2,000). Tenant alpha ships steadily well under its
quota (batches of 50 records, 10 a second) for a baseline; then tenant beta floods from 6
threads of another process: 40 requests a second of 500 records each (20,000 records/s, 20×
its quota), ignoring `Retry-After`, while alpha carries on. (An unbounded closed-loop flood
takes the machine's 2 cores whatever a refusal costs; that is a job for a proxy in front.) Pass: beta is answered 429 with a `Retry-After` once its burst is spent,
alpha is never refused, and alpha's p50 and p95 latency during the flood stay within
2× (+ 25 ms) of its baseline; nothing beta was refused is in the spool.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path

if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    os.environ.setdefault("AIOPS_TEST_DB", "test_prove_streams")
    from prove.common import run_module

    sys.exit(run_module(__file__, "stream_flood"))

import pytest
from django_tenants.utils import tenant_context

from prove.common import write_result
from prove.stream_common import Gunicorn, Shipper, make_token, percentile

pytestmark = pytest.mark.django_db(transaction=True)

SECONDS = int(os.environ.get("PROVE_FLOOD_SECONDS", "30"))
RATE, BURST = 1000, 2000
FLOODERS = 6
FLOOD_RPS = int(os.environ.get("PROVE_FLOOD_RPS", "40"))  # × 500 records: 20× beta's quota


FLOOD = r"""
import http.client, json, sys, threading, time
port, token, seconds, threads = int(sys.argv[1]), sys.argv[2], float(sys.argv[3]), int(sys.argv[4])
every = threads / float(sys.argv[5])  # seconds between one thread's requests
def bodies(k):  # made before the flood: sending costs the flooder little
    out = []
    for n in range(400):
        lines = [json.dumps({"msg": f"flood {k}-{n}-{i}", "level": "info", "service": "flood"})
                 for i in range(500)]
        out.append(("\n".join(lines) + "\n").encode())
    return out
answers, missing, accepted = {}, [0], [0]
lock = threading.Lock()
def run(k):
    pool, n = bodies(k), 0
    go.wait()
    start = time.monotonic()
    end = start + seconds
    while time.monotonic() < end:
        time.sleep(max(0.0, start + n * every - time.monotonic()))  # open loop: a fixed rate
        body = pool[n % len(pool)]
        n += 1
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            conn.request("POST", "/ingest/http", body=body, headers={
                "Authorization": f"Bearer {token}", "Content-Type": "application/x-ndjson"})
            response = conn.getresponse()
            response.read()
            status, retry = response.status, response.getheader("Retry-After", "")
            conn.close()
        except OSError as exc:
            status, retry = type(exc).__name__, ""
        with lock:
            answers[str(status)] = answers.get(str(status), 0) + 1
            if status == 429 and not retry.isdigit():
                missing[0] += 1
            if status == 200:
                accepted[0] += 500
go = threading.Event()
workers = [threading.Thread(target=run, args=(k,)) for k in range(threads)]
for w in workers:
    w.start()
print("ready", flush=True)
sys.stdin.readline()
go.set()
for w in workers:
    w.join()
print(json.dumps({"answers": answers, "missing": missing[0], "accepted": accepted[0]}), flush=True)
"""


def test_stream_flood():
    from apps.streams import spool
    from apps.streams.models import SpoolBatch
    from conftest import ensure_tenant

    alpha_token, _ = make_token("alpha", "prove-flood", "steady")
    beta_token, beta_project = make_token("beta", "prove-flood", "flood")
    beta = ensure_tenant("beta")
    web = Gunicorn(
        workers=2, threads=4, STREAM_TENANT_RATE=str(RATE), STREAM_TENANT_BURST=str(BURST)
    )
    steady = Shipper(web.port, alpha_token, "steady", size=50, pause=0.1)
    stop_steady, give_up = threading.Event(), threading.Event()
    steady_thread = threading.Thread(target=steady.run, args=(stop_steady, give_up))
    # the flood comes from another process, so the steady shipper's timings are its own
    flood = subprocess.Popen(
        [sys.executable, "-c", FLOOD, str(web.port), beta_token, str(SECONDS), str(FLOODERS),
         str(FLOOD_RPS)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert flood.stdout.readline().strip() == "ready"
        steady_thread.start()
        time.sleep(SECONDS * 2 / 3)
        flood_started = time.monotonic()
        flood.stdin.write("go\n")
        flood.stdin.flush()
        result = json.loads(flood.stdout.readline())
        flood_ended = time.monotonic()
        flood.wait(timeout=60)
        time.sleep(2)
        stop_steady.set()
        steady_thread.join(timeout=60)
        give_up.set()
    finally:
        if flood.poll() is None:
            flood.kill()
        stop_steady.set()
        give_up.set()
        web.stop()

    warmup = 2.0  # the first requests after start-up and the flood's first second
    base = [
        s
        for t, s, _ in steady.latencies
        if t < flood_started and t > steady.latencies[0][0] + warmup
    ]
    during = [s for t, s, _ in steady.latencies if flood_started + 1 < t < flood_ended]
    refused_alpha = {k: v for k, v in steady.statuses.items() if k != "200"}
    answers: Counter[str] = Counter(result["answers"])
    missing, accepted = result["missing"], result["accepted"]
    with tenant_context(beta):
        payloads = SpoolBatch.objects.filter(project_id=beta_project.pk).values_list("payload")
        stored_beta = sum(len(spool.read(payload)) for (payload,) in payloads)
    b50, b95 = percentile(base, 0.5), percentile(base, 0.95)
    d50, d95 = percentile(during, 0.5), percentile(during, 0.95)
    flood_requests = sum(answers.values())
    limit = BURST + RATE * (flood_ended - flood_started + 2)
    problems = []
    if refused_alpha:
        problems.append(f"alpha refused: {refused_alpha}")
    if answers["429"] < flood_requests * 0.8:
        problems.append(f"beta got only {answers['429']} 429s of {flood_requests}: {dict(answers)}")
    if missing:
        problems.append(f"{missing} 429s without a Retry-After")
    if accepted > limit:
        problems.append(f"beta got {accepted} records in, over its quota's {limit:.0f}")
    if stored_beta != accepted:
        problems.append(f"beta: {accepted} records accepted but {stored_beta} in the spool")
    if d50 > 2 * b50 + 0.025 or d95 > 2 * b95 + 0.025:
        problems.append(
            f"alpha's latency rose: p50 {b50 * 1000:.0f} → {d50 * 1000:.0f} ms,"
            f" p95 {b95 * 1000:.0f} → {d95 * 1000:.0f} ms"
        )
    print(
        f"  alpha baseline p50 {b50 * 1000:.1f} ms p95 {b95 * 1000:.1f} ms ({len(base)} requests)"
    )
    print(
        f"  alpha in flood p50 {d50 * 1000:.1f} ms p95 {d95 * 1000:.1f} ms ({len(during)} requests)"
    )
    print(f"  beta answers {dict(answers)}; {accepted} records accepted, {stored_beta} stored")
    write_result(
        "stream_flood",
        what=f"tenant beta floods 20× its stream quota ({RATE:,}/s, burst {BURST:,}): {FLOOD_RPS}"
        " req/s × 500 records ignoring Retry-After; tenant alpha ships steadily",
        how_many=f"{flood_requests:,} flood requests in {flood_ended - flood_started:.0f} s"
        f" ({answers['429']:,} × 429); alpha p50 {b50 * 1000:.0f} → {d50 * 1000:.0f} ms,"
        f" p95 {b95 * 1000:.0f} → {d95 * 1000:.0f} ms",
        broke="0" if not problems else "; ".join(problems)[:500],
        ok=not problems,
        beta_answers=dict(answers),
        alpha_statuses=steady.statuses,
        alpha_baseline_ms=[round(b50 * 1000, 1), round(b95 * 1000, 1)],
        alpha_flood_ms=[round(d50 * 1000, 1), round(d95 * 1000, 1)],
    )
    assert not problems, problems
