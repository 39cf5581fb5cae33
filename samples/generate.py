"""Write the sample incident bundles in samples/ (deterministic: fixed seed and clock).

    python samples/generate.py

Each bundle is a directory of logs in the formats those systems really print, a README.md
naming the root-cause category and the first evidence line (`file:line`), and
`samples/<bundle>.zip` holding the same files for a one-file upload. Re-running rewrites
identical bytes.
"""

from __future__ import annotations

import random
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

HERE = Path(__file__).resolve().parent
ZIP_DATE = (2024, 3, 14, 0, 0, 0)


@dataclass
class Bundle:
    slug: str
    title: str
    category: str
    story: str
    files: dict[str, list[str]] = field(default_factory=dict)
    first: tuple[str, str] = ("", "")  # (file, text that identifies the first evidence line)

    def line_of(self, name: str, needle: str) -> int:
        return next(i for i, line in enumerate(self.files[name], 1) if needle in line)


def ms(t: datetime) -> str:
    return t.strftime("%Y-%m-%d %H:%M:%S.") + f"{t.microsecond // 1000:03d}"


def clf(t: datetime) -> str:
    return t.strftime("%d/%b/%Y:%H:%M:%S +0000")


def ticks(start: datetime, end: datetime, rnd: random.Random, mean_gap: float):
    t = start
    while t < end:
        yield t
        t += timedelta(seconds=rnd.expovariate(1 / mean_gap))


# --- 1. checkout API runs out of database connections ---------------------------------------


def checkout_db_connections() -> Bundle:
    rnd = random.Random(1)
    t0 = datetime(2024, 3, 14, 9, 55, tzinfo=UTC)
    fail = t0 + timedelta(minutes=6, seconds=3.412)  # 10:01:03.412
    end = t0 + timedelta(minutes=9)
    api: list[tuple[datetime, list[str]]] = []
    pg: list[tuple[datetime, str]] = []
    access: list[tuple[datetime, str]] = []
    nginx_err: list[tuple[datetime, str]] = []
    clients = ["203.0.113.24", "198.51.100.7", "192.0.2.45", "203.0.113.99", "198.51.100.81"]
    agents = [
        "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_3) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.3 Safari/605.1.15",
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/122.0.0.0 Safari/537.36",
        "Mozilla/5.0 (iPhone; CPU iPhone OS 17_3 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148",
    ]

    def spring(t: datetime, level: str, thread: str, logger: str, msg: str) -> str:
        return f"{ms(t)} {level:>5} 1 --- [{thread:>15.15}] {logger:<40.40} : {msg}"

    api.append(
        (
            t0 - timedelta(seconds=40),
            [
                spring(
                    t0 - timedelta(seconds=40),
                    "INFO",
                    "main",
                    "c.a.checkout.CheckoutApplication",
                    "Starting CheckoutApplication v2.14.3 using Java 17.0.10 with PID 1 (/app/app.jar started by app in /app)",
                ),
                spring(
                    t0 - timedelta(seconds=39),
                    "INFO",
                    "main",
                    "com.zaxxer.hikari.HikariDataSource",
                    "HikariPool-1 - Starting...",
                ),
                spring(
                    t0 - timedelta(seconds=39),
                    "INFO",
                    "main",
                    "com.zaxxer.hikari.pool.HikariPool",
                    "HikariPool-1 - Added connection org.postgresql.jdbc.PgConnection@5b1f29fa",
                ),
                spring(
                    t0 - timedelta(seconds=39),
                    "INFO",
                    "main",
                    "com.zaxxer.hikari.HikariDataSource",
                    "HikariPool-1 - Start completed.",
                ),
                spring(
                    t0 - timedelta(seconds=31),
                    "INFO",
                    "main",
                    "o.s.b.w.embedded.tomcat.TomcatWebServer",
                    "Tomcat started on port(s): 8080 (http) with context path ''",
                ),
                spring(
                    t0 - timedelta(seconds=31),
                    "INFO",
                    "main",
                    "c.a.checkout.CheckoutApplication",
                    "Started CheckoutApplication in 9.412 seconds (JVM running for 10.127)",
                ),
            ],
        )
    )
    pg.append(
        (
            t0 - timedelta(seconds=50),
            "2024-03-14 09:54:10.002 UTC [1] LOG:  checkpoint starting: time",
        )
    )
    pg.append(
        (
            t0 + timedelta(seconds=70),
            "2024-03-14 09:56:20.114 UTC [1] LOG:  checkpoint complete: wrote 1843 buffers (11.2%); 0 WAL file(s) added, 0 removed, 2 recycled; write=129.871 s, sync=0.006 s, total=129.912 s; sync files=47, longest=0.002 s, average=0.001 s; distance=14752 kB, estimate=15210 kB",
        )
    )
    exec_n = 0
    for t in ticks(t0, end, rnd, 0.9):
        exec_n = exec_n % 200 + 1
        thread = f"nio-8080-exec-{exec_n}"
        client, agent = rnd.choice(clients), rnd.choice(agents)
        order = f"ord_{rnd.getrandbits(40):010x}"
        if t < fail:
            took = rnd.randint(45, 180)
            api.append(
                (
                    t,
                    [
                        spring(
                            t,
                            "INFO",
                            thread,
                            "c.a.checkout.web.CheckoutController",
                            f"POST /api/v1/checkout completed status=200 duration={took}ms orderId={order}",
                        )
                    ],
                )
            )
            access.append(
                (
                    t + timedelta(milliseconds=took),
                    f'{client} - - [{clf(t)}] "POST /api/v1/checkout HTTP/1.1" 200 {rnd.randint(410, 470)} "https://shop.example.com/cart" "{agent}" rt={took / 1000:.3f} uct="0.001" urt="{took / 1000:.3f}"',
                )
            )
            if rnd.random() < 0.3:
                access.append(
                    (
                        t,
                        f'{client} - - [{clf(t)}] "GET /api/v1/cart HTTP/1.1" 200 {rnd.randint(800, 2400)} "https://shop.example.com/" "{agent}" rt=0.012 uct="0.000" urt="0.011"',
                    )
                )
            continue
        # failing: requests wait 30 s for a pooled connection; nginx gives up first (30 s read timeout)
        done = t + timedelta(seconds=30, milliseconds=rnd.randint(1, 40))
        access.append(
            (
                done,
                f'{client} - - [{clf(done)}] "POST /api/v1/checkout HTTP/1.1" 504 562 "https://shop.example.com/cart" "{agent}" rt=30.001 uct="0.001" urt="30.000"',
            )
        )
        nginx_err.append(
            (
                done,
                f'{done.strftime("%Y/%m/%d %H:%M:%S")} [error] 31#31: *{48000 + exec_n * 7 + rnd.randint(0, 6)} upstream timed out (110: Connection timed out) while reading response header from upstream, client: {client}, server: shop.example.com, request: "POST /api/v1/checkout HTTP/1.1", upstream: "http://10.42.1.12:8080/api/v1/checkout", host: "shop.example.com", referrer: "https://shop.example.com/cart"',
            )
        )
        hikari = t + timedelta(seconds=30, milliseconds=rnd.randint(2, 9))
        api.append(
            (
                hikari,
                [
                    spring(
                        hikari,
                        "WARN",
                        thread,
                        "o.h.engine.jdbc.spi.SqlExceptionHelper",
                        "SQL Error: 0, SQLState: null",
                    ),
                    spring(
                        hikari,
                        "ERROR",
                        thread,
                        "o.h.engine.jdbc.spi.SqlExceptionHelper",
                        "HikariPool-1 - Connection is not available, request timed out after 30000ms.",
                    ),
                    spring(
                        hikari,
                        "ERROR",
                        thread,
                        "o.a.c.c.C.[.[.[/].[dispatcherServlet]",
                        "Servlet.service() for servlet [dispatcherServlet] in context with path [] threw exception [Request processing failed; nested exception is org.springframework.transaction.CannotCreateTransactionException: Could not open JPA EntityManager for transaction; nested exception is org.hibernate.exception.JDBCConnectionException: Unable to acquire JDBC Connection] with root cause",
                    ),
                    "",
                    "java.sql.SQLTransientConnectionException: HikariPool-1 - Connection is not available, request timed out after 30000ms.",
                    "\tat com.zaxxer.hikari.pool.HikariPool.createTimeoutException(HikariPool.java:696)",
                    "\tat com.zaxxer.hikari.pool.HikariPool.getConnection(HikariPool.java:197)",
                    "\tat com.zaxxer.hikari.pool.HikariPool.getConnection(HikariPool.java:162)",
                    "\tat com.zaxxer.hikari.HikariDataSource.getConnection(HikariDataSource.java:128)",
                    "\tat org.hibernate.engine.jdbc.connections.internal.DatasourceConnectionProviderImpl.getConnection(DatasourceConnectionProviderImpl.java:122)",
                    "\tat org.hibernate.internal.NonContextualJdbcConnectionAccess.obtainConnection(NonContextualJdbcConnectionAccess.java:38)",
                    "\tat org.hibernate.resource.jdbc.internal.LogicalConnectionManagedImpl.acquireConnectionIfNeeded(LogicalConnectionManagedImpl.java:108)",
                    "\tat org.springframework.orm.jpa.JpaTransactionManager.doBegin(JpaTransactionManager.java:421)",
                    "\tat org.springframework.transaction.support.AbstractPlatformTransactionManager.startTransaction(AbstractPlatformTransactionManager.java:400)",
                    "\tat com.acme.checkout.service.CheckoutService$$EnhancerBySpringCGLIB$$4f2a1c7e.placeOrder(<generated>)",
                    "\tat com.acme.checkout.web.CheckoutController.checkout(CheckoutController.java:57)",
                    "\tat java.base/jdk.internal.reflect.DirectMethodHandleAccessor.invoke(DirectMethodHandleAccessor.java:103)",
                    "\tat org.apache.tomcat.util.threads.TaskThread$WrappingRunnable.run(TaskThread.java:61)",
                    "\tat java.base/java.lang.Thread.run(Thread.java:840)",
                    "Caused by: org.postgresql.util.PSQLException: FATAL: sorry, too many clients already",
                    "\tat org.postgresql.core.v3.ConnectionFactoryImpl.doAuthentication(ConnectionFactoryImpl.java:693)",
                    "\tat org.postgresql.core.v3.ConnectionFactoryImpl.tryConnect(ConnectionFactoryImpl.java:203)",
                    "\tat org.postgresql.core.v3.ConnectionFactoryImpl.openConnectionImpl(ConnectionFactoryImpl.java:258)",
                    "\tat org.postgresql.core.ConnectionFactory.openConnection(ConnectionFactory.java:54)",
                    "\tat org.postgresql.jdbc.PgConnection.<init>(PgConnection.java:263)",
                    "\tat org.postgresql.Driver.makeConnection(Driver.java:443)",
                    "\tat org.postgresql.Driver.connect(Driver.java:297)",
                    "\tat com.zaxxer.hikari.util.DriverDataSource.getConnection(DriverDataSource.java:138)",
                    "\tat com.zaxxer.hikari.pool.PoolBase.newConnection(PoolBase.java:359)",
                    "\tat com.zaxxer.hikari.pool.PoolBase.newPoolEntry(PoolBase.java:201)",
                    "\tat com.zaxxer.hikari.pool.HikariPool.createPoolEntry(HikariPool.java:470)",
                    "\tat com.zaxxer.hikari.pool.HikariPool$PoolEntryCreator.call(HikariPool.java:733)",
                    "\tat com.zaxxer.hikari.pool.HikariPool$PoolEntryCreator.call(HikariPool.java:712)",
                    "\tat java.base/java.util.concurrent.FutureTask.run(FutureTask.java:264)",
                    "\t... 3 common frames omitted",
                ],
            )
        )
    # the nightly order-sync job (connecting as the superuser) opens 60 connections in 3 s
    pid = 28100
    for i in range(60):
        t = fail - timedelta(seconds=3) + timedelta(milliseconds=48 * i)
        pid += rnd.randint(1, 4)
        port = 40000 + rnd.randint(0, 20000)
        pg.append(
            (t, f"{ms(t)} UTC [{pid}] LOG:  connection received: host=10.42.7.31 port={port}")
        )
        pg.append(
            (
                t + timedelta(milliseconds=3),
                f"{ms(t + timedelta(milliseconds=3))} UTC [{pid}] postgres@checkout LOG:  connection authorized: user=postgres database=checkout application_name=order-sync",
            )
        )
    for refused, t in enumerate(ticks(fail, end, rnd, 0.35)):
        pid += rnd.randint(1, 4)
        host = f"10.42.1.{rnd.choice([12, 13, 14])}"
        port = 40000 + rnd.randint(0, 20000)
        pg.append((t, f"{ms(t)} UTC [{pid}] LOG:  connection received: host={host} port={port}"))
        late = t > fail + timedelta(minutes=2)
        message = (
            "FATAL:  remaining connection slots are reserved for non-replication superuser connections"
            if late and refused % 3 == 0
            else "FATAL:  sorry, too many clients already"
        )
        pg.append(
            (
                t + timedelta(milliseconds=1) if refused else fail,
                f"{ms(t + timedelta(milliseconds=1) if refused else fail)} UTC [{pid}] checkout@checkout {message}",
            )
        )
    for t in ticks(fail - timedelta(seconds=2), end, rnd, 20):
        pid += 1
        pg.append(
            (
                t,
                f"{ms(t)} UTC [{28100 + rnd.randint(1, 150)}] postgres@checkout LOG:  duration: {rnd.uniform(8000, 40000):.3f} ms  statement: SELECT o.* FROM orders o LEFT JOIN order_lines l ON l.order_id = o.id WHERE o.updated_at > $1 ORDER BY o.id",  # noqa: S608 a log line
            )
        )

    b = Bundle(
        "checkout-db-connections",
        "Checkout API: PostgreSQL runs out of connections",
        "db-too-many-connections",
        "At 10:00:00 UTC the nightly `order-sync` job started and, connecting as the `postgres` superuser, opened 60 connections within three seconds. PostgreSQL (max_connections = 100) was full: from 10:01:03 every new connection from the checkout API was refused with `FATAL:  sorry, too many clients already` (and later `remaining connection slots are reserved…`). HikariCP could not replace connections, checkout requests waited 30 s for a pooled connection and failed with `Connection is not available, request timed out after 30000ms`; nginx, with a 30 s read timeout, answered 504 to shoppers.",
    )
    b.files = {
        "checkout-api.log": [
            line for _, lines in sorted(api, key=lambda x: x[0]) for line in lines
        ],
        "postgresql.log": [line for _, line in sorted(pg, key=lambda x: x[0])],
        "nginx/access.log": [line for _, line in sorted(access, key=lambda x: x[0])],
        "nginx/error.log": [line for _, line in sorted(nginx_err, key=lambda x: x[0])],
    }
    b.first = ("postgresql.log", "FATAL:  sorry, too many clients already")
    return b


# --- 2. a worker killed by the kernel OOM killer, restarting in a loop ----------------------


def worker_oom_crashloop() -> Bundle:
    rnd = random.Random(2)
    t0 = datetime(2024, 3, 14, 11, 15, tzinfo=UTC)
    node = "ip-10-0-3-17"
    kern: list[str] = []
    guni: list[str] = []

    def j(t: datetime, text: str) -> str:
        return f"{t.strftime('%b %d %H:%M:%S')} {node} kernel: {text}"

    def g(t: datetime, level: str, text: str) -> str:
        return f"[{t.strftime('%Y-%m-%d %H:%M:%S')} +0000] [{{pid}}] [{level}] {text}"

    for t in ticks(t0, t0 + timedelta(minutes=5), rnd, 75):
        iface = f"eni{rnd.getrandbits(40):010x}"
        kern.append(j(t, f"IPv6: ADDRCONF(NETDEV_CHANGE): {iface}: link becomes ready"))

    def oom(t: datetime, host_pid: int, rss_kb: int) -> None:
        pages = rss_kb // 4
        for text in [
            "python3 invoked oom-killer: gfp_mask=0x140cca(GFP_HIGHUSER_MOVABLE|__GFP_COMP), order=0, oom_score_adj=999",
            f"CPU: 1 PID: {host_pid} Comm: python3 Not tainted 5.15.0-1051-aws #56~20.04.1-Ubuntu",
            "Hardware name: Amazon EC2 m5.large/, BIOS 1.0 10/16/2017",
            "Call Trace:",
            " <TASK>",
            " dump_stack_lvl+0x4a/0x63",
            " dump_header+0x4a/0x1f3",
            " oom_kill_process.cold+0xb/0x10",
            " out_of_memory+0x1bd/0x500",
            " __alloc_pages_slowpath.constprop.0+0xbcc/0xc90",
            " __alloc_pages+0x2f1/0x320",
            " alloc_pages_vma+0x92/0x290",
            " do_anonymous_page+0xe9/0x3c0",
            " __handle_mm_fault+0x5c2/0x660",
            " handle_mm_fault+0xd7/0x2c0",
            " do_user_addr_fault+0x1c5/0x670",
            " exc_page_fault+0x77/0x170",
            " asm_exc_page_fault+0x27/0x30",
            " </TASK>",
            "Mem-Info:",
            f"active_anon:{pages + 20311} inactive_anon:4117 isolated_anon:0\n active_file:312 inactive_file:198 isolated_file:0\n unevictable:0 dirty:0 writeback:0\n slab_reclaimable:9021 slab_unreclaimable:14360\n mapped:1877 shmem:1021 pagetables:4315 bounce:0\n kernel_misc_reclaimable:0\n free:16852 free_pcp:61 free_cma:0",
            "Tasks state (memory values in pages):",
            "[  pid  ]   uid  tgid total_vm      rss pgtables_bytes swapents oom_score_adj name",
            "[   1043]     0  1043   443812    11532   385024        0          -999 kubelet",
            "[   1190]     0  1190   378551     6218   282624        0          -999 containerd",
            f"[{host_pid:>7}]  1000 {host_pid:>5}  {pages + 331200:>7}  {pages:>7} {pages * 8:>8}        0           999 python3",
            f"oom-kill:constraint=CONSTRAINT_NONE,nodemask=(null),cpuset=cri-containerd-3f5c0d9a8e41b7d2.scope,mems_allowed=0,global_oom,task_memcg=/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod1b7e0c55_9a34_4d0e_b1f2_6c8d2e7a9f10.slice/cri-containerd-3f5c0d9a8e41b7d2.scope,task=python3,pid={host_pid},uid=1000",
            f"Out of memory: Killed process {host_pid} (python3) total-vm:{(pages + 331200) * 4}kB, anon-rss:{rss_kb}kB, file-rss:2048kB, shmem-rss:0kB, UID:1000 pgtables:{pages * 8 // 1024}kB oom_score_adj:999",
        ]:
            kern.extend(j(t, part) for part in text.split("\n"))

    # gunicorn, started as `python3 -m gunicorn --preload` (so every process is "python3")
    def boot(t: datetime) -> datetime:
        starting = [
            "Starting gunicorn 21.2.0",
            "Listening at: http://0.0.0.0:8000 (1)",
            "Using worker: sync",
        ]
        guni.extend(g(t, "INFO", text).format(pid=1) for text in starting)
        t += timedelta(seconds=2)
        guni.extend(g(t, "INFO", f"Booting worker with pid: {w}").format(pid=w) for w in (7, 8))
        return t

    t = boot(t0 - timedelta(minutes=40))
    requests = ["/v1/score", "/v1/score", "/v1/score/batch", "/healthz"]
    oom_at = datetime(2024, 3, 14, 11, 20, 41, tzinfo=UTC)
    for t in ticks(t0, oom_at, rnd, 1.5):
        path = rnd.choice(requests)
        status, size = (200, 17) if path == "/healthz" else (200, rnd.randint(300, 900))
        guni.append(
            f'10.42.0.{rnd.randint(2, 60)} - - [{clf(t)}] "POST {path} HTTP/1.1" {status} {size} "-" "python-requests/2.31.0"'
        )
    # a /v1/score/batch request loads a 6 GB feature matrix: worker 8 (host pid 4242) is killed
    oom(oom_at, 4242, 7469380)
    guni.append(
        g(
            oom_at + timedelta(milliseconds=300),
            "ERROR",
            "Worker (pid:8) was sent SIGKILL! Perhaps out of memory?",
        ).format(pid=1)
    )
    guni.append(
        g(oom_at + timedelta(milliseconds=500), "INFO", "Booting worker with pid: 23").format(
            pid=23
        )
    )
    stuck = oom_at + timedelta(seconds=31)
    guni.append(g(stuck, "CRITICAL", "WORKER TIMEOUT (pid:7)").format(pid=1))
    guni.append(
        g(
            stuck + timedelta(milliseconds=200),
            "ERROR",
            "Worker (pid:7) was sent SIGKILL! Perhaps out of memory?",
        ).format(pid=1)
    )
    guni.append(
        g(stuck + timedelta(seconds=1), "INFO", "Booting worker with pid: 24").format(pid=24)
    )
    # the retried batch job now kills the arbiter itself (container PID 1): the container exits 137
    restarts = [
        (oom_at + timedelta(seconds=52), 4197),
        (oom_at + timedelta(seconds=95), 5117),
        (oom_at + timedelta(seconds=161), 5820),
        (oom_at + timedelta(seconds=292), 6377),
    ]
    for n, (when, host_pid) in enumerate(restarts):
        oom(when, host_pid, 7402112 + n * 4096)
        if n + 1 < len(restarts):
            t = boot(when + timedelta(seconds=10 * 2**n))
            loading = "Loading feature matrix for batch 2024-03-14 (rows=48211904)"
            guni.append(g(t, "INFO", loading).format(pid=1))

    pod = "score-worker-7d9f8b6c4-x2x7q"
    events = [
        "LAST SEEN   TYPE      REASON              OBJECT                                  MESSAGE",
        f"46m         Normal    Scheduled           pod/{pod}       Successfully assigned ml/{pod} to {node}.ec2.internal",
        f'46m         Normal    Pulled              pod/{pod}       Container image "123456789012.dkr.ecr.eu-west-1.amazonaws.com/score-worker:1.18.0" already present on machine',
        f"46m         Normal    Created             pod/{pod}       Created container worker",
        f"46m         Normal    Started             pod/{pod}       Started container worker",
        f"5m52s       Warning   OOMKilling          node/{node}.ec2.internal        Out of memory: Killed process 4242 (python3) total-vm:11571872kB, anon-rss:7469380kB, file-rss:2048kB, shmem-rss:0kB, UID:1000 pgtables:14588kB oom_score_adj:999",
        f"5m        Warning   OOMKilling          node/{node}.ec2.internal        Out of memory: Killed process 4197 (python3) total-vm:11555488kB, anon-rss:7402112kB, file-rss:2048kB, shmem-rss:0kB, UID:1000 pgtables:14456kB oom_score_adj:999",
        f'4m59s       Normal    Pulled              pod/{pod}       Container image "123456789012.dkr.ecr.eu-west-1.amazonaws.com/score-worker:1.18.0" already present on machine',
        f"4m59s       Normal    Created             pod/{pod}       Created container worker",
        f"4m59s       Normal    Started             pod/{pod}       Started container worker",
        f"4m17s       Warning   OOMKilling          node/{node}.ec2.internal        Out of memory: Killed process 5117 (python3) total-vm:11559584kB, anon-rss:7406208kB, file-rss:2048kB, shmem-rss:0kB, UID:1000 pgtables:14464kB oom_score_adj:999",
        f"3m11s       Warning   OOMKilling          node/{node}.ec2.internal        Out of memory: Killed process 5820 (python3) total-vm:11563680kB, anon-rss:7410304kB, file-rss:2048kB, shmem-rss:0kB, UID:1000 pgtables:14472kB oom_score_adj:999",
        f"62s         Warning   OOMKilling          node/{node}.ec2.internal        Out of memory: Killed process 6377 (python3) total-vm:11567776kB, anon-rss:7414400kB, file-rss:2048kB, shmem-rss:0kB, UID:1000 pgtables:14480kB oom_score_adj:999",
        f"15s (x9)    Warning   BackOff             pod/{pod}       Back-off restarting failed container worker in pod {pod}_ml(1b7e0c55-9a34-4d0e-b1f2-6c8d2e7a9f10)",
    ]
    describe = [
        f"Name:             {pod}",
        "Namespace:        ml",
        f"Node:             {node}.ec2.internal/10.0.3.17",
        "Status:           Running",
        "Containers:",
        "  worker:",
        "    Image:          123456789012.dkr.ecr.eu-west-1.amazonaws.com/score-worker:1.18.0",
        "    Command:        python3 -m gunicorn --preload --workers 2 --timeout 30 score.app:app",
        "    State:          Waiting",
        "      Reason:       CrashLoopBackOff",
        "    Last State:     Terminated",
        "      Reason:       OOMKilled",
        "      Exit Code:    137",
        "      Started:      Thu, 14 Mar 2024 11:23:01 +0000",
        "      Finished:     Thu, 14 Mar 2024 11:25:32 +0000",
        "    Ready:          False",
        "    Restart Count:  4",
        "    Requests:",
        "      cpu:     500m",
        "      memory:  2Gi",
        "    Environment:",
        "      BATCH_SCORING:  enabled",
        "QoS Class:                   Burstable",
        "Events:",
        "  Type     Reason     Age                    From     Message",
        "  ----     ------     ----                   ----     -------",
        '  Normal   Pulled     4m59s (x4 over 46m)    kubelet  Container image "123456789012.dkr.ecr.eu-west-1.amazonaws.com/score-worker:1.18.0" already present on machine',
        f"  Warning  BackOff    15s (x9 over 4m)       kubelet  Back-off restarting failed container worker in pod {pod}_ml(1b7e0c55-9a34-4d0e-b1f2-6c8d2e7a9f10)",
    ]
    b = Bundle(
        "worker-oom-crashloop",
        "Scoring worker killed by the kernel OOM killer, restarting in a loop",
        "oom-kernel",
        "The `score-worker` pod has a memory request of 2 GiB and no limit, on an 8 GiB node. At 11:20:41 UTC a `/v1/score/batch` request loaded a 48-million-row feature matrix; the node ran out of memory and the kernel OOM killer (global OOM, `CONSTRAINT_NONE`) killed the gunicorn worker (host pid 4242, container pid 8). Gunicorn reported `Worker (pid:8) was sent SIGKILL! Perhaps out of memory?`; the other worker stalled and hit `WORKER TIMEOUT`. The retried batch then loaded in the `--preload` arbiter itself, so the container's PID 1 was killed: exit code 137, `OOMKilled`, `Back-off restarting failed container`, `CrashLoopBackOff`.",
    )
    b.files = {
        "journal-kernel.log": kern,
        "gunicorn.log": guni,
        "kubectl-get-events.txt": events,
        "kubectl-describe-pod.txt": describe,
    }
    b.first = ("journal-kernel.log", "Out of memory: Killed process 4242 (python3)")
    return b


# --- 3. an expired TLS certificate behind the load balancer ---------------------------------


def tls_cert_expired() -> Bundle:
    rnd = random.Random(3)
    t0 = datetime(2024, 3, 14, 11, 56, tzinfo=UTC)
    expiry = datetime(2024, 3, 14, 11, 59, 59, tzinfo=UTC)
    end = t0 + timedelta(minutes=8)
    orders: list[tuple[datetime, str]] = []
    web: list[tuple[datetime, str]] = []
    nginx: list[tuple[datetime, str]] = []
    envoy: list[tuple[datetime, str]] = []

    def zap(t: datetime, level: str, caller: str, msg: str, extra: str) -> str:
        return f'{{"level":"{level}","ts":{t.timestamp():.6f},"caller":"{caller}","msg":"{msg}",{extra}}}'

    def rfc(t: datetime) -> str:
        return t.strftime("%Y-%m-%dT%H:%M:%SZ")

    for t in ticks(t0, end, rnd, 0.8):
        order = f"ord_{rnd.getrandbits(40):010x}"
        req = f"{rnd.getrandbits(64):016x}"
        ok = t < expiry + timedelta(seconds=1)  # NotAfter is inclusive
        took = rnd.randint(20, 140)
        if ok:
            orders.append(
                (
                    t,
                    zap(
                        t,
                        "info",
                        "payments/client.go:61",
                        "charge ok",
                        f'"order_id":"{order}","amount_cents":{rnd.randint(500, 25000)},"latency_ms":{took},"request_id":"{req}"',
                    ),
                )
            )
            web.append(
                (
                    t,
                    f'{{"level":30,"time":{int(t.timestamp() * 1000)},"pid":1,"hostname":"checkout-web-6c9d8f7b5-k2m4p","reqId":"{req}","req":{{"method":"POST","url":"/checkout/pay"}},"res":{{"statusCode":200}},"responseTime":{took + 9},"msg":"request completed"}}',
                )
            )
            envoy.append(
                (
                    t,
                    f'[{t.strftime("%Y-%m-%dT%H:%M:%S.")}{t.microsecond // 1000:03d}Z] "POST /v1/charge HTTP/1.1" 200 - 187 96 {took} {took - 2} "10.0.4.21" "checkout-web/3.2.0" "{req}" "payments.internal:8443" "10.0.7.14:8443"',
                )
            )
            continue
        now = t.replace(microsecond=0)
        orders.append(
            (
                t,
                zap(
                    t,
                    "error",
                    "payments/client.go:88",
                    "charge failed",
                    f'"order_id":"{order}","request_id":"{req}","attempt":1,"error":"Post \\"https://payments.internal:8443/v1/charge\\": tls: failed to verify certificate: x509: certificate has expired or is not yet valid: current time {rfc(now)} is after {rfc(expiry)}"',
                ),
            )
        )
        envoy.append(
            (
                t,
                f'[{t.strftime("%Y-%m-%dT%H:%M:%S.")}{t.microsecond // 1000:03d}Z] "POST /v1/charge HTTP/1.1" 503 UF,URX 0 190 {rnd.randint(3, 9)} - "10.0.4.21" "checkout-web/3.2.0" "{req}" "payments.internal:8443" "10.0.7.14:8443" "TLS_error:|268435581:SSL routines:OPENSSL_internal:CERTIFICATE_VERIFY_FAILED:TLS_error_end"',
            )
        )
        web.append(
            (
                t + timedelta(milliseconds=12),
                f'{{"level":50,"time":{int(t.timestamp() * 1000) + 12},"pid":1,"hostname":"checkout-web-6c9d8f7b5-k2m4p","reqId":"{req}","upstream":"payments.internal:8443","status":503,"body":"upstream connect error or disconnect/reset before headers. retried and the latest reset reason: remote connection failure, transport failure reason: TLS_error:|268435581:SSL routines:OPENSSL_internal:CERTIFICATE_VERIFY_FAILED:TLS_error_end","msg":"payment upstream responded 503"}}',
            )
        )
        web.append(
            (
                t + timedelta(milliseconds=13),
                f'{{"level":30,"time":{int(t.timestamp() * 1000) + 13},"pid":1,"hostname":"checkout-web-6c9d8f7b5-k2m4p","reqId":"{req}","req":{{"method":"POST","url":"/checkout/pay"}},"res":{{"statusCode":502}},"responseTime":{rnd.randint(15, 30)},"msg":"request completed"}}',
            )
        )
        if rnd.random() < 0.5:  # partner callbacks come in through the edge nginx
            conn = rnd.randint(1100, 9900)
            stamp = t.strftime("%Y/%m/%d %H:%M:%S")
            client = f"198.51.100.{rnd.randint(2, 250)}"
            nginx.append(
                (
                    t,
                    f'{stamp} [error] 29#29: *{conn} upstream SSL certificate verify error: (10:certificate has expired) while SSL handshaking to upstream, client: {client}, server: api.example.com, request: "POST /v1/payments/callback HTTP/1.1", upstream: "https://10.0.7.14:8443/v1/payments/callback", host: "api.example.com"',
                )
            )
            nginx.append(
                (
                    t,
                    f'{stamp} [error] 29#29: *{conn} SSL_do_handshake() failed (SSL: error:0A000086:SSL routines::certificate verify failed) while SSL handshaking to upstream, client: {client}, server: api.example.com, request: "POST /v1/payments/callback HTTP/1.1", upstream: "https://10.0.7.14:8443/v1/payments/callback", host: "api.example.com"',
                )
            )
    nginx.insert(
        0, (t0 - timedelta(hours=2), "2024/03/14 09:41:07 [notice] 1#1: signal process started")
    )
    b = Bundle(
        "tls-cert-expired",
        "Payments certificate expired: TLS failures behind the load balancer",
        "tls-cert",
        "The certificate of `payments.internal` (served on 10.0.7.14:8443) expired at 2024-03-14T11:59:59Z; cert-manager had been failing to renew it for two weeks. From 12:00:00 every TLS client refused it: the Go `orders-service` logged `x509: certificate has expired or is not yet valid`, the Envoy sidecar of `checkout-web` answered 503 (`UF`, `CERTIFICATE_VERIFY_FAILED`), so checkout-web returned 502 to shoppers, and the edge nginx failed partner callbacks with `SSL_do_handshake() failed (SSL: error:0A000086:SSL routines::certificate verify failed)`.",
    )
    b.files = {
        "orders-service.jsonl": [line for _, line in sorted(orders, key=lambda x: x[0])],
        "checkout-web.jsonl": [line for _, line in sorted(web, key=lambda x: x[0])],
        "envoy-access.log": [line for _, line in sorted(envoy, key=lambda x: x[0])],
        "nginx-edge-error.log": [line for _, line in sorted(nginx, key=lambda x: x[0])],
    }
    b.first = ("orders-service.jsonl", "x509: certificate has expired or is not yet valid")
    return b


BUILDERS: list[Callable[[], Bundle]] = [
    checkout_db_connections,
    worker_oom_crashloop,
    tls_cert_expired,
]


def readme(b: Bundle) -> str:
    name, needle = b.first
    line = b.line_of(name, needle)
    files = "\n".join(f"- `{f}`: {len(lines):,} lines" for f, lines in b.files.items())
    return (
        f"# {b.title}\n\n{b.story}\n\n"
        f"- Root-cause category: `{b.category}`\n"
        f"- First evidence: `{name}:{line}` — `{needle}`\n\n"
        f"Files (upload the directory's files, or `samples/{b.slug}.zip`):\n\n{files}\n\n"
        "Generated by `python samples/generate.py` (fixed seed and clock); edit the generator,"
        " not the logs.\n"
    )


def write(b: Bundle) -> None:
    root = HERE / b.slug
    contents = {name: "\n".join(lines) + "\n" for name, lines in b.files.items()}
    contents["README.md"] = readme(b)
    for name, text in contents.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8", newline="\n")
    with zipfile.ZipFile(HERE / f"{b.slug}.zip", "w", zipfile.ZIP_DEFLATED) as archive:
        for name in sorted(contents):
            if name == "README.md":  # the zip is what users upload: logs only
                continue
            info = zipfile.ZipInfo(f"{b.slug}/{name}", ZIP_DATE)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            archive.writestr(info, contents[name])


if __name__ == "__main__":
    for build in BUILDERS:
        write(build())
