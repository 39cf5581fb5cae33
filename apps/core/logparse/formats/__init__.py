"""The catalogue of log formats: named data, each with a header parser and real example lines.

Order of preference when several formats accept a line is `specificity` (highest first). Lines
are dispatched on their first character, so a line is only offered to the formats that can start
with it (a `{` goes to the JSON family, a digit to the timestamp-first formats, ...).
"""

from __future__ import annotations

from . import apps, containers, structured, syslog, web
from .spec import DIGITS, LOWER, UPPER, Fields, Format, set_inner_parser

_ALNUM = DIGITS + LOWER + UPPER
_MONTH_INITIALS = "JFMASOND"

FORMATS: tuple[Format, ...] = (
    # -- JSON family ------------------------------------------------------------------------
    Format(
        "docker-json",
        structured.parse_docker_json,
        (
            '{"log":"2024-01-15 14:02:11.123 ERROR [main] c.e.Api - boom\\n","stream":"stderr","time":"2024-01-15T14:02:11.123456789Z"}',
            '{"log":"plain text\\n","stream":"stdout","time":"2024-01-15T14:02:11.5Z"}',
        ),
        specificity=9,
        first="{",
        headers=False,
        description="Docker json-file driver; the `log` value is unwrapped and parsed",
    ),
    Format(
        "journald-json",
        structured.parse_journald_json,
        (
            '{"__REALTIME_TIMESTAMP":"1705327331123456","PRIORITY":"3","_HOSTNAME":"web-1","_SYSTEMD_UNIT":"nginx.service","_PID":"812","MESSAGE":"worker process exited on signal 9"}',
        ),
        specificity=9,
        first="{",
        headers=False,
        description="journalctl -o json",
    ),
    Format(
        "json",
        structured.parse_json,
        (
            '{"@timestamp":"2024-01-15T14:02:11.123Z","log.level":"error","message":"db down","service.name":"checkout","trace.id":"abc123"}',
            '{"Timestamp":"1705327331123000000","SeverityText":"ERROR","SeverityNumber":17,"Body":"payment failed","Resource":{"service.name":"payments"},"TraceId":"5b8efff798038103d269b633813fc60c"}',
            '{"name":"api","hostname":"web-1","pid":42,"level":50,"msg":"request failed","time":"2024-01-15T14:02:11.123Z","v":0}',
            '{"level":30,"time":1705327331123,"pid":7,"hostname":"h","msg":"listening"}',
            '{"event":"user logged in","level":"info","timestamp":"2024-01-15T14:02:11.123456Z","user_id":7}',
            '{"level":"error","msg":"dial tcp: i/o timeout","time":"2024-01-15T14:02:11Z"}',
            '{"level":"error","ts":1705327331.123,"caller":"api/handler.go:42","msg":"upstream timeout","request_id":"r-1"}',
            '{"severity":"ERROR","textPayload":"OOMKilled","timestamp":"2024-01-15T14:02:11.123Z"}',
            '{"severity":"WARNING","jsonPayload":{"message":"slow query"},"timestamp":"2024-01-15T14:02:11Z"}',
            '{"timestamp":1705327331123,"message":"ERROR Task timed out after 30.03 seconds"}',
        ),
        specificity=4,
        first="{",
        headers=False,
        description="JSON lines: ECS, OpenTelemetry, Bunyan/pino, structlog, logrus, zap, GCP, CloudWatch",
    ),
    Format(
        "json-prefixed",
        structured.parse_prefixed_json,
        (
            '10.0.0.3: {"ts":1705327331123.5,"caller":"app/main.go:42","msg":"sync failed","v":0}',
            '[pod/api-7d9f/app] {"level":"error","msg":"db down","time":"2024-01-15T14:02:11Z"}',
        ),
        specificity=2,
        headers=False,
        description="JSON lines after a short prefix (a host, kubectl logs --prefix)",
    ),
    # -- wrappers ---------------------------------------------------------------------------
    Format(
        "cri",
        containers.parse_cri,
        (
            "2024-01-15T14:02:11.123456789Z stderr F 2024-01-15 14:02:11.120 ERROR 1 --- [main] c.e.App : boom",
            "2024-01-15T14:02:11.123456789Z stdout F listening on :8080",
            "2024-01-15T14:02:11.123456789Z stdout P a partial line",
        ),
        specificity=9,
        first=DIGITS,
        description="Kubernetes container log (CRI); the inner line is parsed",
    ),
    Format(
        "compose",
        containers.parse_compose,
        (
            "api-1  | 2024-01-15 14:02:11,123 - api - ERROR - boom",
            "db-1   | 2024-01-15 14:02:11.123 UTC [68] FATAL:  sorry, too many clients already",
            "web_1  | plain output",
        ),
        specificity=6,
        first=_ALNUM + "\x1b",
        description="docker-compose prefixed output; service from the prefix, inner line parsed",
    ),
    Format(
        "java-wrapper",
        containers.parse_java_wrapper,
        (
            "STATUS | wrapper  | 2024/01/15 14:02:11 | Launching a JVM...",
            "ERROR  | wrapper  | 2024/01/15 14:02:15 | JVM exited unexpectedly.",
            "INFO   | jvm 1    | 2024/01/15 14:02:12 | 2024-01-15 14:02:12,120 ERROR [main] c.e.App - boom",
        ),
        specificity=8,
        first=UPPER,
        description="Java Service Wrapper (Tanuki) wrapper.log; the JVM's lines are parsed",
    ),
    # -- syslog family ----------------------------------------------------------------------
    Format(
        "syslog-5424",
        syslog.parse_rfc5424,
        (
            '<165>1 2024-01-15T14:02:11.123Z web-1 nginx 812 ID47 [exampleSDID@32473 iut="3"] upstream timed out',
            "<11>1 2024-01-15T14:02:11Z host app - - - disk full",
        ),
        specificity=9,
        first="<",
    ),
    Format(
        "syslog-iso",
        syslog.parse_syslog_iso,
        ("2024-01-15T14:02:11+0000 web-1 sshd[812]: Accepted publickey for deploy",),
        specificity=8,
        first="<" + DIGITS,
        description="journalctl -o short-iso, rsyslog high-precision",
    ),
    Format(
        "syslog",
        syslog.parse_rfc3164,
        (
            "Dec 10 06:55:46 LabSZ sshd[24200]: Invalid user webmaster from 173.234.31.186",
            "<34>Jan 15 14:02:11 web-1 su: 'su root' failed for lonvick on /dev/pts/8",
            "Jan 15 14:02:11 web-1 kernel: [12345.678901] Out of memory: Killed process 4242 (java)",
        ),
        specificity=7,
        first="<" + _MONTH_INITIALS,
        description="RFC 3164, journalctl -o short / short-precise, kernel: lines",
    ),
    Format(
        "dmesg",
        syslog.parse_dmesg,
        (
            "[12345.678901] Out of memory: Killed process 4242 (java) total-vm:8000000kB",
            "[Mon Jan 15 14:02:11 2024] EXT4-fs error (device sda1): ext4_find_entry",
        ),
        specificity=7,
        first="[",
    ),
    # -- web servers ------------------------------------------------------------------------
    Format(
        "access",
        web.parse_access,
        (
            '10.0.0.1 - - [15/Jan/2024:14:02:11 +0000] "GET /api/checkout HTTP/1.1" 504 167 "-" "curl/8.0"',
            '203.0.113.9 - alice [15/Jan/2024:14:02:11 +0000] "POST /login HTTP/1.1" 200 512',
        ),
        specificity=9,
        first=_ALNUM + ":[",
        description="nginx/Apache access log, common and combined",
    ),
    Format(
        "envoy",
        web.parse_envoy,
        (
            '[2024-03-14T12:00:00.084Z] "POST /v1/charge HTTP/1.1" 503 UF,URX 0 190 8 - "10.0.4.21" "checkout-web/3.2.0" "3ff50a4f2e75cfdf" "payments.internal:8443" "10.0.7.14:8443"',
            '[2016-04-15T20:17:00.310Z] "GET /api/v1/locations HTTP/2" 204 - 154 0 226 100 "10.0.35.28" "nsq2http" "cc21d9b0-cf5c-432b-8c7e-98aeb7988cd2" "locations" "tcp://10.0.2.1:80"',
        ),
        specificity=9,
        first="[",
        description="Envoy / Istio access log (default format)",
    ),
    Format(
        "nginx-error",
        web.parse_nginx_error,
        (
            '2024/01/15 14:02:11 [error] 31#31: *5678 upstream timed out (110: Connection timed out) while reading response header from upstream, client: 10.0.0.1, server: shop, request: "GET /api HTTP/1.1", upstream: "http://10.0.0.5:8000/api"',
        ),
        specificity=9,
        first=DIGITS,
    ),
    Format(
        "apache-error",
        web.parse_apache_error,
        (
            "[Sun Dec 04 04:47:44 2005] [error] mod_jk child workerEnv in error state 6",
            "[Mon Jan 15 14:02:11.123456 2024] [proxy:error] [pid 1234:tid 5678] [client 10.0.0.1:5678] AH00957: connect to backend failed",
        ),
        specificity=9,
        first="[",
    ),
    # -- applications -----------------------------------------------------------------------
    Format(
        "spring-boot",
        apps.parse_spring_boot,
        (
            "2024-01-15 14:02:11.123  ERROR 1234 --- [nio-8080-exec-1] c.e.shop.CheckoutController   : Checkout failed",
            "2024-01-15T14:02:11.123Z ERROR 1234 --- [shop] [nio-8080-exec-1] c.e.shop.Api : boom",
        ),
        specificity=9,
        first=DIGITS,
    ),
    Format(
        "log4j",
        apps.parse_log4j,
        (
            "2024-01-15 14:02:11,123 [main] ERROR com.example.Api - Request failed",
            "2024-01-15 14:02:11,123 WARN  [pool-1-thread-3] com.example.Pool: pool exhausted",
            "14:02:11.123 [http-nio-8080-exec-1] ERROR c.e.checkout.OrderService - order failed",
        ),
        specificity=8,
        first=DIGITS,
        description="log4j / logback patterns",
    ),
    Format(
        "python",
        apps.parse_python,
        ("2024-01-01 12:00:00,123 - app.db - ERROR - could not connect",),
        specificity=8,
        first=DIGITS,
    ),
    Format(
        "python-basic",
        apps.parse_python_basic,
        ("ERROR:app.db:could not connect", "WARNING:root:retrying"),
        specificity=6,
        first="DIWEC",
    ),
    Format(
        "zap-console",
        apps.parse_zap_console,
        ('2024-01-15T14:02:11.123Z\tERROR\tapi/handler.go:42\tupstream timeout\t{"path": "/pay"}',),
        specificity=8,
        first=DIGITS,
    ),
    Format(
        "postgres",
        apps.parse_postgres,
        (
            "2024-01-15 14:02:11.123 UTC [1234] FATAL:  sorry, too many clients already",
            "2024-01-15 14:02:11.123 UTC [1234] app@shop ERROR:  duplicate key value violates unique constraint",
        ),
        specificity=9,
        first=DIGITS,
    ),
    Format(
        "postgres-csv",
        apps.parse_postgres_csv,
        (
            '2024-01-15 14:02:11.123 UTC,"app","shop",1234,"10.0.0.5:5432",65a5,3,"INSERT",2024-01-15 14:00:00 UTC,5/123,0,ERROR,23505,"duplicate key value violates unique constraint ""orders_pkey""","Key (id)=(1) already exists.",,,,,"INSERT INTO orders VALUES (1)",,,"psql","client backend",,0',
        ),
        specificity=9,
        first=DIGITS,
    ),
    Format(
        "mysql",
        apps.parse_mysql,
        (
            "2024-01-15T14:02:11.123456Z 0 [ERROR] [MY-010334] [Server] Failed to initialize DD Storage Engine",
            "2024-01-15 14:02:11 0 [ERROR] mysqld: Too many connections",
            "240115 14:02:11 [ERROR] Aborted connection",
        ),
        specificity=8,
        first=DIGITS,
        description="MySQL 5.7/8 and MariaDB error log",
    ),
    Format(
        "redis",
        apps.parse_redis,
        ("1:M 15 Jan 2024 14:02:11.123 # Background saving error",),
        specificity=9,
        first=DIGITS,
    ),
    Format(
        "go-stdlib",
        apps.parse_go_stdlib,
        ("2024/01/15 14:02:11 http: TLS handshake error from 10.0.0.1:5000: EOF",),
        specificity=5,
        first=DIGITS,
    ),
    Format(
        "logrus",
        structured.parse_logrus,
        ('time="2024-01-15T14:02:11Z" level=error msg="dial failed" component=db',),
        specificity=7,
        first="t",
    ),
    Format(
        "logfmt",
        structured.parse_logfmt,
        ('ts=2024-01-15T14:02:11.123Z level=warn msg="slow request" path=/pay duration=2.3s',),
        specificity=5,
        first=LOWER + UPPER + "_@",
    ),
    # -- orchestrators ----------------------------------------------------------------------
    Format(
        "kubectl-events",
        containers.parse_kubectl_events,
        (
            "LAST SEEN   TYPE      REASON      OBJECT                 MESSAGE",
            "5m          Warning   BackOff     pod/api-7d9f-abcde     Back-off restarting failed container",
        ),
        specificity=8,
        first=LOWER + DIGITS + "<LN",
    ),
    Format(
        "kubectl-describe",
        containers.parse_kubectl_describe,
        (
            "  Type     Reason     Age                From               Message",
            "  Warning  BackOff    2m (x10 over 5m)   kubelet            Back-off restarting failed container",
        ),
        specificity=8,
        first=" \tE",
        headers=False,
    ),
    # -- the catch-all shape ----------------------------------------------------------------
    Format(
        "generic",
        apps.parse_generic,
        (
            "2015-07-29 17:41:44,747 - INFO  [QuorumPeer[myid=1]/0:0:0:0:0:0:0:0:2181:FastLeaderElection@774] - Notification time out: 3200",
            "081109 203615 148 INFO dfs.DataNode$PacketResponder: PacketResponder 1 terminating",
            "[2024-01-15 14:02:11,123] ERROR in app: Exception on /checkout [POST]",
        ),
        specificity=1,
        first=DIGITS + "[" + UPPER,
        description="timestamp, maybe level, maybe [component], message",
    ),
)

PLAIN = "plain"
BY_NAME: dict[str, Format] = {f.name: f for f in FORMATS}


def _dispatch_table() -> dict[str, tuple[Format, ...]]:
    ordered = sorted(FORMATS, key=lambda f: -f.specificity)
    table: dict[str, tuple[Format, ...]] = {}
    for code in range(128):
        c = chr(code)
        table[c] = tuple(f for f in ordered if not f.first or c in f.first)
    return table


_TABLE = _dispatch_table()
_ANY = tuple(f for f in sorted(FORMATS, key=lambda f: -f.specificity) if not f.first)


def candidates(text: str) -> tuple[Format, ...]:
    """The formats a line could be, most specific first."""
    return _TABLE.get(text[:1], _ANY)


def parse_any(text: str, skip: Format | None = None) -> tuple[Format, Fields] | None:
    """Parse one line with the first (most specific) format that accepts it."""
    for f in _TABLE.get(text[:1], _ANY):
        if f is skip:
            continue
        fields = f.parse(text)
        if fields is not None:
            return f, fields
    return None


WRAPPERS = frozenset(("cri", "compose", "docker-json"))
_INNER_TABLE = {c: tuple(f for f in fs if f.name not in WRAPPERS) for c, fs in _TABLE.items()}
_INNER_ANY = tuple(f for f in _ANY if f.name not in WRAPPERS)


def _parse_inner(text: str) -> tuple[str, Fields] | None:
    """The line inside a wrapper. Wrappers don't nest: a CRI line inside a CRI line is text
    (and `stdout F ` repeated 9,000 times can't recurse 9,000 deep)."""
    for f in _INNER_TABLE.get(text[:1], _INNER_ANY):
        fields = f.parse(text)
        if fields is not None:
            return fields.get("fmt") or f.name, fields
    return None


set_inner_parser(_parse_inner)

__all__ = ["BY_NAME", "FORMATS", "PLAIN", "Fields", "Format", "candidates", "parse_any"]
