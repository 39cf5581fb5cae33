"""logparse throughput on a mixed ~200k-line input, built in memory.

The four loghub systems' 2k samples (HDFS, Apache error, OpenSSH syslog, Zookeeper) from
../shared/data/loghub, repeated, plus synthetic JSON lines, logfmt and Spring Boot lines with
Java stack traces. Each block is its own source, as it would be after an upload. Prints lines/s.

`--drain3` also times, on the same lines and in the same run: parsing and grouping in one process
(`group_records`, what `logparse` does across its two processes), grouping alone on the parsed
records, and drain3 0.9.11 with the bench's masks on the raw lines; `--rich` adds the generated
template-rich mix of `grouping_data.py` (1,200 long templates) as one more source.

    .venv/bin/python bench/logparse_bench.py [--lines 200000] [--repeat 3] [--drain3] [--rich]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from apps.core.grouping.miner import Miner
from apps.core.ingest.pipeline import group_records
from apps.core.logparse.parser import parse_lines
from apps.core.logparse.record import Line

LOGHUB = Path(__file__).resolve().parent.parent.parent / "shared" / "data" / "loghub"
SYSTEMS = ("HDFS", "Apache", "OpenSSH", "Zookeeper")


def synthetic_json(n: int) -> list[str]:
    levels = ("info", "info", "info", "warn", "error", "debug")
    return [
        json.dumps(
            {
                "@timestamp": f"2024-01-15T14:{(i // 60) % 60:02d}:{i % 60:02d}.{i % 1000:03d}Z",
                "log.level": levels[i % len(levels)],
                "message": f"order {i} processed in {i % 97} ms",
                "service.name": "checkout",
                "trace.id": f"{i:032x}",
                "http.status": 200 + (i % 3) * 100,
            }
        )
        for i in range(n)
    ]


def synthetic_logfmt(n: int) -> list[str]:
    return [
        f"ts=2024-01-15T14:{(i // 60) % 60:02d}:{i % 60:02d}.{i % 1000:03d}Z level={'info' if i % 5 else 'error'} "
        f'msg="request handled" path=/api/v1/items/{i} status={200 if i % 5 else 503} duration={i % 300}ms'
        for i in range(n)
    ]


def synthetic_java(n: int) -> list[str]:
    out: list[str] = []
    i = 0
    while len(out) < n:
        ts = f"2024-01-15 14:{(i // 60) % 60:02d}:{i % 60:02d}.{i % 1000:03d}"
        if i % 10 == 0:
            out += [
                f"{ts} ERROR 4242 --- [nio-8080-exec-{i % 9}] c.e.shop.CheckoutController : Checkout failed for order {i}",
                "java.lang.IllegalStateException: connection pool exhausted",
                "\tat com.zaxxer.hikari.pool.HikariPool.getConnection(HikariPool.java:155)",
                "\tat com.example.shop.OrderRepository.save(OrderRepository.java:42)",
                "\tat com.example.shop.CheckoutController.checkout(CheckoutController.java:77)",
                "Caused by: java.sql.SQLTransientConnectionException: timeout after 30000ms",
                "\t... 12 more",
            ]
        else:
            out.append(
                f"{ts}  INFO 4242 --- [nio-8080-exec-{i % 9}] c.e.shop.CheckoutController : Order {i} accepted"
            )
        i += 1
    return out[:n]


def build(total: int) -> list[tuple[str, list[str]]]:
    per = total // 7
    sources: list[tuple[str, list[str]]] = []
    for system in SYSTEMS:
        path = LOGHUB / system / f"{system}_2k.log"
        if not path.exists():
            continue
        base = path.read_text(encoding="utf-8", errors="replace").splitlines()
        lines = (base * (per // len(base) + 1))[:per]
        sources.append((system, lines))
    sources.append(("json", synthetic_json(per)))
    sources.append(("logfmt", synthetic_logfmt(per)))
    sources.append(("spring", synthetic_java(total - per * (len(sources)))))
    return sources


def run(sources: list[tuple[str, list[str]]]) -> tuple[int, int, float, dict[str, float]]:
    """CPU time of this process: other jobs on a shared machine don't count against us."""
    n_lines = n_records = 0
    per_source: dict[str, float] = {}
    start = time.process_time()
    for name, texts in sources:
        t0 = time.process_time()
        lines = (Line(i, t) for i, t in enumerate(texts, 1))
        for _ in parse_lines(lines, source=name, default_year=2024):
            n_records += 1
        per_source[name] = len(texts) / max(time.process_time() - t0, 1e-9)
        n_lines += len(texts)
    return n_lines, n_records, time.process_time() - start, per_source


def _cpu(work) -> float:
    t0 = time.process_time()
    work()
    return time.process_time() - t0


def versus_drain3(sources: list[tuple[str, list[str]]], repeat: int) -> None:
    """parse + group, group alone and drain3 on the same lines, CPU time, best of `repeat`
    (alternating: the machine is shared, the fastest run is the least disturbed)."""
    from grouping_bench import DRAIN_SPEED_CFG, make_drain3

    n_lines = sum(len(texts) for _, texts in sources)
    records = [
        list(parse_lines((Line(i, t) for i, t in enumerate(texts, 1)), source=name))
        for name, texts in sources
    ]

    def parse_and_group() -> None:
        miner = Miner(salt="bench")
        for name, texts in sources:
            lines = (Line(i, t) for i, t in enumerate(texts, 1))
            for _ in group_records(parse_lines(lines, source=name, default_year=2024), miner):
                pass

    def group_only() -> None:
        miner = Miner(salt="bench")
        for recs in records:
            for _ in group_records(recs, miner):
                pass

    def drain() -> None:
        tm = make_drain3(DRAIN_SPEED_CFG)
        add = tm.add_log_message
        for _, texts in sources:
            for text in texts:
                add(text)

    best = {"parse + group": float("inf"), "group": float("inf"), "drain3": float("inf")}
    for _ in range(repeat):
        for label, work in zip(best, (parse_and_group, group_only, drain), strict=True):
            best[label] = min(best[label], _cpu(work))
    for label, seconds in best.items():
        ratio = best["drain3"] / seconds
        print(f"  {label:<14} {n_lines / seconds:>10,.0f} lines/s CPU  {ratio:5.2f}x drain3")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--lines", type=int, default=200_000)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--drain3", action="store_true", help="also parse + group and drain3")
    ap.add_argument("--rich", action="store_true", help="add the template-rich generated mix")
    args = ap.parse_args()
    sources = build(args.lines)
    if args.rich:
        from grouping_data import template_rich

        sources.append(("template-rich", template_rich(args.lines // 7)[0]))
    best = None
    wall = time.perf_counter()
    for _ in range(args.repeat):
        result = run(sources)
        if best is None or result[2] < best[2]:
            best = result
    wall = (time.perf_counter() - wall) / args.repeat
    assert best is not None
    n_lines, n_records, elapsed, per_source = best
    detail = "  ".join(f"{k}={v / 1000:.0f}k" for k, v in per_source.items())
    print(
        f"logparse: {n_lines} lines -> {n_records} records in {elapsed:.2f}s CPU"
        f" = {n_lines / elapsed:,.0f} lines/s (best of {args.repeat};"
        f" mean wall-clock {n_lines / wall:,.0f} lines/s)"
    )
    print(f"  per source (lines/s CPU): {detail}")
    if args.drain3:
        versus_drain3(sources, args.repeat)


if __name__ == "__main__":
    main()
