"""Faults for the analysis and PDF jobs, and the 503 page while PostgreSQL restarts.

    python prove/jobs_faults.py      (env: PROVE_JOB_SEED; AIOPS_PG_DIR/AIOPS_PG_PORT)

Runs on a private PostgreSQL cluster of its own (default /tmp/pg-outage on port 54341, made by
scripts/dev-env.sh): it restarts that cluster and never the shared dev cluster in .pg/.

Jobs: *Analyze* is requested through the service the view calls, against the fake
OpenAI-compatible server of the analysis tests on 127.0.0.1 (answers take 1–3 s) and with the
local provider; *PDF* exports of the incident's postmortem are requested with inline rendering
off, so each is a job. Each job runs in a subprocess worker (`run_tenant_task`, what django-q2
runs), is SIGKILLed at random moments (start-up, claim, evidence, provider call, render,
store) and delivered again, and PostgreSQL is restarted with `pg_ctl restart -m fast` and
`-m immediate` while a worker is mid-job. A worker that exits by itself must leave its job
finished: django-q2 acknowledges failed tasks (`ack_failures`), so nothing would deliver it
again. Pass: every job done within its retry budget, exactly one AnalysisRun / PdfExport per
request, at most one provider call per delivery, every stored PDF whole (sha256, size,
%PDF-…%%EOF) and served only when done (the download URL is probed after every delivery).

Outage: during every restart, pages of the live server (tenant page, incident page, an HTMX
partial, the public login page, /healthz) are fetched without pause: each answer must be the
page itself or the friendly 503 (never a 500), and every page must be served again after.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import random
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections import Counter
from datetime import timedelta
from pathlib import Path

if __name__ == "__main__":
    if os.environ.get("AIOPS_PROVE_PRIVATE_PG") != "1":  # re-run on a private cluster
        env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "AIOPS_PG_DATA")}
        env.setdefault("AIOPS_PG_DIR", "/tmp/pg-outage")  # noqa: S108
        env.setdefault("AIOPS_PG_PORT", "54341")
        env["AIOPS_PROVE_PRIVATE_PG"] = "1"
        env.setdefault("AIOPS_TEST_DB", "test_prove_jobs")
        script = '. scripts/dev-env.sh && exec python prove/jobs_faults.py "$@"'
        os.chdir(Path(__file__).resolve().parents[1])
        os.execvpe("bash", ["bash", "-c", script, "jobs_faults", *sys.argv[1:]], env)  # noqa: S606
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from prove.common import run_module

    sys.exit(run_module(__file__, "jobs_faults"))

import pytest
from django.conf import settings as django_settings
from django.utils import timezone
from django_tenants.utils import tenant_context

from prove.common import OUT, ROOT, db_retry, pg_ctl_restart, write_result

pytestmark = pytest.mark.django_db(transaction=True)

SAMPLE = ROOT / "samples" / "checkout-db-connections.zip"
ANALYSIS_MAX_ATTEMPTS = 6  # Q_MAX_ATTEMPTS given to the workers
RUNNER = """
import sys, django
django.setup()
from apps.tenants.jobs import run_tenant_task
print("result:", run_tenant_task(sys.argv[1], sys.argv[2], int(sys.argv[3])), flush=True)
"""
# (kind, per-request plans): "kill" = SIGKILL at a random moment, "pg-<mode>" = restart
# PostgreSQL mid-job; after the plan the job is delivered until it ends.
PLANS = {
    "analysis-openai": [["kill", "pg-fast", "kill"], ["kill", "kill"], ["kill", "kill"]],
    "analysis-local": [["kill", "pg-immediate", "kill"], ["kill", "kill"]],
    "pdf": [["kill", "pg-fast"], ["pg-immediate", "kill"], ["kill", "kill"]],
}
# seconds after a delivery claimed its job within which a mid-job SIGKILL lands (job length)
MID_JOB = {"analysis-openai": 2.5, "analysis-local": 0.4, "pdf": 3.0}
MIN_KILLS = 10
TASKS = {
    "analysis-openai": "apps.analysis.tasks.analyze_incident",
    "analysis-local": "apps.analysis.tasks.analyze_incident",
    "pdf": "apps.reports.tasks.render_pdf",
}


def _db(fn, *, attempts: int = 120):
    return db_retry(fn, attempts=attempts)


def _pg_restart(mode: str) -> float:
    pg_bin, pg_data = os.environ.get("AIOPS_PG_BIN"), os.environ.get("AIOPS_PG_DATA")
    if not pg_bin or not pg_data or os.environ.get("AIOPS_PROVE_PRIVATE_PG") != "1":
        pytest.fail("run as `python prove/jobs_faults.py`: it restarts a private cluster only")
    shared = [(ROOT / ".pg").resolve()]
    if any(Path(pg_data).resolve().is_relative_to(p) for p in shared) or "aiops-pg-" in pg_data:
        pytest.fail(f"refusing to restart the shared dev cluster ({pg_data})")
    return pg_ctl_restart(pg_bin, pg_data, mode)


class OutageLog(logging.Handler):
    """Collects aiops.outage's one-line warnings (the live server runs in this process)."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.kinds: Counter[str] = Counter()

    def emit(self, record: logging.LogRecord) -> None:
        text = record.getMessage().lower()
        for needle, kind in (
            ("refused", "connection refused"),
            ("starting up", "starting up"),
            ("not yet accepting", "not yet accepting connections"),
            ("shutting down", "shutting down"),
            ("administrator command", "terminated by administrator"),
            ("closed", "connection closed"),
        ):
            if needle in text:
                self.kinds[kind] += 1
                return
        self.kinds["other: " + text[-80:]] += 1


class Prober:
    """Fetches pages of the live server without pause while PostgreSQL restarts."""

    def __init__(self, base: str, cookie: str, pages: list[tuple[str, bool]]) -> None:
        self.base, self.cookie, self.pages = base, cookie, pages
        self.counts: Counter[str] = Counter()
        self.bad: list[str] = []
        self.recovery: list[float] = []

    def fetch(self, path: str, htmx: bool) -> tuple[int, dict, bytes]:
        request = urllib.request.Request(self.base + path, headers={"Cookie": self.cookie})  # noqa: S310
        if htmx:
            request.add_header("HX-Request", "true")
        try:
            with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310
                return response.status, dict(response.headers), response.read()
        except urllib.error.HTTPError as exc:
            return exc.code, dict(exc.headers), exc.read()

    def judge(self, path: str, htmx: bool) -> str:
        try:
            status, headers, body = self.fetch(path, htmx)
        except OSError as exc:  # the live server itself must stay up
            self.bad.append(f"{path}: no answer ({exc})")
            return "bad"
        text = body.decode("utf-8", "replace")
        if status == 200:
            return "ok"
        friendly = (
            status == 503
            and headers.get("Retry-After")
            and 'data-testid="outage-message"' in text
            and "Traceback" not in text
            and (("<html" not in text) if htmx else ("Back in a moment" in text))
        )
        if friendly:
            return "friendly-503"
        self.bad.append(f"{path}: HTTP {status} {text[:120]!r}")
        return "bad"

    def during(self, restart) -> tuple[float, dict]:
        """Run ``restart()`` while fetching; then fetch until every page is served again."""
        stop = threading.Event()
        seen: Counter[str] = Counter()

        def loop() -> None:
            while not stop.is_set():
                for path, htmx in self.pages:
                    seen[self.judge(path, htmx)] += 1

        pollers = [threading.Thread(target=loop) for _ in range(2)]
        for poller in pollers:
            poller.start()
        time.sleep(0.3)
        try:
            took = restart()
        finally:
            stop.set()
            for poller in pollers:
                poller.join()
        back = time.monotonic()
        waiting = list(self.pages)
        while waiting and time.monotonic() - back < 60:
            path, htmx = waiting[0]
            verdict = self.judge(path, htmx)
            seen[verdict] += 1
            if verdict == "ok":
                waiting.pop(0)
            else:
                time.sleep(0.2)
        if waiting:
            self.bad.append(f"not served again within 60 s: {[p for p, _ in waiting]}")
        self.recovery.append(time.monotonic() - back)
        self.counts.update(seen)
        return took, dict(seen)


def _renderers() -> list[int]:
    """Pids of PDF renderer children still running (orphans of killed workers)."""
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                cmdline = (entry / "cmdline").read_bytes()
            except OSError:
                continue
            if b"apps.core.render.pdf" in cmdline:
                pids.append(int(entry.name))
    return pids


def _answer(pack) -> str:
    first = pack.items[0]
    quote = " ".join(first.text.split())[-40:].strip()
    claim = {"text": "The first error.", "kind": "fact", "evidence": [first.id], "quote": quote}
    return json.dumps(
        {
            "summary": [claim],
            "hypotheses": [
                {
                    "rank": 1,
                    "category": "db-too-many-connections",
                    "confidence": "high",
                    "statement": {"text": "It failed.", "evidence": [first.id], "quote": quote},
                }
            ],
            "actions": [{"text": "Look again.", "kind": "action"}],
        }
    )


def test_jobs_faults(live_server, client, personas, settings):
    from apps.analysis import services as analysis
    from apps.analysis.models import AISettings, AnalysisRun
    from apps.core.tests.analysis.fake_llm import FakeLLM, Reply, completion
    from apps.incidents.models import Incident, Project
    from apps.ingestion import services as ingestion
    from apps.jobs.lifecycle import STALE_AFTER
    from apps.reports import services as reports
    from apps.reports.models import PdfExport
    from conftest import test_database_url

    seed = int(os.environ.get("PROVE_JOB_SEED", str(time.time_ns() % 10**6)))
    rng = random.Random(seed)
    tenant = personas.alpha
    settings.REPORTS_PDF_INLINE_MAX_LINES = 0  # every export is a job
    log_path = OUT / "jobs-faults-worker.log"
    OUT.mkdir(parents=True, exist_ok=True)
    log_path.write_bytes(b"")
    outage_log = OutageLog()
    logging.getLogger("aiops.outage").addHandler(outage_log)
    fake = FakeLLM().start()

    with tenant_context(tenant):
        project, _ = Project.objects.get_or_create(slug="prove-jobs", defaults={"name": "jobs"})
        incident = Incident.objects.filter(project=project, title="prove jobs").first()
        if incident is None:
            incident = ingestion.create_incident(
                project=project,
                title="prove jobs",
                uploads=[ingestion.upload_from_path(SAMPLE)],
                run_inline=True,
            )
            for job in incident.jobs.all():
                ingestion.run_ingest(job.pk)
        report = reports.create_draft(incident=incident, user=personas.member)
        answer = _answer(analysis.build_pack(incident))
        runs_before = set(
            AnalysisRun.objects.filter(incident=incident).values_list("pk", flat=True)
        )
        exports_before = set(PdfExport.objects.filter(report=report).values_list("pk", flat=True))

    client.force_login(personas.member)
    cookie = f"sessionid={client.cookies['sessionid'].value}"
    prefix = tenant.url_prefix
    pm = f"{prefix}incidents/{incident.pk}/postmortem/"
    prober = Prober(
        live_server.url,
        cookie,
        [
            (prefix, False),
            (f"{prefix}incidents/{incident.pk}/", False),
            (f"{prefix}incidents/{incident.pk}/events/", True),  # an HTMX partial
            ("/login/", False),
            ("/healthz", False),
        ],
    )
    worker_env = {
        **os.environ,
        "DATABASE_URL": test_database_url(),
        "DJANGO_SETTINGS_MODULE": "aiops.settings_test",
        "Q_MAX_ATTEMPTS": str(ANALYSIS_MAX_ATTEMPTS),
    }

    def worker(task: str, pk: int) -> subprocess.Popen:
        with log_path.open("ab") as out:
            return subprocess.Popen(
                [sys.executable, "-c", RUNNER, tenant.schema_name, task, str(pk)],
                cwd=django_settings.BASE_DIR,
                env=worker_env,
                stdout=out,
                stderr=out,
            )

    def state(kind: str, pk: int) -> tuple[str, int]:
        model = PdfExport if kind == "pdf" else AnalysisRun

        def read():
            with tenant_context(tenant):
                return model.objects.filter(pk=pk).values_list("status", "attempts").get()

        return _db(read)

    def age(kind: str, pk: int) -> None:
        """A killed worker's job looks stale to the next delivery (as after its heartbeat
        stopped for apps.jobs.lifecycle.STALE_AFTER): one rule for every kind of job."""
        model = PdfExport if kind == "pdf" else AnalysisRun

        def write():
            with tenant_context(tenant):
                model.objects.filter(pk=pk, status="running").update(
                    heartbeat_at=timezone.now() - STALE_AFTER - timedelta(seconds=1)
                )

        _db(write)

    served_bad: list[str] = []

    def probe_download(pk: int) -> None:
        """Only a done export is served, and then whole."""
        status, _headers, body = prober.fetch(f"{pm}pdf/download/?export={pk}", False)
        current = state("pdf", pk)[0]
        if status == 200:
            whole = body.startswith(b"%PDF-") and body.rstrip().endswith(b"%%EOF")
            if current != PdfExport.Status.DONE or not whole:
                served_bad.append(
                    f"export {pk} ({current}) served {len(body)} bytes, whole={whole}"
                )
        elif status != 404 or current == PdfExport.Status.DONE:
            served_bad.append(f"export {pk} ({current}): download HTTP {status}")

    kills = 0
    restarts: list[str] = []
    problems: list[str] = []
    runs: list[dict] = []
    started = time.monotonic()
    phases: Counter[str] = Counter()  # where the SIGKILLs landed
    carried: list[str] = []  # a restart planned for a job that finished first: the next job's
    schedule = [(kind, plan) for kind, plans in PLANS.items() for plan in plans]
    while schedule:
        kind, plan = schedule.pop(0)

        def configure(kind=kind) -> None:
            with tenant_context(tenant):
                AISettings.objects.all().delete()
                if kind == "analysis-openai":
                    analysis.save_ai_settings(
                        provider=AISettings.Provider.OPENAI,
                        base_url=fake.base_url,
                        model="fake-model",
                        timeout_seconds=10,
                        max_tokens=800,
                        price_per_1k_tokens=None,
                        local_endpoints_only=True,
                        new_api_key="sk-prove-jobs-0123456789",
                    )

        _db(configure)
        plan = carried + list(plan)
        carried = []

        def request(kind=kind) -> int:
            with tenant_context(tenant):
                if kind == "pdf":
                    return reports.request_pdf(report=report, user=personas.member).pk
                return analysis.request_analysis(incident=incident, user=personas.member).pk

        pk = _db(request)
        run = {"kind": kind, "pk": pk, "kills": 0, "pg": [], "exits": []}
        runs.append(run)
        calls_before = len(fake.chat_bodies())
        while True:
            action = plan.pop(0) if plan else "finish"
            fake.default = Reply(200, completion(answer), hang=rng.uniform(1.0, 3.0))
            attempts_before = state(kind, pk)[1]
            proc = worker(TASKS[kind], pk)

            def wait_claimed(proc=proc, attempts_before=attempts_before, pk=pk, kind=kind):
                deadline = time.monotonic() + 30
                while proc.poll() is None and time.monotonic() < deadline:
                    if state(kind, pk)[1] > attempts_before:
                        return
                    time.sleep(0.02)

            if action == "kill":
                if rng.random() < 0.3:  # anywhere, start-up included
                    time.sleep(rng.uniform(0.2, 3.0))
                else:  # mid-job: after this delivery claimed the job
                    wait_claimed()
                    time.sleep(rng.uniform(0.0, MID_JOB[kind]))
                if proc.poll() is None:
                    proc.send_signal(signal.SIGKILL)
                    kills += 1
                    run["kills"] += 1
                    proc.wait(timeout=60)
                    after, finished = state(kind, pk)[1] > attempts_before, state(kind, pk)[0]
                    phase = "after claim" if after else "before claim"
                    phases[phase if finished not in ("done", "failed") else "after store"] += 1
                run["exits"].append(proc.wait(timeout=60))
            elif action.startswith("pg-"):
                wait_claimed()
                time.sleep(rng.uniform(0.05, min(1.2, MID_JOB[kind] * 0.6)))
                if proc.poll() is None:
                    mode = action[3:]
                    took, seen = prober.during(lambda mode=mode: _pg_restart(mode))
                    restarts.append(mode)
                    run["pg"].append({"mode": mode, "seconds": round(took, 1), "pages": seen})
                else:
                    carried.append(action)  # finished too soon: restart during the next
                run["exits"].append(proc.wait(timeout=300))
            else:
                run["exits"].append(proc.wait(timeout=300))
            if kind == "pdf":
                probe_download(pk)
            status = state(kind, pk)[0]
            if status in ("done", "failed"):
                carried.extend(a for a in plan if a.startswith("pg-"))
                break
            if action != "kill" or run["exits"][-1] != -signal.SIGKILL:
                problems.append(
                    f"{kind} {pk}: worker exited {run['exits'][-1]} leaving it {status}"
                    " (django-q2 acks failed tasks: nothing would deliver it again)"
                )
                break
            if len(run["exits"]) > 12:
                problems.append(f"{kind} {pk}: not finished after 12 deliveries")
                break
            age(kind, pk)
        if kind == "analysis-openai":
            run["provider_calls"] = len(fake.chat_bodies()) - calls_before
        print(f"  {run}")
        if not schedule and (kills < MIN_KILLS or carried) and len(runs) < 16:
            schedule.append(("analysis-openai" if len(runs) % 2 else "pdf", ["kill", "kill"]))

    elapsed = time.monotonic() - started

    # --- verdicts -----------------------------------------------------------------------------
    def check() -> None:
        with tenant_context(tenant):
            pks = {r["pk"] for r in runs}
            new_runs = set(
                AnalysisRun.objects.filter(incident=incident).values_list("pk", flat=True)
            )
            new_runs -= runs_before
            new_exports = set(PdfExport.objects.filter(report=report).values_list("pk", flat=True))
            new_exports -= exports_before
            requested = {r["pk"] for r in runs if r["kind"] != "pdf"}
            if new_runs != requested:
                problems.append(
                    f"analysis rows {sorted(new_runs)} for requests {sorted(requested)}"
                )
            requested = {r["pk"] for r in runs if r["kind"] == "pdf"}
            if new_exports != requested:
                problems.append(
                    f"export rows {sorted(new_exports)} for requests {sorted(requested)}"
                )
            for r in runs:
                if r["kind"] == "pdf":
                    export = PdfExport.objects.get(pk=r["pk"])
                    r.update(status=export.status, attempts=export.attempts)
                    if export.status != PdfExport.Status.DONE:
                        problems.append(f"export {export.pk} {export.status}: {export.error[:150]}")
                        continue
                    pdf = bytes(export.pdf)
                    whole = pdf.startswith(b"%PDF-") and pdf.rstrip().endswith(b"%%EOF")
                    if not whole or export.size != len(pdf):
                        problems.append(f"export {export.pk}: stored PDF is not whole")
                    if export.sha256 != hashlib.sha256(pdf).hexdigest():
                        problems.append(f"export {export.pk}: sha256 differs from the stored PDF")
                    probe_download(export.pk)
                else:
                    run = AnalysisRun.objects.get(pk=r["pk"])
                    r.update(status=run.status, attempts=run.attempts)
                    if run.status != AnalysisRun.Status.DONE:
                        problems.append(f"analysis {run.pk} {run.status}: {run.error[:150]}")
                    if run.attempts > ANALYSIS_MAX_ATTEMPTS:
                        problems.append(f"analysis {run.pk}: {run.attempts} attempts")
                    if r["kind"] == "analysis-openai":
                        # a delivery calls the model at most twice (answer, one repair)
                        if r["provider_calls"] > 2 * len(r["exits"]):
                            problems.append(f"analysis {run.pk}: {r['provider_calls']} calls")
                        if run.status == AnalysisRun.Status.DONE and run.provider != "openai":
                            problems.append(f"analysis {run.pk}: provider {run.provider}")
            assert pks

    _db(check)
    fake.stop()
    logging.getLogger("aiops.outage").removeHandler(outage_log)
    deadline = time.monotonic() + 90
    while _renderers() and time.monotonic() < deadline:
        time.sleep(1)
    orphans = _renderers()
    if orphans:
        problems.append(f"{len(orphans)} PDF renderer processes left running: {orphans}")
    problems.extend(served_bad)
    for r in runs:
        print(f"  {r}")

    ok = not problems and kills >= 10 and sorted(set(restarts)) == ["fast", "immediate"]
    by_kind = Counter(r["kind"] for r in runs)
    restart_text = ", ".join(f"pg_ctl restart -m {m}" for m in restarts)
    write_result(
        "jobs_faults",
        what="analysis (fake OpenAI-compatible server + local) and PDF jobs: SIGKILL worker,"
        " restart PostgreSQL mid-job",
        how_many=f"{by_kind['analysis-openai']} + {by_kind['analysis-local']} analyses,"
        f" {by_kind['pdf']} PDFs, {kills} SIGKILLs"
        f" ({', '.join(f'{n} {p}' for p, n in phases.most_common())}), {restart_text},"
        f" {elapsed:.0f} s"
        f" (seed {seed})",
        broke="0" if not problems else "; ".join(problems)[:500],
        ok=ok,
        runs=runs,
        problems=problems,
        kill_phases=dict(phases),
    )
    outage_bad = prober.bad
    friendly = prober.counts["friendly-503"]
    outage_ok = not outage_bad and friendly > 0 and len(prober.recovery) == len(restarts) > 0
    kinds = ", ".join(f"{k} ×{n}" for k, n in outage_log.kinds.most_common())
    write_result(
        "outage",
        what="web pages during PostgreSQL restarts (tenant, incident, HTMX partial, login,"
        " /healthz on the live server)",
        how_many=f"{sum(prober.counts.values())} requests over {len(restarts)} restarts:"
        f" {prober.counts['ok']} served, {friendly} friendly 503 ({kinds or 'none'}),"
        f" {len(outage_bad)} other; served again {max(prober.recovery, default=0):.1f} s"
        " after each restart at worst",
        broke="0" if not outage_bad else "; ".join(outage_bad)[:500],
        ok=outage_ok,
        counts=dict(prober.counts),
        kinds=dict(outage_log.kinds),
        recovery_seconds=[round(s, 2) for s in prober.recovery],
    )
    assert ok, problems
    assert outage_ok, (outage_bad, dict(prober.counts))
