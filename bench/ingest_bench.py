"""Ingestion benchmark on one mixed 1,000,000-line file (bench/mixed_log.py builds it).

Prints, on this machine, in this process:
  parse          decode + format detection + parsing + multi-line joining   (logparse core)
  parse+group    + template mining and fingerprints, in one process
  logparse       the same as the `logparse` command runs it: parsing in a forked process,
                 mining in this one (pipeline.parsed_members)
  parse+group+rules  + the rules engine and detectors, in one process      (triage / ingest)
  ingest         the real ingest job into PostgreSQL (COPY, checkpoints, groups, findings)
  text index     the follow-up job that fills the trigram search index (search.py)
  COPY floor     a plain COPY of the same raw lines into a bare table (the floor)
with lines/s and ratios against the parse baseline, and the peak RSS of this process and of
the ingest job's forked compute process.
Nothing is asserted: the numbers are for reading. Usage:

  . scripts/dev-env.sh && python bench/ingest_bench.py [--lines N] [--no-db]
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from mixed_log import build  # noqa: E402


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run_logparse(path: Path) -> tuple[int, float]:
    from apps.core.grouping.miner import Miner
    from apps.core.ingest.pipeline import group_records, parsed_members

    started = time.perf_counter()
    lines = 0
    miner = Miner()
    for member in parsed_members(path, display_name=path.name):
        for _ in group_records(member.records, miner):
            pass
        lines += member.decode.lines
    return lines, time.perf_counter() - started


def run_core(path: Path, *, group: bool, rules: bool) -> tuple[int, float]:
    from apps.core.grouping.miner import Miner
    from apps.core.ingest.pipeline import SourceStats, group_records, parse_source
    from apps.core.logparse.decode import iter_lines
    from apps.core.rules.catalogue import Catalogue
    from apps.core.rules.engine import Engine

    started = time.perf_counter()
    stats = SourceStats(name=path.name)
    with path.open("rb") as handle:
        records = parse_source(iter_lines(handle), source=path.name, stats=stats)
        if not group:
            for _ in records:
                pass
        else:
            engine = Engine(Catalogue.load()) if rules else None
            for grouped in group_records(records, Miner()):
                if engine is not None:
                    engine.feed(
                        grouped.record, template_id=grouped.match.template_id, group=grouped.group
                    )
            if engine is not None:
                engine.findings()
    return stats.lines, time.perf_counter() - started


def run_ingest(path: Path, *, keep: bool = False) -> tuple[int, float, float]:
    import django

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "aiops.settings")
    os.environ.setdefault("DJANGO_DEBUG", "true")
    django.setup()
    from django_tenants.utils import tenant_context

    from apps.incidents.models import Project
    from apps.incidents.services import create_project
    from apps.ingestion import search, services
    from apps.tenants.models import Tenant
    from apps.tenants.services import create_tenant, ensure_public_tenant

    ensure_public_tenant()
    tenant = Tenant.objects.filter(slug="bench").first() or create_tenant(
        name="Benchmarks", slug="bench", owner_username="bench-owner"
    )
    with tenant_context(tenant):
        project = Project.objects.filter(slug="bench").first() or create_project(name="bench")
        incident = services.create_incident(
            project=project,
            title=f"bench {path.name} {time.strftime('%H:%M:%S')}",
            uploads=[services.upload_from_path(path)],
            run_inline=True,
        )
        job = incident.jobs.get()
        started = time.perf_counter()
        services.run_ingest(job.pk)
        elapsed = time.perf_counter() - started
        job.refresh_from_db()
        if job.status != "done":
            raise SystemExit(f"ingest failed: {job.error}")
        # the job that follows it on a worker: text search index (apps/ingestion/search.py)
        started = time.perf_counter()
        search.index_job(job.pk)
        indexing = time.perf_counter() - started
        if not keep:  # each run would leave a million events in the tenant (and slow the rest)
            remove_incident(incident)
        return job.lines_done, elapsed, indexing


def remove_incident(incident) -> None:
    from apps.ingestion import services

    for source in incident.sources.all():
        services.delete_source(source=source)  # bulk SQL: no million-row ORM cascade
    incident.delete()


def run_copy_floor(path: Path) -> tuple[int, float]:
    from django.db import connection

    lines = 0
    started = time.perf_counter()
    with connection.cursor() as cursor:
        cursor.execute("CREATE TEMP TABLE bench_floor (n bigint, raw text)")
        with (
            path.open(encoding="utf-8", errors="replace") as handle,
            cursor.cursor.copy("COPY bench_floor (n, raw) FROM STDIN") as copy,
        ):
            for lines, text in enumerate(handle, start=1):
                copy.write_row((lines, text.rstrip("\n")))
        cursor.execute("DROP TABLE bench_floor")
    return lines, time.perf_counter() - started


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--lines", type=int, default=1_000_000)
    ap.add_argument("--no-db", action="store_true", help="skip the PostgreSQL measurements")
    ap.add_argument("--keep", action="store_true", help="keep the ingested incident")
    args = ap.parse_args()
    path = build(args.lines)
    print(f"input: {path} ({path.stat().st_size / 1e6:.0f} MB, {args.lines:,} lines)")
    rows = []
    n, t = run_core(path, group=False, rules=False)
    base = n / t
    rows.append(("parse", n, t))
    rows.append(("parse+group", *run_core(path, group=True, rules=False)))
    rows.append(("logparse (2 processes)", *run_logparse(path)))
    rows.append(("parse+group+rules", *run_core(path, group=True, rules=True)))
    if not args.no_db:
        lines, elapsed, indexing = run_ingest(path, keep=args.keep)
        rows.append(("ingest into PostgreSQL", lines, elapsed))
        rows.append(("text index (after the job)", lines, indexing))
        rows.append(("COPY floor (raw lines)", *run_copy_floor(path)))
    print(f"{'stage':<28}{'lines':>12}{'seconds':>10}{'lines/s':>12}{'vs parse':>10}")
    for name, n, t in rows:
        print(f"{name:<28}{n:>12,}{t:>10.2f}{n / t:>12,.0f}{(n / t) / base:>10.2f}")
    rules_ratio = rows[1][2] and rows[3][2] / rows[1][2]
    print(f"rules add {100 * (rules_ratio - 1):.0f}% to parse+group time")
    print(f"peak RSS of this process: {_rss_mb():.0f} MB")
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    if children:
        print(f"peak RSS of the largest forked process (compute or parsing): {children:.0f} MB")


if __name__ == "__main__":
    main()
