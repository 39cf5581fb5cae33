"""Write the multi-service sample bundles (issue 20): one triggered by a deploy, one by a
dependency failure three services deep. Deterministic, like generate.py, whose Bundle and writer
they share:

    python samples/multiservice.py

Each README names the origin service too; a bundle's deploy events are beside its zip
(`samples/<bundle>.deploys.jsonl`), not in it: they are not logs.
"""

from __future__ import annotations

import json
import random
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from generate import HERE, Bundle, clf, ms, ticks, write

ROUTES = ["/api/quote", "/api/cart", "/api/checkout"]
RESERVE = "UPDATE stock SET reserved = reserved + $1 WHERE sku = $2"


def _tid(rnd: random.Random) -> str:
    return f"{rnd.getrandbits(128):032x}"


def _access(t: datetime, route: str, status: int, rt: float, trace: str, rnd: random.Random) -> str:
    ip = f"203.0.113.{rnd.randint(2, 250)}"
    return (
        f'{ip} - - [{clf(t)}] "POST {route} HTTP/1.1" {status} {rnd.randint(180, 900)} "-" '
        f'"Mozilla/5.0 (X11; Linux x86_64) Firefox/124.0" rt={rt:.3f} '
        f'traceparent="00-{trace}-{rnd.getrandbits(64):016x}-01"'
    )


def _json(t: datetime, level: str, service: str, msg: str, trace: str, **extra) -> str:
    obj = {"time": t.isoformat(timespec="milliseconds").replace("+00:00", "Z"), "level": level}
    obj |= {"service": service, "msg": msg, "trace_id": trace} | extra
    return json.dumps(obj)


# --- 1. a pricing deploy panics on a nil discount ------------------------------------------------


def pricing_deploy_panic() -> Bundle:
    rnd = random.Random(2011)
    start = datetime(2024, 3, 14, 13, 40, tzinfo=UTC)
    deploy = datetime(2024, 3, 14, 14, 2, 10, tzinfo=UTC)
    first_panic = datetime(2024, 3, 14, 14, 2, 31, 204000, tzinfo=UTC)
    end = datetime(2024, 3, 14, 14, 12, tzinfo=UTC)
    edge: list[str] = []
    checkout: list[str] = []
    pricing: list[str] = [
        f"{start:%Y/%m/%d %H:%M:%S} pricing v2.13.4 (commit 8d1e7c2) listening on :8080"
    ]
    panics = 0
    for t in ticks(start, end, rnd, 1.4):
        route = rnd.choice(ROUTES)
        trace = _tid(rnd)
        if deploy <= t < deploy + timedelta(seconds=4) and "v2.14.0" not in pricing[-1]:
            pricing.append(f"{deploy:%Y/%m/%d %H:%M:%S} shutting down: received SIGTERM")
            pricing.append(
                f"{deploy + timedelta(seconds=3):%Y/%m/%d %H:%M:%S} pricing v2.14.0"
                " (commit 41fa09b) listening on :8080"
            )
        bad = t >= first_panic and route != "/api/cart" and rnd.random() < 0.85
        if t >= first_panic and not panics:
            bad = True
            t = first_panic
        p = t + timedelta(milliseconds=4)
        if not bad:
            pricing.append(
                f"{p:%Y/%m/%d %H:%M:%S} quote ok sku_count={rnd.randint(1, 6)} trace_id={trace}"
            )
            checkout.append(
                _json(p + timedelta(milliseconds=9), "info", "checkout", f"POST {route} 200", trace)
            )
            edge.append(_access(p + timedelta(milliseconds=15), route, 200, 0.021, trace, rnd))
            continue
        panics += 1
        pricing += [
            f"{p:%Y/%m/%d %H:%M:%S} http: panic serving 10.0.4.{rnd.randint(10, 40)}:{rnd.randint(40000, 60000)}:"
            f" runtime error: invalid memory address or nil pointer dereference trace_id={trace}",
            f"goroutine {rnd.randint(100, 9000)} [running]:",
            "net/http.(*conn).serve.func1()",
            "\t/usr/local/go/src/net/http/server.go:1898 +0xbe",
            "panic({0x8f1a20?, 0xd5c3e0?})",
            "\t/usr/local/go/src/runtime/panic.go:770 +0x132",
            "github.com/shop/pricing/internal/quote.(*Engine).applyDiscount(0xc0001a2000, 0x0)",
            "\t/src/internal/quote/discount.go:57 +0x1c",
        ]
        c = p + timedelta(milliseconds=6)
        checkout.append(
            _json(
                c,
                "error",
                "checkout",
                "call to pricing failed: EOF (connection reset by peer)",
                trace,
                route=route,
            )
        )
        edge.append(_access(c + timedelta(milliseconds=3), route, 502, 0.012, trace, rnd))
    b = Bundle(
        slug="pricing-deploy-panic",
        title="Checkout: a pricing deploy panics on a nil discount",
        category="go-panic",
        story=(
            "At 14:02:10 UTC `pricing` v2.14.0 (commit 41fa09b) replaced v2.13.4. From 14:02:31"
            " its quote handler dereferenced a nil discount for carts without a promotion code:"
            " Go's HTTP server recovered each `panic` and dropped the connection, `checkout`"
            " logged `call to pricing failed: EOF`, and the edge nginx answered 502 on quotes and"
            " checkouts (carts, which do not price, kept working). The deploy events are in"
            " `samples/pricing-deploy-panic.deploys.jsonl`; `triage … --deploys` names v2.14.0"
            " the suspect.\n\n- Origin service: `pricing`\n- Deploy at fault: `pricing v2.14.0`"
        ),
        first=("pricing.log", "[running]:"),
    )
    b.files = {"nginx/access.log": edge, "checkout.jsonl": checkout, "pricing.log": pricing}
    deploys = [
        {
            "service": "checkout",
            "version": "v5.2.0",
            "ts": "2024-03-14T13:31:05Z",
            "environment": "prod",
            "commit": "77ab310",
            "url": "https://ci.example.com/checkout/deploys/5120",
        },
        {
            "service": "pricing",
            "version": "v2.14.0",
            "started_at": "2024-03-14T14:02:10Z",
            "environment": "prod",
            "commit": "41fa09b",
            "url": "https://ci.example.com/pricing/deploys/2140",
        },
        {
            "service": "pricing",
            "version": "v2.13.4",
            "ts": "2024-03-14T14:09:40Z",
            "environment": "prod",
            "commit": "8d1e7c2",
            "description": "rollback",
        },
    ]
    (HERE / "pricing-deploy-panic.deploys.jsonl").write_text(
        "".join(json.dumps(d) + "\n" for d in deploys)
    )
    return b


# --- 2. the database's disk fills; inventory, orders and the edge fail in turn --------------------


def inventory_db_disk_full() -> Bundle:
    rnd = random.Random(2012)
    start = datetime(2024, 3, 14, 8, 30, tzinfo=UTC)
    full = datetime(2024, 3, 14, 8, 51, 7, 318000, tzinfo=UTC)
    end = datetime(2024, 3, 14, 9, 0, tzinfo=UTC)
    edge: list[str] = []
    orders: list[str] = []
    inventory: list[str] = []
    pg: list[str] = []
    first = True
    job = datetime(2024, 3, 14, 8, 49, 58, 412000, tzinfo=UTC)
    spills = iter(ticks(job + timedelta(seconds=20), full, rnd, 9.0))
    next_spill = next(spills)
    for t in ticks(start, end, rnd, 1.8):
        if job and t >= job:
            pg += [
                f"{ms(job)} UTC [24001] [unknown]@[unknown] LOG:  connection received: host=10.0.9.31 port=51544",
                f"{ms(job)} UTC [24001] reporting@inventory LOG:  connection authorized: user=reporting"
                " database=inventory application_name=stock-snapshot",
            ]
            job = None
        while next_spill and t >= next_spill:
            pg.append(
                f"{ms(next_spill)} UTC [24001] reporting@inventory LOG:  temporary file: path"
                f' "base/pgsql_tmp/pgsql_tmp24001.{len(pg) % 97}", size 1073741824'
            )
            next_spill = next(spills, None)
        trace = _tid(rnd)
        route = rnd.choice(["/api/orders", "/api/orders/reserve"])
        writes = route.endswith("reserve")
        if t >= full and first:
            t, writes, first = full - timedelta(milliseconds=30), True, False
        i = t + timedelta(milliseconds=8)
        d = i + timedelta(milliseconds=3)
        failing = t >= full - timedelta(milliseconds=30) and writes
        pid = rnd.randint(20000, 29999)
        if not failing:
            if writes:
                pg.append(
                    f"{ms(d)} UTC [{pid}] inventory@inventory LOG:  duration: 3.{rnd.randint(100, 999)} ms"
                    "  execute <unnamed>: " + RESERVE
                )
            inventory.append(
                f"{ms(i)} INFO  [inventory] reserved={int(writes)} route={route} request_id={trace}"
            )
            orders.append(
                _json(
                    i + timedelta(milliseconds=12), "info", "orders-api", f"POST {route} 201", trace
                )
            )
            edge.append(_access(i + timedelta(milliseconds=20), route, 201, 0.034, trace, rnd))
            continue
        pg += [
            f'{ms(d)} UTC [{pid}] inventory@inventory ERROR:  could not extend file "base/16385/24611.3": No space left on device',
            f"{ms(d)} UTC [{pid}] inventory@inventory HINT:  Check free disk space.",
            f"{ms(d)} UTC [{pid}] inventory@inventory STATEMENT:  " + RESERVE,
        ]
        e = d + timedelta(milliseconds=2)
        inventory.append(
            f"{ms(e)} ERROR [inventory] reserve failed: postgres error 53100 (disk full) request_id={trace}"
        )
        o = e + timedelta(milliseconds=6)
        orders.append(
            _json(
                o,
                "error",
                "orders-api",
                "call to inventory failed: 500 Internal Server Error",
                trace,
                route=route,
            )
        )
        edge.append(_access(o + timedelta(milliseconds=4), route, 502, 0.021, trace, rnd))
    b = Bundle(
        slug="inventory-db-disk-full",
        title="Orders: the inventory database's disk fills up, three services up the chain fail",
        category="disk-full",
        story=(
            "At 08:49:58 UTC a new `stock-snapshot` report connected to the PostgreSQL instance"
            " (`postgresql`) behind `inventory` and sorted the whole stock history on disk: a"
            " gigabyte of temporary files every few seconds filled the volume at 08:51:07. Reads"
            " went on; every write failed with"
            " `could not extend file … No space left on device`. `inventory` answered 500 to"
            " stock reservations, `orders-api` logged `call to inventory failed`, and the edge"
            " nginx answered 502 on `POST /api/orders/reserve`: the failure began three services"
            " below the edge.\n\n- Origin service: `postgresql`\n- Deploy at fault: none"
        ),
        first=("postgresql.log", "No space left on device"),
    )
    b.files = {
        "nginx/access.log": edge,
        "orders-api.jsonl": orders,
        "inventory.log": inventory,
        "postgresql.log": pg,
    }
    return b


BUILDERS = [pricing_deploy_panic, inventory_db_disk_full]


def write_bundle(b: Bundle) -> None:
    write(b)
    readme = HERE / b.slug / "README.md"
    readme.write_text(
        readme.read_text().replace("samples/generate.py", "samples/multiservice.py")
        + "\nTry: `python manage.py triage samples/"
        + b.slug
        + ".zip"
        + (f" --deploys samples/{b.slug}.deploys.jsonl" if b.slug == "pricing-deploy-panic" else "")
        + " --json`\n",
        encoding="utf-8",
    )


if __name__ == "__main__":
    for build in BUILDERS:
        write_bundle(build())
