"""A corpus of generated multi-service incidents, each labelled with its origin service and the
deploy at fault (or none). Used by the tests and by `bench/correlation_bench.py`.

Each case is a chain of services (callers first: an edge proxy, APIs, a database) with normal
traffic, a little background noise (a stray error now and then), and from the incident's start
a share of requests failing in the origin service and then, after a hop delay (a quick error or
a timeout), in every caller above it. Variations, chosen by the seed: log formats (JSON lines,
plain text, nginx access logs, PostgreSQL), request ids in four propagation formats or none,
callers that name the failing dependency or say only "upstream", a clock off by seconds or by
minutes, an origin in the middle of the chain, and deploys: the origin's (the trigger, with a
new kind of error), other services' earlier and later, and a close decoy in another service.

Generated, not real: no public multi-service excerpts with known origins were found to copy
(licences and labels); the generator's knobs are the known failure shapes instead.
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

KINDS = ("nginx", "json", "plain", "postgres")


@dataclass(slots=True)
class Case:
    name: str
    files: dict[str, str]  # relative path -> text
    origin: str
    fault: tuple[str, str] | None  # (service, version) of the deploy at fault
    deploys: list[dict] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def write(self, root: Path) -> tuple[list[Path], Path | None]:
        """Write the logs (and deploys.jsonl) under `root`; (log paths, deploys path)."""
        paths = []
        for rel, text in self.files.items():
            path = root / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
            paths.append(path)
        deploys = None
        if self.deploys:
            deploys = root / "deploys.jsonl"
            deploys.write_text("".join(json.dumps(d) + "\n" for d in self.deploys))
        return sorted(paths), deploys


@dataclass(slots=True)
class Service:
    name: str
    kind: str
    skew: timedelta = timedelta(0)
    lines: list[tuple[datetime, str]] = field(default_factory=list)

    @property
    def path(self) -> str:
        if self.kind == "nginx":
            return f"{self.name}/access.log"
        if self.kind == "json":
            return f"{self.name}.jsonl"
        return f"{self.name}.log"


APIS = ["orders-api", "checkout", "inventory", "pricing", "payments", "catalog", "cart-svc"]
EDGES = ["gateway", "edge-proxy", "ingress"]
DATABASES = ["postgres", "orders-db", "pg-main"]
ROUTES = ["/api/orders", "/api/cart", "/api/checkout", "/api/items"]
BUGS = [
    'NullPointerException: Cannot invoke "Price.amount()" because "price" is null',
    "KeyError: 'currency' in apply_discount",
    "TypeError: Cannot read properties of undefined (reading 'sku')",
    "panic: runtime error: invalid memory address or nil pointer dereference",
    "ValueError: invalid literal for int() with base 10: 'v2'",
]
DEP_CAUSES = [
    "OutOfMemoryError: Java heap space",
    "disk full: write /var/lib/app/spool: no space left on device",
    "connection pool exhausted: 0 of 20 connections available",
]
DB_CAUSES = [
    "FATAL:  sorry, too many clients already",
    "FATAL:  the database system is in recovery mode",
    "ERROR:  could not extend file: No space left on device",
]
NOISE = ["cache miss storm on warmup", "retrying slow request", "stale session rejected"]


def _iso(ts: datetime) -> str:
    return ts.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _emit(svc: Service, ts: datetime, level: str, msg: str, rid: str | None, rng: random.Random):
    t = ts + svc.skew
    if svc.kind == "json":
        obj: dict[str, object] = {"ts": _iso(t), "level": level.lower(), "service": svc.name}
        obj["msg"] = msg
        if rid:
            obj["trace_id"] = rid
        line = json.dumps(obj)
    elif svc.kind == "postgres":
        pg = {"INFO": "LOG", "ERROR": "ERROR", "WARN": "WARNING"}.get(level, level)
        text = msg if msg.startswith(("FATAL", "ERROR", "LOG")) else f"{pg}:  {msg}"
        line = f"{t:%Y-%m-%d %H:%M:%S}.{t.microsecond // 1000:03d} UTC [{rng.randint(900, 9999)}] app@shop {text}"
    else:
        line = f"{_iso(t)} {level:<5} [{svc.name}] {msg}" + (f" request_id={rid}" if rid else "")
    svc.lines.append((t, line))


def _access(svc: Service, ts: datetime, status: int, route: str, rid: str | None, dur: float):
    t = ts + svc.skew
    tail = f' "traceparent: 00-{rid}-00f067aa0ba902b7-01"' if rid else ""
    line = (
        f'10.0.{t.second % 8}.{t.microsecond % 200} - - [{t:%d/%b/%Y:%H:%M:%S} +0000] "GET {route}'
        f' HTTP/1.1" {status} {200 + t.microsecond % 900} "-" "curl/8.5.0" rt={dur:.3f}{tail}'
    )
    svc.lines.append((t, line))


def make_case(seed: int) -> Case:
    rng = random.Random(seed)
    depth = rng.choice([2, 3, 3, 4])
    apis = rng.sample(APIS, depth - 1 if depth > 2 else 1)
    chain: list[Service] = []
    if depth > 2 or rng.random() < 0.5:
        chain.append(Service(rng.choice(EDGES), "nginx"))
    chain += [Service(n, rng.choice(["json", "plain"])) for n in apis]
    if rng.random() < 0.6:
        chain.append(Service(rng.choice(DATABASES), "postgres"))
    if len(chain) < 2:
        chain.append(Service(rng.choice(DATABASES), "postgres"))
    by_deploy = rng.random() < 0.5
    if by_deploy:  # a deployed application fails: an API, not the database or the proxy
        candidates = [i for i, s in enumerate(chain) if s.kind in ("json", "plain")]
    else:
        candidates = [len(chain) - 1] * 3 + list(range(1, len(chain) - 1))
    oi = rng.choice(candidates)
    origin = chain[oi]
    traced = rng.random() < 0.6
    blames = rng.random() < 0.75
    notes = [f"chain {' -> '.join(s.name for s in chain)}", f"origin {origin.name}"]
    if traced and rng.random() < 0.3:  # one clock minutes off; the shared ids re-align it
        victim = rng.choice(chain)
        victim.skew = timedelta(seconds=rng.choice([-1, 1]) * rng.randint(90, 600))
        notes.append(f"{victim.name} clock {victim.skew.total_seconds():+.0f}s")
    elif blames and rng.random() < 0.3:  # the origin's clock a little late: blame decides
        origin.skew = timedelta(seconds=rng.uniform(1.0, 4.0))
        notes.append(f"{origin.name} clock +{origin.skew.total_seconds():.1f}s")
    start = datetime(2024, 5, 1 + seed % 27, 9, 0, tzinfo=UTC) + timedelta(minutes=seed % 50)
    onset = start + timedelta(minutes=rng.randint(10, 20), seconds=rng.randint(0, 59))
    end = onset + timedelta(minutes=rng.randint(3, 6))
    cause = rng.choice(
        BUGS if by_deploy else DB_CAUSES if origin.kind == "postgres" else DEP_CAUSES
    )
    fail_share = rng.uniform(0.3, 0.9)
    hop = [rng.choice([0.004, 0.02, 0.2, 1.0, 5.0]) for _ in chain]
    ts = start
    n = 0
    while ts < end:
        n += 1
        rid = f"{rng.getrandbits(128):032x}" if traced else None
        route = rng.choice(ROUTES)
        failing = ts >= onset and rng.random() < fail_share
        noise = not failing and rng.random() < 0.01
        for depth_i, svc in enumerate(chain):
            if failing and depth_i > oi:
                break  # below the origin: never reached
            t = ts + timedelta(milliseconds=3 * depth_i)
            if not failing:
                if svc.kind == "nginx":
                    _access(svc, t + timedelta(milliseconds=40), 200, route, rid, 0.04)
                elif svc.kind == "postgres":
                    if n % 7 == 0:
                        _emit(svc, t, "INFO", "duration: 2.113 ms  statement: SELECT 1", None, rng)
                else:
                    _emit(svc, t, "INFO", f"handled GET {route} in 38ms", rid, rng)
                if noise and svc is chain[-1] and svc.kind != "nginx":
                    _emit(svc, t, "ERROR", rng.choice(NOISE), rid, rng)
                continue
        if failing:  # the failure, bottom up: origin first, then each caller after its hop
            t = ts + timedelta(milliseconds=3 * oi + 5)
            _emit(origin, t, "ERROR", cause, rid, rng) if origin.kind != "nginx" else None
            for depth_i in range(oi - 1, -1, -1):
                svc, callee = chain[depth_i], chain[depth_i + 1]
                t += timedelta(seconds=hop[depth_i])
                if svc.kind == "nginx":
                    _access(svc, t, 502 if hop[depth_i] < 5 else 504, route, rid, hop[depth_i])
                    continue
                said = callee.name if blames else "upstream dependency"
                _emit(svc, t, "ERROR", f"call to {said} failed: status 500 on {route}", rid, rng)
        ts += timedelta(
            seconds=rng.uniform(0.5, 3.0)
            if ts >= onset - timedelta(minutes=2)
            else rng.uniform(2.0, 6.0)
        )
    deploys: list[dict] = []
    fault = None
    others = [s for s in chain if s is not origin and s.kind != "postgres"]
    if by_deploy:
        version = f"v{rng.randint(1, 9)}.{rng.randint(0, 40)}.{rng.randint(0, 9)}"
        at = onset - timedelta(seconds=rng.randint(15, 240))
        deploys.append(_deploy(origin.name, version, at, rng))
        fault = (origin.name, version)
    if others and rng.random() < 0.8:  # an earlier deploy elsewhere that changed nothing
        at = onset - timedelta(minutes=rng.randint(8, 14))
        deploys.append(_deploy(rng.choice(others).name, "v1.0.1", at, rng))
    if others and rng.random() < 0.6:  # a deploy after the onset (often the rollback)
        at = onset + timedelta(minutes=rng.randint(2, 4))
        deploys.append(_deploy(rng.choice(chain).name, "v0.9.9", at, rng))
    if others and rng.random() < 0.3:  # a decoy: another service deployed just before
        at = onset - timedelta(seconds=rng.randint(20, 90))
        deploys.append(_deploy(rng.choice(others).name, "v3.3.0", at, rng))
    rng.shuffle(deploys)
    files = {s.path: "".join(line + "\n" for _, line in sorted(s.lines)) for s in chain if s.lines}
    return Case(f"case-{seed:02d}", files, origin.name, fault, deploys, notes)


def _deploy(service: str, version: str, at: datetime, rng: random.Random) -> dict:
    key = rng.choice(["ts", "started_at", "timestamp"])
    return {"service": service, "version": version, key: _iso(at), "environment": "prod"}


CORPUS_SEEDS = tuple(range(1, 25))


def corpus() -> list[Case]:
    return [make_case(seed) for seed in CORPUS_SEEDS]
