"""Build the benchmark input: a mixed log of N lines from the loghub samples plus synthetic
application lines (JSON, logfmt, Spring Boot with stack traces), with varied numbers so the
miner sees realistic variety. Written to bench/out/ (not committed); the loghub data stays in
../shared/data and is never copied into the repository.
"""

from __future__ import annotations

import json
import random
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LOGHUB = ROOT.parent / "shared" / "data" / "loghub"
OUT = ROOT / "bench" / "out"


def _loghub_lines() -> list[str]:
    lines: list[str] = []
    for path in sorted(LOGHUB.glob("*/*_2k.log")):
        lines.extend(path.read_text(encoding="utf-8", errors="replace").splitlines())
    return lines


def _synthetic(rng: random.Random, i: int) -> list[str]:
    kind = i % 3
    ts = f"2024-03-14T10:{(i // 6000) % 60:02d}:{(i // 100) % 60:02d}.{i % 1000:03d}Z"
    if kind == 0:
        return [
            json.dumps(
                {
                    "ts": ts,
                    "level": rng.choice(["info", "info", "warn", "error"]),
                    "msg": rng.choice(["request done", "cache miss", "upstream slow"]),
                    "status": rng.choice([200, 200, 404, 503]),
                    "duration_ms": rng.randint(1, 3000),
                    "request_id": f"{rng.getrandbits(64):016x}",
                }
            )
        ]
    if kind == 1:
        return [
            f'time={ts} level=info msg="job finished" job=sync-{rng.randint(1, 50)} '
            f"rows={rng.randint(0, 10000)} took={rng.randint(1, 900)}ms"
        ]
    if rng.random() < 0.05:
        return [
            f"2024-03-14 10:01:{i % 60:02d}.{i % 1000:03d} ERROR 4242 --- [nio-8080-exec-{rng.randint(1, 9)}] "
            "c.e.checkout.OrderService : order failed",
            "java.sql.SQLTransientConnectionException: HikariPool-1 - Connection is not available, "
            f"request timed out after {rng.randint(1000, 30000)}ms.",
            "\tat com.zaxxer.hikari.pool.HikariPool.createTimeoutException(HikariPool.java:696)",
            "\tat com.example.checkout.OrderService.place(OrderService.java:88)",
        ]
    return [
        f"2024-03-14 10:01:{i % 60:02d}.{i % 1000:03d}  INFO 4242 --- [nio-8080-exec-{rng.randint(1, 9)}] "
        f"c.e.checkout.CartController : cart {rng.randint(1, 99999)} updated in {rng.randint(1, 90)}ms"
    ]


def build(n_lines: int = 1_000_000, seed: int = 7) -> Path:
    OUT.mkdir(parents=True, exist_ok=True)
    target = OUT / f"mixed-{n_lines}.log"
    if target.exists():
        return target
    rng = random.Random(seed)
    base = _loghub_lines()
    written = 0
    i = 0
    with target.open("w", encoding="utf-8") as out:
        while written < n_lines:
            if i % 2 == 0 and base:
                line = base[i // 2 % len(base)]
                chunk = [line.replace("blk_", f"blk_{rng.randint(0, 9)}")]
            else:
                chunk = _synthetic(rng, i)
            for line in chunk:
                out.write(line + "\n")
            written += len(chunk)
            i += 1
    return target


if __name__ == "__main__":
    print(build(int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000))
