"""Multi-service incidents shaped on public incident threads, labelled with the origin service
and the deploy at fault. Used with the generated corpus (corpus.py) by the tests and the bench.

The generated corpus has one generator's shapes. These cases have the shapes of real stacks as
their users posted them in public issues (the URL is in each case's notes): Harbor's
syslog-collected component logs, `docker compose logs` with several services in one file,
Sentry self-hosted's consumers, GitLab Omnibus's `current` files, a Node queue worker on Redis,
Kubernetes events beside a pod's log, MySQL 8's error log under a PHP app, a Django deploy
whose migration did not run. The lines are written anew in those formats (the threads'
excerpts are short and unlabelled; nothing is copied), around the failure each thread reports,
with normal traffic before it and jitter from the seed.
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from .corpus import Case

Fmt = Callable[[datetime, str, str, random.Random], str]


@dataclass(frozen=True, slots=True)
class Part:
    path: str  # the file it writes to (several parts may share one: docker compose)
    fmt: Fmt  # (time, level, message, rng) -> line
    normal: tuple[str, ...]  # messages of normal operation ("{rid}" = a request id)
    failing: tuple[str, ...] = ()  # its messages once the failure reaches it
    delay: float = 0.0  # seconds after the failure's start that it reaches this part
    every: float = 4.0  # mean seconds between its normal lines
    level: str = "ERROR"  # the level its failing lines are written at


def _ms(t: datetime) -> str:
    return f"{t:%Y-%m-%d %H:%M:%S}.{t.microsecond // 1000:03d}"


def syslog(tag: str, inner: Fmt) -> Fmt:
    """Harbor's log collector: rsyslog lines tagged with the component."""
    return lambda t, lv, m, r: (
        f"{t:%b %d %H:%M:%S} 172.18.0.1 {tag}[{1400 + len(tag)}]: " + inner(t, lv, m, r)
    )


def compose(name: str, inner: Fmt, width: int = 28) -> Fmt:
    """`docker compose logs`: the container's name, padded, a bar, its line."""
    return lambda t, lv, m, r: f"{name:<{width}}| " + inner(t, lv, m, r)


def harbor_go(t, lv, m, r):
    return f"{t:%Y-%m-%dT%H:%M:%SZ} [{lv}] [/server/middleware/log.go:{30 + len(m) % 50}]: {m}"


def pg(t, lv, m, r):
    word = {"INFO": "LOG", "WARN": "WARNING"}.get(lv, lv)
    return f"{_ms(t)} UTC [{r.randint(900, 9999)}] {word}:  {m}"


def pg_bare(t, lv, m, r):  # postgres under syslog: no time of its own
    return f"{({'INFO': 'LOG'}).get(lv, lv)}:  {m}"


def access(t, lv, m, r):
    """nginx combined log; `m` is "METHOD PATH STATUS"."""
    method, path, status = m.split()
    return (
        f'172.18.0.{r.randint(2, 9)} - - [{t:%d/%b/%Y:%H:%M:%S} +0000] "{method} {path} HTTP/1.1"'
        f' {status} {r.randint(150, 9000)} "-" "Mozilla/5.0 (X11; Linux x86_64) Firefox/124.0"'
    )


def nginx_error(t, lv, m, r):
    return f"{t:%Y/%m/%d %H:%M:%S} [{lv.lower()}] 22#22: *{r.randint(10, 999)} {m}"


def pylog(t, lv, m, r):
    return f"{t:%Y-%m-%d %H:%M:%S},{t.microsecond // 1000:03d} {lv} {m}"


def log4j(t, lv, m, r):
    return f"[{t:%Y-%m-%d %H:%M:%S},{t.microsecond // 1000:03d}] {lv} {m}"


def json_fields(**extra) -> Fmt:
    def fmt(t, lv, m, r):
        obj = {"time": t.isoformat(timespec="milliseconds").replace("+00:00", "Z")}
        obj.update(level=lv.lower(), msg=m, **extra)
        return json.dumps(obj)

    return fmt


def spring(t, lv, m, r):
    return f"{_ms(t)}  {lv:>5} 1 --- [nio-8080-exec-{r.randint(1, 9)}] c.a.checkout.Api : {m}"


def envoy(t, lv, m, r):
    """Envoy's default access log; `m` is "METHOD PATH STATUS FLAGS"."""
    method, path, status, flags = m.split()
    stamp = t.isoformat(timespec="milliseconds").replace("+00:00", "Z")
    return f'[{stamp}] "{method} {path} HTTP/1.1" {status} {flags} 0 91 3 - "-" "okhttp/4.12.0"'


def laravel(t, lv, m, r):
    return f"[{t:%Y-%m-%d %H:%M:%S}] production.{lv}: {m}"


def mysql8(t, lv, m, r):
    word = {"INFO": "System", "WARN": "Warning", "ERROR": "ERROR"}[lv]
    return f"{t:%Y-%m-%dT%H:%M:%S}.{t.microsecond:06d}Z 0 [{word}] {m}"


def node_queue(t, lv, m, r):
    return f"{t:%Y-%m-%dT%H:%M:%S}.{t.microsecond // 1000:03d} {lv} [queue] {m}"


def redis(t, lv, m, r):
    mark = {"INFO": "*", "WARN": "#", "ERROR": "#"}[lv]
    return f"1:M {t:%d %b %Y %H:%M:%S}.{t.microsecond // 1000:03d} {mark} {m}"


def build(
    name: str,
    seed: int,
    parts: dict[str, Part],
    *,
    origin: str,
    source: str,
    fault: tuple[str, str] | None = None,
    deploys: tuple[tuple[str, str, float], ...] = (),  # (service, version, minutes from onset)
    extra: Callable[[datetime, random.Random], dict[str, list[tuple[datetime, str]]]] | None = None,
) -> Case:
    """Normal traffic in every part for 10-20 minutes, then the failure: requests failing from
    the onset, reaching each part `delay` seconds after they start (with jitter)."""
    rng = random.Random(seed)
    start = datetime(2024, 3, 1 + seed % 27, 8, 0, tzinfo=UTC) + timedelta(minutes=seed % 45)
    onset = start + timedelta(minutes=rng.randint(10, 20), seconds=rng.uniform(0, 59))
    end = onset + timedelta(minutes=rng.randint(3, 6))
    lines: dict[str, list[tuple[datetime, str]]] = {}
    for part in parts.values():
        t = start + timedelta(seconds=rng.uniform(0, part.every))
        while t < end:
            rid = f"{rng.getrandbits(64):016x}"
            message = rng.choice(part.normal).format(rid=rid)
            lines.setdefault(part.path, []).append((t, part.fmt(t, "INFO", message, rng)))
            t += timedelta(seconds=rng.expovariate(1 / part.every))
    t = onset
    while t < end:
        rid = f"{rng.getrandbits(64):016x}"
        for part in parts.values():
            if part.failing:
                at = t + timedelta(seconds=part.delay * rng.uniform(0.8, 1.2))
                message = rng.choice(part.failing).format(rid=rid)
                lines.setdefault(part.path, []).append((at, part.fmt(at, part.level, message, rng)))
        t += timedelta(seconds=rng.uniform(0.5, 2.5))
    if extra is not None:
        for path, more in extra(onset, rng).items():
            lines.setdefault(path, []).extend(more)
    files = {path: "".join(f"{text}\n" for _, text in sorted(rows)) for path, rows in lines.items()}
    stamp = {"environment": "production"}
    marks = [
        {"service": s, "version": v, "ts": (onset + timedelta(minutes=m)).isoformat(), **stamp}
        for s, v, m in deploys
    ]
    return Case(name, files, origin, fault, marks, [f"shaped on: {source}"])


PAGES = ("GET /api/v2.0/projects 200", "GET /api/v2.0/repositories 200", "GET / 200")


def harbor_db_clients(seed: int) -> Case:
    """PostgreSQL runs out of connections; Harbor's core fails its queries; the proxy 500s."""
    return build(
        "harbor-db-clients",
        seed,
        {
            "postgresql": Part(
                "harbor/postgresql.log",
                syslog("postgresql", pg_bare),
                ("checkpoint starting: time", "checkpoint complete: wrote 12 buffers (0.1%)"),
                ("sorry, too many clients already",),
                delay=0.0,
                every=30,
                level="FATAL",
            ),
            "core": Part(
                "harbor/core.log",
                syslog("core", harbor_go),
                ("GET /api/v2.0/projects 200 {rid}", "GET /api/v2.0/ping 200"),
                (
                    "failed to get project: pq: sorry, too many clients already",
                    "failed to query artifacts: pq: sorry, too many clients already",
                ),
                delay=0.2,
            ),
            "proxy": Part(
                "harbor/proxy.log",
                syslog("proxy", access),
                PAGES,
                ("GET /api/v2.0/projects 500", "GET /api/v2.0/repositories 500"),
                delay=0.4,
                every=2,
            ),
        },
        origin="postgresql",
        source="https://github.com/goharbor/harbor/issues/15357",
    )


def harbor_adminserver(seed: int) -> Case:
    """Harbor's adminserver cannot read its key and exits; core cannot reach it; proxy 502s."""
    return build(
        "harbor-adminserver-down",
        seed,
        {
            "adminserver": Part(
                "harbor/adminserver.log",
                syslog("adminserver", harbor_go),
                ("GET /api/configurations 200",),
                ("failed to initialize the system: read /etc/adminserver/key: permission denied",),
                every=20,
                level="FATAL",
            ),
            "core": Part(
                "harbor/core.log",
                syslog("core", harbor_go),
                ("GET /api/v2.0/ping 200", "GET /api/v2.0/projects 200"),
                (
                    "failed to connect to tcp://adminserver:8080, retry after 2 seconds :dial tcp:"
                    " lookup adminserver on 127.0.0.11:53: no such host",
                ),
                delay=2.0,
            ),
            "proxy": Part(
                "harbor/proxy.log",
                syslog("proxy", access),
                PAGES,
                ("GET / 502", "GET /api/v2.0/projects 502"),
                delay=2.5,
                every=2,
            ),
        },
        origin="adminserver",
        source="https://github.com/goharbor/harbor/issues/7008",
    )


def misp_compose(seed: int) -> Case:
    """One `docker compose logs` file: the app's Apache exits, the proxy's upstream refuses."""
    out = "compose.log"
    return build(
        "misp-compose-upstream",
        seed,
        {
            "misp-server": Part(
                out,
                compose("misp-server", pylog),
                ("success: apache2 entered RUNNING state", "INFO reaped unknown pid 812"),
                ("exited: apache2 (exit status 1; not expected)", "gave up: apache2 entered FATAL"),
                every=40,
            ),
            "misp-proxy": Part(
                out,
                compose("misp-proxy", nginx_error),
                ("client closed keepalive connection",),
                (
                    "connect() failed (111: Connection refused) while connecting to upstream, "
                    'client: 192.168.47.1, server: misp, request: "GET / HTTP/2.0", upstream: '
                    '"https://misp-server:443/"',
                ),
                delay=0.8,
                every=8,
            ),
            "misp-db": Part(
                out,
                compose("misp-db", mysql8),
                ("[MY-010931] [Server] /usr/sbin/mysqld: ready for connections.",),
                every=60,
            ),
        },
        origin="misp-server",
        source="https://github.com/DCSO/MISP-dockerized/issues/66",
    )


def sentry_kafka(seed: int) -> Case:
    """Sentry self-hosted: Kafka's disk fills; the consumers and Relay cannot reach it."""
    out = "docker-compose.log"
    name = "sentry-self-hosted-{}-1"
    return build(
        "sentry-kafka-disk",
        seed,
        {
            "kafka": Part(
                out,
                compose(name.format("kafka"), log4j, 52),
                ("[Log partition=events-0] Rolled new log segment (kafka.log.LocalLog)",),
                (
                    "Error while appending records to events-0 in dir /var/lib/kafka/data "
                    "(kafka.server.LogDirFailureChannel) java.io.IOException: No space left on "
                    "device",
                ),
                every=25,
            ),
            "snuba": Part(
                out,
                compose(name.format("snuba-consumer"), pylog, 52),
                ("Completed processing <Batch: 12 messages>", "Checking Clickhouse connections"),
                (
                    "Caught ConsumerError('KafkaError{{code=_TRANSPORT,val=-195,str=\"kafka:9092"
                    "/bootstrap: Connect to ipv4#172.18.0.33:9092 failed: Connection refused\"}}')"
                    ", shutting down...",
                ),
                delay=1.5,
                every=6,
            ),
            "relay": Part(
                out,
                compose(name.format("relay"), json_fields(target="relay_server")),
                ("spawning http server", "accepted envelope {rid}"),
                ("failed to produce message to Kafka (delivery callback): BrokerTransportFailure",),
                delay=2.0,
                every=3,
            ),
        },
        origin="sentry-self-hosted-kafka",  # compose's replica number is dropped
        source="https://github.com/getsentry/self-hosted/issues/2700",
    )


def gitlab_pg_disk(seed: int) -> Case:
    """GitLab Omnibus: PostgreSQL cannot write WAL (disk full); Rails raises PG errors;
    Workhorse and nginx answer 500/502."""
    return build(
        "gitlab-postgres-disk-full",
        seed,
        {
            "postgresql": Part(
                "gitlab/postgresql/current",
                pg,
                ("checkpoint starting: time", "automatic vacuum of table ci_builds"),
                ('could not write to file "pg_wal/xlogtemp.{rid}": No space left on device',),
                every=30,
                level="PANIC",
            ),
            "gitlab-rails": Part(
                "gitlab/gitlab-rails/production_json.log",
                json_fields(correlation_id="01HQ", method="GET"),
                ("Completed 200 OK in 41ms", "Completed 302 Found in 12ms"),
                (
                    "PG::ConnectionBad: could not connect to server: Connection refused Is the "
                    "server running on host postgresql and accepting TCP/IP connections",
                ),
                delay=0.5,
            ),
            "gitlab-workhorse": Part(
                "gitlab/gitlab-workhorse/current",
                json_fields(uri="/api/v4/projects"),
                ("access", "finished streaming HTTP response"),
                ("badgateway: failed to receive response: context canceled",),
                delay=1.0,
                every=3,
            ),
            "nginx": Part(
                "gitlab/nginx/gitlab_access.log",
                access,
                ("GET /api/v4/projects 200", "GET /users/sign_in 200"),
                ("GET /api/v4/projects 502", "GET /dashboard 502"),
                delay=1.2,
                every=2,
            ),
        },
        origin="postgresql",
        source="https://github.com/gitlabhq/gitlabhq/issues/8558",
    )


def redis_oom(seed: int) -> Case:
    """Redis at maxmemory refuses writes: the queue jobs fail; Redis says so only at WARN."""
    return build(
        "redis-maxmemory",
        seed,
        {
            "redis": Part(
                "redis/redis.log",
                redis,
                ("DB saved on disk", "Background saving started by pid 512"),
                ("Can't save in background: fork: Cannot allocate memory",),
                every=60,
                level="WARN",
            ),
            "indexer": Part(
                "indexer.log",
                node_queue,
                ("IndexBlocks job done in 120ms", "AccountQueueByAddress job done"),
                (
                    "IndexBlocks job error,ReplyError: OOM command not allowed when used memory "
                    "> 'maxmemory'.",
                ),
                delay=0.3,
                every=3,
            ),
            "gateway": Part(
                "gateway/access.log",
                access,
                ("GET /api/v3/blocks 200", "GET /api/v3/transactions 200"),
                ("GET /api/v3/blocks 503",),
                delay=0.8,
                every=2,
            ),
        },
        origin="redis",
        source="https://github.com/LiskArchive/lisk-service/issues/1919",
    )


def _k8s_rollout(onset: datetime, rng: random.Random) -> dict[str, list[tuple[datetime, str]]]:
    t = onset - timedelta(seconds=rng.randint(30, 90))
    rows = [
        (t, "ScalingReplicaSet", "Scaled up replica set checkout-6f7d9c8b5 from 0 to 1"),
        (t + timedelta(seconds=2), "Pulling", 'Pulling image "registry.acme.io/checkout:1.9.0"'),
        (
            t + timedelta(seconds=9),
            "ScalingReplicaSet",
            "Scaled down replica set checkout-5c8b7d4f6 to 2",
        ),
    ]
    return {
        "k8s/events.jsonl": [
            (
                ts,
                json.dumps(
                    {"lastTimestamp": ts.isoformat().replace("+00:00", "Z"), "type": "Normal"}
                    | {"reason": reason, "message": msg, "involvedObject": {"name": "checkout"}}
                ),
            )
            for ts, reason, msg in rows
        ],
        "checkout/app.log": [
            (
                t + timedelta(seconds=12),
                spring(
                    t + timedelta(seconds=12),
                    "INFO",
                    "Starting CheckoutApplication v1.9.0 using Java 21.0.2 with PID 1",
                    rng,
                ),
            )
        ],
    }


def k8s_checkout_rollout(seed: int) -> Case:
    """A rollout of checkout 1.9.0 (events and its start line) begins NullPointerExceptions;
    the Envoy gateway answers 500; payments, deployed earlier, is innocent."""
    return build(
        "k8s-checkout-rollout",
        seed,
        {
            "checkout": Part(
                "checkout/app.log",
                spring,
                ("Order {rid} priced in 18ms", "Cart {rid} loaded"),
                (
                    "Request processing failed: java.lang.NullPointerException: Cannot invoke "
                    '"Promotion.discount()" because "promo" is null',
                ),
                every=2,
            ),
            "gateway": Part(
                "gateway/access.log",
                envoy,
                ("POST /checkout 200 -", "GET /cart 200 -"),
                ("POST /checkout 500 -",),
                delay=0.05,
                every=1.5,
            ),
        },
        origin="checkout",
        fault=("checkout", "1.9.0"),
        deploys=(("payments", "4.2.1", -11), ("checkout", "1.9.0", -1)),
        extra=_k8s_rollout,
        source="https://kubernetes.io/docs/concepts/workloads/controllers/deployment/",
    )


def laravel_mysql_disk(seed: int) -> Case:
    """MySQL 8 hits a full disk (InnoDB error 28); the Laravel app gets connection errors."""
    return build(
        "laravel-mysql-disk",
        seed,
        {
            "mysql": Part(
                "mysql/error.log",
                mysql8,
                ("[MY-013360] [Server] Plugin sha256_password reported: deprecated",),
                (
                    "[MY-012592] [InnoDB] Operating system error number 28 in a file operation.",
                    "[MY-012596] [InnoDB] Error number 28 means 'No space left on device'",
                ),
                every=90,
            ),
            "laravel": Part(
                "app/storage/logs/laravel.log",
                laravel,
                ("Order {rid} created", "User login ok"),
                (
                    "SQLSTATE[HY000]: General error: 1030 Got error 28 - 'No space left on "
                    "device' from storage engine (SQL: insert into `orders` ...)",
                ),
                delay=0.1,
                every=3,
            ),
            "nginx": Part(
                "nginx/access.log",
                access,
                ("POST /orders 201", "GET /orders 200"),
                ("POST /orders 500",),
                delay=0.15,
                every=2,
            ),
        },
        origin="mysql",
        source="MySQL 8's error log and Laravel's (a common failure; no thread to cite)",
    )


def django_missing_migration(seed: int) -> Case:
    """web 2024.05.2 is deployed without its migration: PostgreSQL rejects its queries (and logs
    them first); the deploy of web is at fault and web is where it began."""

    def started(onset, rng):
        t = onset - timedelta(seconds=rng.randint(40, 120))
        line = pylog(t, "INFO", "Starting web version 2024.05.2 (gunicorn 22.0.0)", rng)
        return {"web/app.log": [(t, line)]}

    return build(
        "django-missing-migration",
        seed,
        {
            "web": Part(
                "web/app.log",
                pylog,
                ("GET /orders/ 200 in 35ms", "POST /cart/ 200 in 22ms"),
                (
                    "Internal Server Error: /orders/ django.db.utils.ProgrammingError: column "
                    "orders_order.discount_code does not exist",
                ),
                delay=0.01,
                every=2,
            ),
            "postgres": Part(
                "postgres/postgresql.log",
                pg,
                ("checkpoint complete: wrote 40 buffers",),
                ("column orders_order.discount_code does not exist at character 88",),
                every=45,
            ),
        },
        origin="web",
        fault=("web", "2024.05.2"),
        deploys=(("web", "2024.05.2", -1.5),),
        extra=started,
        source="Django and PostgreSQL logs (a common failure; no thread to cite)",
    )


SHAPES = (
    harbor_db_clients,
    harbor_adminserver,
    misp_compose,
    sentry_kafka,
    gitlab_pg_disk,
    redis_oom,
    k8s_checkout_rollout,
    laravel_mysql_disk,
    django_missing_migration,
)


def shaped(seed: int = 7) -> list[Case]:
    return [shape(seed) for shape in SHAPES]
