"""Server time of the incident workspace on a large incident (1,000,000 lines by default).

Ingests bench/mixed_log.py's file once into tenant "bench" (the same service code as uploads;
reused on later runs), then times requests through the Django test client, signed in as the
tenant owner, and prints median and p95 per view and the load average before and after. The
aggregate cache is cleared before each timed request unless --warm. Nothing is asserted. Usage:

  . scripts/dev-env.sh && python bench/workspace_bench.py [--lines N] [--repeat 20]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))


def setup_django() -> None:
    import django

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "aiops.settings")
    os.environ.setdefault("DJANGO_DEBUG", "true")
    django.setup()
    from django.conf import settings

    settings.DEBUG = False  # no query log: time what production would serve


def bench_incident(lines: int):
    """The tenant, its owner and the incident holding `lines` ingested lines (built once)."""
    from django.db import connection
    from django_tenants.utils import tenant_context
    from mixed_log import build

    from apps.incidents.models import Incident, Project
    from apps.incidents.services import create_project
    from apps.ingestion import services
    from apps.tenants.models import Tenant
    from apps.tenants.services import create_tenant, ensure_public_tenant

    ensure_public_tenant()
    tenant = Tenant.objects.filter(slug="bench").first() or create_tenant(
        name="Benchmarks", slug="bench", owner_username="bench-owner"
    )
    title = f"workspace bench {lines}"
    with tenant_context(tenant):
        project = Project.objects.filter(slug="bench").first() or create_project(name="bench")
        incident = Incident.objects.filter(project=project, title=title).first()
        if incident is None or not incident.jobs.filter(status="done").exists():
            path = build(lines)
            print(f"ingesting {path} ({lines:,} lines) once; later runs reuse it", flush=True)
            started = time.perf_counter()
            incident = services.create_incident(
                project=project,
                title=title,
                uploads=[services.upload_from_path(path)],
                run_inline=True,
            )
            for job in incident.jobs.all():
                services.run_ingest(job.pk)
            print(f"ingested in {time.perf_counter() - started:.0f}s", flush=True)
            with connection.cursor() as cursor:  # what autovacuum does after a bulk load
                cursor.execute("VACUUM (ANALYZE) ingestion_event")
        index_text(incident)
    return tenant, incident


def index_text(incident) -> None:
    """What the worker does after an ingest job: copy the messages into the text search
    index (apps/ingestion/search.py, where it exists), once."""
    from django.db import connection

    try:
        from apps.ingestion.search import index_incident
    except ImportError:
        return
    if incident.sources.filter(text_indexed=False).exists():
        print("indexing the messages for text search once", flush=True)
        started = time.perf_counter()
        index_incident(incident.pk)
        with connection.cursor() as cursor:
            cursor.execute("VACUUM (ANALYZE) ingestion_eventtext")
        print(f"indexed in {time.perf_counter() - started:.0f}s", flush=True)


def probes(tenant, incident) -> list[tuple[str, str]]:
    from django.db.models import F
    from django_tenants.utils import tenant_context

    from apps.ingestion.models import Event
    from apps.workspace.selectors.events import PAGE_SIZE, make_cursor

    base = f"{tenant.url_prefix}incidents/{incident.pk}/"
    with tenant_context(tenant):
        ordered = Event.objects.filter(incident=incident).order_by(
            F("ts").asc(nulls_last=True), "id"
        )
        total = ordered.count()
        deep = ordered[min(499 * PAGE_SIZE - 1, total - 1)]
        middle = ordered[total // 2]
        first, last = (
            ordered.exclude(ts=None).first().ts,
            Event.objects.filter(incident=incident).exclude(ts=None).order_by("-ts").first().ts,
        )
    cursor = make_cursor(deep)
    zoom_from = first + (last - first) * 0.45
    zoom_to = first + (last - first) * 0.55
    print(f"incident #{incident.pk}: {total:,} events, {first} → {last}")
    return [
        ("incident page", base),
        (
            "incident page, zoomed + level",
            f"{base}?from={zoom_from.isoformat()}&to={zoom_to.isoformat()}&level=WARN".replace(
                "+", "%2B"
            ),
        ),
        ("timeline partial", f"{base}timeline/"),
        ("events, first page", f"{base}events/"),
        ("events, 500th page", f"{base}events/?after={cursor}".replace("+", "%2B")),
        ("events, level=ERROR + text", f"{base}events/?level=ERROR&q=timeout"),
        # unfiltered substring searches: a term in 54,000 messages that all sit in the last
        # half of the timeline, and a rare one (61 messages) made of common words
        ("events, text search", f"{base}events/?q=upstream%20slow"),
        ("events, rare text search", f"{base}events/?q=session%20opened"),
        ("incident page, text search", f"{base}?q=upstream%20slow"),
        ("evidence view", f"{base}evidence/{middle.source_id}/{middle.line}/"),
    ]


def measure(client, url: str, repeat: int, warm: bool = False) -> tuple[float, float, object]:
    from django.core.cache import cache

    for _ in range(2):
        response = client.get(url)
    times = []
    for _ in range(repeat):
        if not warm:  # the workspace's aggregate cache is an extra, never what meets a target
            cache.clear()
        started = time.perf_counter()
        response = client.get(url)
        times.append((time.perf_counter() - started) * 1000)
    times.sort()
    p95 = times[min(len(times) - 1, round(0.95 * (len(times) - 1)))]
    return statistics.median(times), p95, response


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--lines", type=int, default=1_000_000)
    ap.add_argument("--repeat", type=int, default=20)
    ap.add_argument("--warm", action="store_true", help="keep the aggregate cache between requests")
    ap.add_argument("--only", nargs="*", default=[], help="views whose name contains a word")
    args = ap.parse_args()
    setup_django()
    from django.contrib.auth import get_user_model
    from django.test import Client

    tenant, incident = bench_incident(args.lines)
    client = Client(HTTP_HOST="localhost")
    client.force_login(get_user_model().objects.get(username="bench-owner"))
    print("load average {:.2f} {:.2f} {:.2f}".format(*os.getloadavg()))
    print(f"{'view':<34}{'median ms':>10}{'p95 ms':>10}{'status':>8}")
    for name, url in probes(tenant, incident):
        if args.only and not any(word in name for word in args.only):
            continue
        median, p95, response = measure(client, url, args.repeat, args.warm)
        # a text search that stopped at its time budget says so (it shows what it found and
        # continues from there)
        note = "  search cut short" if b'data-testid="search-cut"' in response.content else ""
        line = f"{name:<34}{median:>10.1f}{p95:>10.1f}{response.status_code:>8}{note}"
        print(line, flush=True)
    print("load average {:.2f} {:.2f} {:.2f}".format(*os.getloadavg()))


if __name__ == "__main__":
    main()
