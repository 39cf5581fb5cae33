"""Tenant isolation at scale: three tenants with marker data, attacked through every object URL,
at least 100,000 interleaved requests against gunicorn, and the worker, cache, PDF and
LLM-prompt paths.

    python prove/isolation.py      (or `make prove`; env: PROVE_ISOLATION_REQUESTS,
                                    PROVE_ISOLATION_THREADS)

Tenants alpha and beta come from the root conftest; gamma is added here with the same marker
data (a marker project, a "shared" project, an incident whose only event carries the marker).
Every tenant also gets a local analysis, a postmortem and its PDF, and a "cache" incident whose
service name is the marker: its id, source id, event count and timestamps are the same in
every schema, so the workspace's aggregate cache keys differ only by the schema prefix.
Object ids repeat across schemas (every schema has an incident 1), so checks look at content:
a response leaks when it carries the marker of a tenant other than the one it was served for,
or any marker when the user is not a member of that tenant.

1. Worker: analysis jobs (OpenAI-compatible provider against a fake server on 127.0.0.1 that
   records every request body) and PDF jobs for the three tenants, interleaved on one real
   `qcluster` worker: every prompt and every PDF (pdftotext) carries its own tenant's marker only.
2. gunicorn (gthread: several workers × threads) on 127.0.0.1, personas signed in through the
   login form, PROVE_ISOLATION_REQUESTS (default 100,000) GETs interleaved across tenants from a
   thread pool: every tenant object URL with own, foreign, unknown and cache ids, with and
   without `HX-Request`, and sessions used on other tenants. 0 leaks, 0 5xx.
3. Every tenant object URL × every tenant's ids × `HX-Request` on/off × GET then POST, through
   Django's test client as each tenant's owner and as a non-member.
"""

from __future__ import annotations

import contextlib
import hashlib
import http.client
import itertools
import os
import random
import re
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlencode

if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from prove.common import run_module

    sys.exit(run_module(__file__, "isolation"))

import pytest
from django.conf import settings
from django.db import connection
from django_tenants.utils import tenant_context

from apps.tenants.tests.processes import running
from apps.tenants.tests.test_isolation import ROUTES, build_url, object_kwargs
from conftest import MARKERS, PASSWORD, ensure_tenant
from prove.common import write_result

pytestmark = pytest.mark.django_db(transaction=True)

GAMMA = "GAMMA-MARKER-3d5e"
SLUGS = ("alpha", "beta", "gamma")
REQUESTS = int(os.environ.get("PROVE_ISOLATION_REQUESTS", "100000"))
THREADS = int(os.environ.get("PROVE_ISOLATION_THREADS", "24"))
UNKNOWN = {
    "slug": "no-such-project",
    "incident_id": 987654,
    "source_id": 987654,
    "line": 1,
    "group_id": "0" * 16,
    "rule_id": "no.such.rule",
    "custom_id": 987654,
    "membership_id": 987654,
    "invitation_id": 987654,
}
JOBS_PER_TENANT = 6  # analysis jobs per tenant on the worker (plus half as many PDF jobs)


@pytest.fixture(scope="session")
def django_db_setup(django_db_setup, django_db_blocker):
    """The root conftest's alpha and beta, plus gamma with the same marker data."""
    from apps.incidents.models import Project
    from conftest import _marker_incident

    MARKERS.setdefault("gamma", GAMMA)  # object_kwargs() titles custom rules by it
    with django_db_blocker.unblock(), tenant_context(ensure_tenant("gamma")):
        Project.objects.get_or_create(
            slug="gamma-marker", defaults={"name": f"gamma-marker {GAMMA}"}
        )
        Project.objects.get_or_create(slug="shared", defaults={"name": f"shared {GAMMA}"})
        _marker_incident("gamma", GAMMA)


# --- marker checks ------------------------------------------------------------------------------

_pdf_texts: dict[str, str] = {}
_pdf_lock = threading.Lock()


def pdf_text(pdf: bytes) -> str:
    """pdftotext of a PDF, cached by digest (a load run serves the same few PDFs many times)."""
    digest = hashlib.sha256(pdf).hexdigest()
    with _pdf_lock:
        if digest in _pdf_texts:
            return _pdf_texts[digest]
    out = subprocess.run(["pdftotext", "-", "-"], input=pdf, capture_output=True, check=True)
    text = " ".join(out.stdout.decode("utf-8", "replace").split())
    with _pdf_lock:
        _pdf_texts[digest] = text
    return text


def foreign_markers(body: bytes, content_type: str, allowed: str | None) -> list[str]:
    """The markers in a response body other than `allowed` (PDFs are read as text)."""
    if content_type.startswith("application/pdf"):
        text = pdf_text(body)
        found = [m for m in MARKERS.values() if m in text]
    else:
        found = [m for m in MARKERS.values() if m.encode() in body]
    return [m for m in found if m != allowed]


# --- seed ---------------------------------------------------------------------------------------


def cache_incident_text(marker: str) -> str:
    """Events whose service name is the marker: the timeline (a cached aggregate) shows it."""
    return "".join(
        f"2024-01-15T14:{minute:02d}:{second:02d}Z ERROR {marker}: cache probe {minute}\n"
        for minute in range(3)
        for second in (0, 30)
    )


def seed(tenant) -> dict:
    """A local analysis, a postmortem with its PDF and the cache incident in `tenant`.
    Returns the ids (which must be the same in every schema) and the PDF's digest."""
    from apps.analysis import services as analysis
    from apps.analysis.models import AnalysisRun
    from apps.incidents.models import Incident, Project
    from apps.ingestion import services as ingestion
    from apps.reports import services as reports
    from apps.reports.models import PdfExport

    marker = MARKERS[tenant.slug]
    with tenant_context(tenant):
        incident = Incident.objects.get(title=f"incident {marker}")
        run = AnalysisRun.objects.create(incident=incident)
        assert analysis.execute_run(run.pk) == AnalysisRun.Status.DONE
        report = reports.create_draft(incident=incident)
        export = PdfExport.objects.create(report=report)
        assert reports.render_export(export.pk) == PdfExport.Status.DONE
        project, _ = Project.objects.get_or_create(slug="iso-cache", defaults={"name": "cache"})
        cache = ingestion.create_incident(
            project=project,
            title="cache probe",
            uploads=[ingestion.upload_from_text(cache_incident_text(marker), name="cache.log")],
            run_inline=True,
        )
        for job in cache.jobs.all():
            ingestion.run_ingest(job.pk)
        source = cache.sources.get()
        source.refresh_from_db()
        return {
            "incident": incident.pk,
            "report": report.pk,
            "cache_incident": cache.pk,
            "cache_source": (source.pk, source.event_count),
        }


def member(username: str, tenant, role: str):
    from django.contrib.auth import get_user_model

    from apps.tenants.models import Membership

    user, created = get_user_model().objects.get_or_create(username=username)
    if created:
        user.set_password(PASSWORD)
        user.save()
    Membership.objects.get_or_create(tenant=tenant, user=user, defaults={"role": role})
    return user


def id_sets(tenants, cache_incident: int | None = None) -> dict[str, dict]:
    """URL kwargs to request on every tenant: each tenant's real ids, unknown ids, and the
    cache incident (the same id everywhere)."""
    sets = {slug: object_kwargs(tenants[slug]) for slug in tenants}
    sets["unknown"] = UNKNOWN
    if cache_incident is not None:
        sets["cache"] = {**sets[next(iter(tenants))], "incident_id": cache_incident}
    return sets


# --- gunicorn and the load generator ------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextlib.contextmanager
def gunicorn(*, workers: int, threads: int, cpus: set[int] | None = None):
    """A real gunicorn (gthread) serving the test database on 127.0.0.1; yields its port."""
    from conftest import test_database_url

    port = free_port()
    env = {
        **os.environ,
        "DATABASE_URL": test_database_url(),
        "DJANGO_SETTINGS_MODULE": "aiops.settings_test",
    }
    command = [
        sys.executable,
        "-m",
        "gunicorn",
        "aiops.wsgi:application",
        f"--bind=127.0.0.1:{port}",
        f"--workers={workers}",
        f"--threads={threads}",
        "--worker-class=gthread",
        "--keep-alive=30",
        "--log-level=warning",
    ]
    if cpus:
        command = ["taskset", "-c", ",".join(map(str, sorted(cpus))), *command]

    def answers() -> bool:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
        conn.request("GET", "/login/")
        return conn.getresponse().status == 200

    log = Path(settings.BASE_DIR) / ".artifacts" / f"gunicorn-{port}.log"
    with running(command, env=env, cwd=settings.BASE_DIR, log=log, ready=answers, stop_timeout=30):
        yield port


def _cookies(response: http.client.HTTPResponse) -> dict[str, str]:
    jar = {}
    for header in response.headers.get_all("Set-Cookie") or []:
        name, _, rest = header.partition("=")
        jar[name.strip()] = rest.split(";", 1)[0]
    return jar


def login(port: int, username: str, password: str = PASSWORD) -> str:
    """Sign in through the login form; returns the Cookie header of the new session."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    conn.request("GET", "/login/")
    response = conn.getresponse()
    jar = _cookies(response)
    html = response.read().decode()
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', html).group(1)
    body = urlencode({"username": username, "password": password, "csrfmiddlewaretoken": token})
    conn.request(
        "POST",
        "/login/",
        body=body,
        headers={
            "Content-Type": "application/x-www-form-urlencoded",
            "Cookie": f"csrftoken={jar['csrftoken']}",
        },
    )
    response = conn.getresponse()
    response.read()
    jar.update(_cookies(response))
    if response.status != 302 or "sessionid" not in jar:
        raise AssertionError(f"login of {username} failed: {response.status}")
    conn.close()
    return f"sessionid={jar['sessionid']}"


@dataclass(frozen=True)
class Probe:
    """One request: whose session, which URL, on which tenant, and the marker it may carry."""

    user: str
    path: str
    hx: bool
    tenant: str  # the tenant the URL belongs to
    ids: str  # whose ids are in the URL: a tenant slug, "unknown" or "cache"
    allowed: str | None  # the tenant's marker for a member, None for a non-member


def probes(tenants, users: dict[str, str], ids: dict[str, dict]) -> list[Probe]:
    """Every tenant object URL × every id set × HX on/off, for each user on each tenant."""
    out = []
    for user, home in users.items():
        for slug, tenant in tenants.items():
            allowed = MARKERS[slug] if slug == home else None
            for owner, values in ids.items():
                for route in ROUTES:
                    path = build_url(tenant, route, values)
                    out += [Probe(user, path, hx, slug, owner, allowed) for hx in (False, True)]
    return out


@dataclass
class LoadResult:
    requests: int = 0
    elapsed: float = 0.0
    statuses: Counter = field(default_factory=Counter)
    per_tenant: Counter = field(default_factory=Counter)
    own_marker: Counter = field(default_factory=Counter)  # member responses showing their marker
    leaks: list[str] = field(default_factory=list)
    server_errors: list[str] = field(default_factory=list)
    transport_errors: list[str] = field(default_factory=list)
    reconnects: int = 0
    latencies: list[float] = field(default_factory=list)

    @property
    def rps(self) -> float:
        return self.requests / self.elapsed if self.elapsed else 0.0

    def percentile(self, p: float) -> float:
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(len(ordered) * p))] if ordered else 0.0


def fire(
    port: int,
    plan: list[Probe],
    cookies: dict[str, str],
    *,
    total: int,
    threads: int,
    member_share: float = 0.75,
    seed: int = 9,
) -> LoadResult:
    """`total` GETs drawn at random from `plan` (a `member_share` of them by members on their own
    tenant), interleaved across tenants, from `threads` keep-alive connections."""
    rng = random.Random(seed)
    members = [p for p in plan if p.allowed is not None]
    others = [p for p in plan if p.allowed is None] or members
    order = [
        rng.choice(members) if rng.random() < member_share else rng.choice(others)
        for _ in range(total)
    ]
    counter = itertools.count()
    result = LoadResult()
    lock = threading.Lock()

    def worker() -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
        statuses, per_tenant, own = Counter(), Counter(), Counter()
        leaks, errors, transport, latencies = [], [], [], []
        reconnects = 0
        while (i := next(counter)) < total:
            probe = order[i]
            headers = {"Cookie": cookies[probe.user]}
            if probe.hx:
                headers["HX-Request"] = "true"
            started = time.perf_counter()
            for attempt in range(3):
                try:
                    conn.request("GET", probe.path, headers=headers)
                    response = conn.getresponse()
                    body = response.read()
                    break
                except (OSError, http.client.HTTPException) as exc:
                    conn.close()  # an idle keep-alive connection closed by the server
                    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
                    reconnects += 1
                    if attempt == 2:
                        transport.append(f"{probe.path}: {exc!r}")
                        body = None
            if body is None:
                continue
            latencies.append(time.perf_counter() - started)
            statuses[response.status] += 1
            per_tenant[probe.tenant] += 1
            kind = response.getheader("Content-Type", "")
            found = foreign_markers(body, kind, probe.allowed)
            if found:
                leaks.append(f"{probe.user} {probe.path} hx={probe.hx}: {found}")
            if probe.allowed and probe.allowed.encode() in body:
                own[probe.tenant] += 1
            if response.status >= 500:
                errors.append(f"{response.status} {probe.path} hx={probe.hx}")
        conn.close()
        with lock:
            result.statuses.update(statuses)
            result.per_tenant.update(per_tenant)
            result.own_marker.update(own)
            result.leaks += leaks
            result.server_errors += errors
            result.transport_errors += transport
            result.reconnects += reconnects
            result.latencies += latencies

    started = time.monotonic()
    with ThreadPoolExecutor(threads) as pool:
        for future in [pool.submit(worker) for _ in range(threads)]:
            future.result()
    result.elapsed = time.monotonic() - started
    result.requests = sum(result.statuses.values())
    return result


# --- the worker path ----------------------------------------------------------------------------


def worker_phase(tenants, settings_override) -> dict:
    """Analysis and PDF jobs of every tenant, interleaved, on one real qcluster worker."""
    from apps.analysis import services as analysis
    from apps.analysis.models import AISettings, AnalysisRun
    from apps.core.tests.analysis.fake_llm import FakeLLM, ok
    from apps.incidents.models import Incident
    from apps.reports import services as reports
    from apps.reports.models import PdfExport, Report

    settings_override.REPORTS_PDF_INLINE_MAX_LINES = 0  # request_pdf queues the job
    fake = FakeLLM().start()
    fake.default = ok('{"summary": [], "hypotheses": [], "actions": []}')
    runs: dict[tuple[str, int], None] = {}
    exports: dict[tuple[str, int], None] = {}
    started = time.monotonic()
    try:
        for slug, tenant in tenants.items():
            with tenant_context(tenant):
                analysis.save_ai_settings(
                    provider=AISettings.Provider.OPENAI,
                    base_url=fake.base_url,
                    model="fake-model",
                    timeout_seconds=30,
                    max_tokens=400,
                    price_per_1k_tokens=None,
                    local_endpoints_only=True,
                    new_api_key=f"sk-{slug}-0123456789abcdef",
                )
        for round_ in range(JOBS_PER_TENANT):  # alpha, beta, gamma, alpha, … on one queue
            for slug, tenant in tenants.items():
                with tenant_context(tenant):
                    incident = Incident.objects.get(title=f"incident {MARKERS[slug]}")
                    runs[slug, analysis.request_analysis(incident=incident).pk] = None
                    if round_ % 2 == 0:
                        report = Report.objects.get(incident=incident)
                        exports[slug, reports.request_pdf(report=report).pk] = None
        deadline = time.monotonic() + 600
        while True:
            pending = 0
            for slug, tenant in tenants.items():
                with tenant_context(tenant):
                    pending += AnalysisRun.objects.filter(
                        pk__in=[pk for s, pk in runs if s == slug],
                        status__in=[AnalysisRun.Status.QUEUED, AnalysisRun.Status.RUNNING],
                    ).count()
                    pending += PdfExport.objects.filter(
                        pk__in=[pk for s, pk in exports if s == slug],
                        status__in=[PdfExport.Status.QUEUED, PdfExport.Status.RUNNING],
                    ).count()
            if not pending or time.monotonic() > deadline:
                break
            time.sleep(0.5)
        elapsed = time.monotonic() - started
        bodies: dict[str, list[bytes]] = {}  # a tenant's identical prompts share a digest
        for body in fake.chat_bodies():
            bodies.setdefault(hashlib.sha256(body).hexdigest(), []).append(body)
    finally:
        fake.stop()
    leaks, problems = [], []
    prompts = Counter()
    pdfs = Counter()
    for slug, tenant in tenants.items():
        marker = MARKERS[slug]
        with tenant_context(tenant):
            for run in AnalysisRun.objects.filter(pk__in=[pk for s, pk in runs if s == slug]):
                same = bodies.get(run.payload_sha256) or [None]
                body = same.pop()
                if run.status != AnalysisRun.Status.DONE or body is None:
                    problems.append(f"{slug} analysis {run.pk}: {run.status} {run.error[:200]}")
                    continue
                prompts[slug] += 1
                found = foreign_markers(body, "application/json", marker)
                if found:
                    leaks.append(f"{slug} analysis {run.pk} prompt carries {found}")
                if marker.encode() not in body:
                    problems.append(f"{slug} analysis {run.pk}: prompt lacks its own marker")
            for export in PdfExport.objects.filter(pk__in=[pk for s, pk in exports if s == slug]):
                if export.status != PdfExport.Status.DONE:
                    problems.append(f"{slug} pdf {export.pk}: {export.status} {export.error}")
                    continue
                pdfs[slug] += 1
                text = pdf_text(bytes(export.pdf))
                found = [m for m in MARKERS.values() if m in text and m != marker]
                if found:
                    leaks.append(f"{slug} pdf {export.pk} carries {found}")
                if marker not in text:
                    problems.append(f"{slug} pdf {export.pk}: its own marker is missing")
    problems += [f"prompt matching no run: {b[:120]!r}" for same in bodies.values() for b in same]
    connection.set_schema_to_public()
    return {
        "analysis_jobs": len(runs),
        "pdf_jobs": len(exports),
        "prompts_checked": dict(prompts),
        "pdfs_checked": dict(pdfs),
        "leaks": leaks,
        "problems": problems,
        "elapsed_s": round(elapsed, 1),
    }


# --- the exhaustive sweep through the test client -----------------------------------------------


def sweep(tenants, owners: dict[str, object], ids: dict[str, dict]) -> dict:
    """Every tenant object URL × every id set × HX on/off × GET then POST, as each tenant's
    owner (a member) on every tenant (a non-member on the others)."""
    from django.test import Client

    clients = {}
    for slug, user in owners.items():
        clients[slug] = Client()
        clients[slug].force_login(user)
    statuses: Counter = Counter()
    leaks, errors = [], []
    own = Counter()
    not_404 = []
    count = 0
    for method in ("get", "post"):
        for home, client in clients.items():
            for slug, tenant in tenants.items():
                allowed = MARKERS[slug] if slug == home else None
                for values in ids.values():
                    for route in ROUTES:
                        url = build_url(tenant, route, values)
                        for hx in (False, True):
                            headers = {"HTTP_HX_REQUEST": "true"} if hx else {}
                            response = getattr(client, method)(url, **headers)
                            connection.set_schema_to_public()
                            count += 1
                            statuses[response.status_code] += 1
                            body = b"".join(response) if response.streaming else response.content
                            kind = response.get("Content-Type", "")
                            found = foreign_markers(body, kind, allowed)
                            if found:
                                leaks.append(f"{home} {method} {url} hx={hx}: {found}")
                            if allowed and allowed.encode() in body:
                                own[slug] += 1
                            if response.status_code >= 500:
                                errors.append(f"{response.status_code} {method} {url}")
                            if allowed is None and response.status_code != 404:
                                not_404.append(f"{home} {method} {url}: {response.status_code}")
    return {
        "requests": count,
        "statuses": dict(sorted(statuses.items())),
        "own_marker_responses": dict(own),
        "leaks": leaks,
        "server_errors": errors,
        "non_member_not_404": not_404,
    }


# --- the test -----------------------------------------------------------------------------------


def test_isolation(personas, qcluster, settings):
    from apps.tenants.models import Role

    tenants = {slug: ensure_tenant(slug) for slug in SLUGS}
    seeded = {slug: seed(tenant) for slug, tenant in tenants.items()}
    for key in ("incident", "report", "cache_incident", "cache_source"):
        values = {s[key] for s in seeded.values()}
        assert len(values) == 1, f"{key} differs across schemas ({values}): ids must repeat"
    ids = id_sets(tenants, seeded["alpha"]["cache_incident"])
    owners = {
        "alpha": personas.owner,
        "beta": personas.outsider,
        "gamma": member("gina", tenants["gamma"], Role.OWNER),
    }
    report: dict = {"tenants": list(SLUGS), "ids_per_tenant": seeded["alpha"]}

    # 1. worker: analysis prompts and PDFs, interleaved on one qcluster
    print("  worker phase …")
    report["worker"] = worker = worker_phase(tenants, settings)
    print(f"  worker: {worker}")

    # 2. gunicorn under interleaved load
    users = {"alice": "alpha", "bob": "alpha", "vera": "alpha", "charlie": "beta", "gina": "gamma"}
    plan = probes(tenants, users, ids)
    started = time.monotonic()
    own_cpus = os.sched_getaffinity(0)
    cpus = sorted(own_cpus)
    split = len(cpus) > 1 and os.environ.get("PROVE_ISOLATION_PIN") == "1"
    server_cpus = set(cpus[1:]) if split else None
    with gunicorn(workers=3, threads=4, cpus=server_cpus) as port:
        cookies = {user: login(port, user) for user in users}
        cache_checks = {}
        for user, home in (("alice", "alpha"), ("charlie", "beta"), ("gina", "gamma")):
            path = build_url(tenants[home], "incidents:incident-timeline", ids["cache"])
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
            conn.request("GET", path, headers={"Cookie": cookies[user], "HX-Request": "true"})
            body = conn.getresponse().read()
            cache_checks[home] = MARKERS[home].encode() in body
        if split:
            os.sched_setaffinity(0, {cpus[0]})
        try:
            load = fire(port, plan, cookies, total=REQUESTS, threads=THREADS)
        finally:
            os.sched_setaffinity(0, own_cpus)
    report["load"] = {
        "requests": load.requests,
        "distinct_probes": len(plan),
        "elapsed_s": round(load.elapsed, 1),
        "rps": round(load.rps),
        "p50_ms": round(load.percentile(0.5) * 1000, 1),
        "p95_ms": round(load.percentile(0.95) * 1000, 1),
        "statuses": dict(sorted(load.statuses.items())),
        "per_tenant": dict(load.per_tenant),
        "own_marker_responses": dict(load.own_marker),
        "leaks": load.leaks[:50],
        "leak_count": len(load.leaks),
        "server_errors": load.server_errors[:50],
        "server_error_count": len(load.server_errors),
        "transport_errors": load.transport_errors[:20],
        "reconnects": load.reconnects,
        "gunicorn": "3 workers × 4 threads (gthread)",
        "pinned": f"server cpus {sorted(server_cpus)}, client cpu {cpus[0]}" if split else "no",
        "cache_timeline_shows_own_marker": cache_checks,
        "total_s": round(time.monotonic() - started, 1),
    }
    print(f"  load: {report['load']}")

    # 3. every URL × every id set × HX × GET/POST through the test client
    started = time.monotonic()
    report["sweep"] = swept = sweep(tenants, owners, ids)
    swept["elapsed_s"] = round(time.monotonic() - started, 1)
    print(f"  sweep: {swept}")

    leaks = worker["leaks"] + load.leaks + swept["leaks"]
    errors = load.server_errors + swept["server_errors"]
    problems = (
        worker["problems"]
        + load.transport_errors
        + swept["non_member_not_404"]
        + [f"{s}: cache timeline lacks its own marker" for s, ok in cache_checks.items() if not ok]
        + [f"{s}: no load response showed its marker" for s in SLUGS if not load.own_marker[s]]
        + [
            f"{s}: no sweep response showed its marker"
            for s in SLUGS
            if not swept["own_marker_responses"].get(s)
        ]
    )
    if load.requests < REQUESTS:
        problems.append(f"only {load.requests} of {REQUESTS} requests answered")
    ok = not leaks and not errors and not problems
    for item in (leaks + errors + problems)[:30]:
        print("  !", item)
    write_result(
        "isolation",
        what="tenant isolation: 3 tenants, every object URL × foreign ids × HX, gunicorn load,"
        " worker/cache/PDF/LLM-prompt paths",
        how_many=f"{load.requests:,} interleaved requests on gunicorn (3×4 gthread) at"
        f" {load.rps:.0f} req/s in {load.elapsed:.0f} s; sweep {swept['requests']:,} requests"
        f" ({len(ROUTES)} URLs × {len(ids)} id sets × HX × GET/POST × 3 users × 3 tenants);"
        f" {worker['analysis_jobs']} analysis + {worker['pdf_jobs']} PDF jobs on one worker",
        broke="0"
        if ok
        else f"{len(leaks)} leaks, {len(errors)} 5xx, {len(problems)} other: "
        + "; ".join((leaks + errors + problems)[:3]),
        ok=ok,
        **report,
    )
    assert ok, (leaks + errors + problems)[:10]
