"""Every catalogued format: a real-looking line → the normalised fields it must give."""

from __future__ import annotations

import pytest

from apps.core.logparse.formats import FORMATS

from .conftest import one

# (format, line, expected fields; "ts" as ISO-8601 UTC, "attrs" a subset)
CASES = [
    # -- JSON lines -----------------------------------------------------------------------
    (
        "json",
        '{"@timestamp":"2024-01-15T14:02:11.123Z","log.level":"error","message":"db down","service.name":"checkout","trace.id":"abc123","host.name":"web-1"}',
        {
            "ts": "2024-01-15T14:02:11.123000+00:00",
            "level": "ERROR",
            "message": "db down",
            "service": "checkout",
            "trace_id": "abc123",
            "host": "web-1",
        },
    ),
    (
        "json",
        '{"@timestamp":"2024-01-15T14:02:11Z","log":{"level":"warn","logger":"app.db"},"message":"slow","service":{"name":"api"}}',
        {"level": "WARN", "service": "api", "attrs": {"log.logger": "app.db"}},
    ),
    (
        "json",
        '{"Timestamp":"1705327331123000000","SeverityText":"ERROR","SeverityNumber":17,"Body":"payment failed","Resource":{"service.name":"payments"},"TraceId":"5b8efff798038103d269b633813fc60c","SpanId":"eee19b7ec3c1b174"}',
        {
            "ts": "2024-01-15T14:02:11.123000+00:00",
            "level": "ERROR",
            "message": "payment failed",
            "service": "payments",
            "trace_id": "5b8efff798038103d269b633813fc60c",
            "attrs": {"SpanId": "eee19b7ec3c1b174"},
        },
    ),
    (
        "json",
        '{"SeverityNumber":13,"Body":{"message":"disk 91% full"},"Resource":{"attributes":[{"key":"service.name","value":{"stringValue":"node-agent"}}]}}',
        {"level": "WARN", "message": "disk 91% full", "service": "node-agent"},
    ),
    (
        "json",
        '{"name":"api","hostname":"web-1","pid":42,"level":50,"msg":"request failed","time":"2024-01-15T14:02:11.123Z","v":0}',
        {
            "level": "ERROR",
            "message": "request failed",
            "service": "api",
            "host": "web-1",
            "pid": "42",
        },
    ),
    (
        "json",
        '{"level":30,"time":1705327331123,"pid":7,"hostname":"h","msg":"listening"}',
        {"ts": "2024-01-15T14:02:11.123000+00:00", "level": "INFO", "pid": "7"},
    ),
    ("json", '{"level":60,"time":1705327331123,"msg":"fatal"}', {"level": "FATAL"}),
    (
        "json",
        '{"ts":"2024-01-15T14:02:11Z","request":{"uri":"/a"},"status":502,"msg":"handled request"}',
        {"level": "ERROR", "message": "handled request"},
    ),
    (
        "logfmt",
        'ts=2024-01-15T14:02:11Z app=checkout path=/pay status=503 msg="upstream failed"',
        {"level": "ERROR", "service": "checkout", "message": "upstream failed"},
    ),
    (
        "logfmt",
        'ts=2024-01-15T14:02:11Z app=checkout path=/x status=404 msg="not found"',
        {"level": "WARN"},
    ),
    (
        "json-prefixed",
        '10.1.2.3: {"ts":1705327331123.5,"caller":"kv/store.go:9","msg":"store full","v":0}',
        {"message": "store full", "host": "10.1.2.3"},
    ),
    (
        "json",
        '{"event":"user logged in","level":"info","timestamp":"2024-01-15T14:02:11.123456Z","user_id":7}',
        {"level": "INFO", "message": "user logged in", "attrs": {"user_id": 7}},
    ),
    (
        "json",
        '{"level":"error","msg":"dial tcp 10.0.0.5:5432: i/o timeout","time":"2024-01-15T14:02:11+01:00"}',
        {"ts": "2024-01-15T13:02:11+00:00", "level": "ERROR"},
    ),
    (
        "json",
        '{"level":"error","ts":1705327331.123,"caller":"api/handler.go:42","msg":"upstream timeout","request_id":"r-1"}',
        {
            "ts": "2024-01-15T14:02:11.123000+00:00",
            "level": "ERROR",
            "trace_id": "r-1",
            "attrs": {"caller": "api/handler.go:42"},
        },
    ),
    (
        "json",
        '{"severity":"ERROR","textPayload":"OOMKilled","timestamp":"2024-01-15T14:02:11.123Z","resource":{"type":"k8s_container","labels":{"container_name":"worker"}}}',
        {"level": "ERROR", "message": "OOMKilled", "service": "worker"},
    ),
    (
        "json",
        '{"severity":"WARNING","jsonPayload":{"message":"slow query","ms":2300},"timestamp":"2024-01-15T14:02:11Z"}',
        {"level": "WARN", "message": "slow query", "attrs": {"jsonPayload.ms": 2300}},
    ),
    (
        "json",
        '{"timestamp":1705327331123,"message":"ERROR Task timed out after 30.03 seconds"}',
        {"ts": "2024-01-15T14:02:11.123000+00:00", "level": "ERROR"},
    ),
    (
        "json",
        '{"timestamp":1705327331123,"message":"{\\"level\\":\\"warn\\",\\"msg\\":\\"retrying\\"}"}',
        {"level": "WARN", "message": "retrying"},
    ),
    (
        "json",
        '{"asctime":"2024-01-15 14:02:11,123","levelname":"CRITICAL","name":"app","message":"boom","x-request-id":"req-9"}',
        {"ts": "2024-01-15T14:02:11.123000+00:00", "level": "FATAL", "trace_id": "req-9"},
    ),
    (
        "journald-json",
        '{"__REALTIME_TIMESTAMP":"1705327331123456","PRIORITY":"3","_HOSTNAME":"web-1","_SYSTEMD_UNIT":"nginx.service","_PID":"812","MESSAGE":"worker process exited on signal 9"}',
        {
            "ts": "2024-01-15T14:02:11.123456+00:00",
            "level": "ERROR",
            "host": "web-1",
            "service": "nginx",
            "pid": "812",
            "message": "worker process exited on signal 9",
        },
    ),
    (
        "docker-json",
        '{"log":"2024-01-15 14:02:11,123 - app.db - ERROR - could not connect\\n","stream":"stderr","time":"2024-01-15T14:02:11.123456789Z"}',
        {
            "level": "ERROR",
            "message": "could not connect",
            "attrs": {"stream": "stderr", "inner_fmt": "python"},
        },
    ),
    (
        "docker-json",
        '{"log":"listening on :8080\\n","stream":"stdout","time":"2024-01-15T14:02:11.5Z"}',
        {
            "ts": "2024-01-15T14:02:11.500000+00:00",
            "message": "listening on :8080",
            "attrs": {"stream": "stdout"},
        },
    ),
    # -- logfmt ---------------------------------------------------------------------------
    (
        "logfmt",
        'ts=2024-01-15T14:02:11.123Z level=warn msg="slow request" path=/pay duration=2.3s trace_id=t1',
        {
            "level": "WARN",
            "message": "slow request",
            "trace_id": "t1",
            "attrs": {"path": "/pay", "duration": "2.3s"},
        },
    ),
    (
        "logfmt",
        'at=error code=H12 desc="Request timeout" method=GET path="/" host=shop.example.com status=503',
        {"level": "ERROR", "host": "shop.example.com", "attrs": {"code": "H12", "status": "503"}},
    ),
    (
        "logrus",
        'time="2024-01-15T14:02:11Z" level=error msg="dial failed: \\"db\\" refused" component=db',
        {
            "ts": "2024-01-15T14:02:11+00:00",
            "level": "ERROR",
            "message": 'dial failed: "db" refused',
        },
    ),
    # -- syslog family --------------------------------------------------------------------
    (
        "syslog",
        "Dec 10 06:55:46 LabSZ sshd[24200]: Invalid user webmaster from 173.234.31.186",
        {
            "ts": "2024-12-10T06:55:46+00:00",
            "host": "LabSZ",
            "service": "sshd",
            "pid": "24200",
            "message": "Invalid user webmaster from 173.234.31.186",
        },
    ),
    (
        "syslog",
        "<34>Jan  5 14:02:11 web-1 su: 'su root' failed for lonvick on /dev/pts/8",
        {"ts": "2024-01-05T14:02:11+00:00", "level": "FATAL", "service": "su", "pid": None},
    ),
    (
        "kernel",
        "Jan 15 14:02:11 web-1 kernel: [12345.678901] Out of memory: Killed process 4242 (java)",
        {
            "service": "kernel",
            "level": "ERROR",
            "message": "Out of memory: Killed process 4242 (java)",
            "attrs": {"uptime": 12345.678901},
        },
    ),
    (
        "syslog",
        "Jan 15 14:02:11.123456 web-1 systemd[1]: api.service: Main process exited, code=killed, status=9/KILL",
        {"ts": "2024-01-15T14:02:11.123456+00:00", "service": "systemd", "pid": "1"},
    ),
    (
        "syslog-iso",
        "2024-01-15T14:02:11+0100 web-1 sshd[812]: Accepted publickey for deploy",
        {"ts": "2024-01-15T13:02:11+00:00", "host": "web-1", "service": "sshd", "pid": "812"},
    ),
    (  # the same shape with a level where the host goes: a level, not a host named ERROR
        "syslog-iso",
        "2024-01-15T14:02:11Z ERROR api: request 7 failed",
        {"level": "ERROR", "host": None, "service": "api", "message": "request 7 failed"},
    ),
    (
        "syslog-5424",
        '<165>1 2024-01-15T14:02:11.123Z web-1 nginx 812 ID47 [exampleSDID@32473 iut="3"] upstream timed out',
        {
            "level": "INFO",
            "host": "web-1",
            "service": "nginx",
            "pid": "812",
            "message": "upstream timed out",
            "attrs": {"msgid": "ID47"},
        },
    ),
    (
        "syslog-5424",
        "<11>1 2024-01-15T14:02:11Z host app - - - disk full",
        {"level": "ERROR", "pid": None, "message": "disk full"},
    ),
    (
        "dmesg",
        "[12345.678901] Out of memory: Killed process 4242 (java) total-vm:8000000kB",
        {"ts": None, "level": "ERROR", "service": "kernel", "attrs": {"uptime": 12345.678901}},
    ),
    (
        "dmesg",
        "[Mon Jan 15 14:02:11 2024] EXT4-fs error (device sda1): ext4_find_entry:1455: reading directory lblock 0",
        {"ts": "2024-01-15T14:02:11+00:00", "service": "kernel"},
    ),
    # -- web servers ----------------------------------------------------------------------
    (
        "access",
        '10.0.0.1 - - [15/Jan/2024:14:02:11 +0000] "GET /api/checkout HTTP/1.1" 504 167 "-" "curl/8.0"',
        {
            "ts": "2024-01-15T14:02:11+00:00",
            "level": "ERROR",
            "attrs": {
                "client": "10.0.0.1",
                "method": "GET",
                "path": "/api/checkout",
                "status": 504,
                "bytes": 167,
            },
        },
    ),
    (
        "access",
        '203.0.113.9 - alice [15/Jan/2024:14:02:11 -0500] "POST /login HTTP/1.1" 404 512',
        {
            "ts": "2024-01-15T19:02:11+00:00",
            "level": "WARN",
            "attrs": {"user": "alice", "status": 404},
        },
    ),
    (
        "access",
        '::1 - - [15/Jan/2024:14:02:11 +0000] "GET /health HTTP/1.1" 200 2 "-" "kube-probe/1.29"',
        {"level": "INFO", "attrs": {"client": "::1"}},
    ),
    (
        "envoy",
        '[2024-03-14T12:00:00.084Z] "POST /v1/charge HTTP/1.1" 503 UF,URX 0 190 8 - "10.0.4.21" "checkout-web/3.2.0" "3ff50a4f2e75cfdf" "payments.internal:8443" "10.0.7.14:8443"',
        {
            "ts": "2024-03-14T12:00:00.084000+00:00",
            "level": "ERROR",
            "trace_id": "3ff50a4f2e75cfdf",
            "attrs": {
                "method": "POST",
                "path": "/v1/charge",
                "status": 503,
                "flags": "UF,URX",
                "duration_ms": 8,
                "upstream": "10.0.7.14:8443",
            },
        },
    ),
    (  # no response at all, no request id; Istio appends fields after the upstream host
        "envoy",
        '[2024-03-14T12:00:01Z] "GET /healthz HTTP/2" 0 DC 0 0 3 - "-" "kube-probe/1.29" "-" "api" "-" outbound|80||api.default.svc.cluster.local',
        {"level": "ERROR", "trace_id": None, "attrs": {"status": 0, "flags": "DC"}},
    ),
    (
        "nginx-error",
        '2024/01/15 14:02:11 [error] 31#31: *5678 upstream timed out (110: Connection timed out) while reading response header from upstream, client: 10.0.0.1, server: shop, request: "GET /api HTTP/1.1", upstream: "http://10.0.0.5:8000/api"',
        {
            "ts": "2024-01-15T14:02:11+00:00",
            "level": "ERROR",
            "pid": "31",
            "attrs": {"client": "10.0.0.1", "upstream": "http://10.0.0.5:8000/api"},
        },
    ),
    (
        "nginx-error",
        "2024/01/15 14:02:11 [crit] 31#31: *1 SSL_do_handshake() failed (SSL: error:0A000086:SSL routines::certificate verify failed)",
        {"level": "FATAL"},
    ),
    (
        "apache-error",
        "[Sun Dec 04 04:47:44 2005] [error] mod_jk child workerEnv in error state 6",
        {
            "ts": "2005-12-04T04:47:44+00:00",
            "level": "ERROR",
            "message": "mod_jk child workerEnv in error state 6",
        },
    ),
    (
        "apache-error",
        "[Mon Jan 15 14:02:11.123456 2024] [proxy:error] [pid 1234:tid 5678] [client 10.0.0.1:5678] AH00957: connect to backend failed",
        {
            "ts": "2024-01-15T14:02:11.123456+00:00",
            "level": "ERROR",
            "pid": "1234",
            "attrs": {"module": "proxy", "client": "10.0.0.1:5678"},
        },
    ),
    # -- applications ---------------------------------------------------------------------
    (
        "python",
        "2024-01-01 12:00:00,123 - app.db - ERROR - could not connect",
        {
            "ts": "2024-01-01T12:00:00.123000+00:00",
            "level": "ERROR",
            "message": "could not connect",
            "attrs": {"logger": "app.db"},
        },
    ),
    (
        "python-basic",
        "WARNING:urllib3.connectionpool:Retrying (Retry(total=2)) after connection broken",
        {"level": "WARN", "attrs": {"logger": "urllib3.connectionpool"}},
    ),
    (
        "spring-boot",
        "2024-01-15 14:02:11.123  ERROR 1234 --- [nio-8080-exec-1] c.e.shop.CheckoutController   : Checkout failed",
        {
            "ts": "2024-01-15T14:02:11.123000+00:00",
            "level": "ERROR",
            "pid": "1234",
            "message": "Checkout failed",
            "attrs": {"thread": "nio-8080-exec-1", "logger": "c.e.shop.CheckoutController"},
        },
    ),
    (
        "spring-boot",
        "2024-01-15T14:02:11.123+01:00  WARN 1 --- [shop] [           main] o.h.e.j.e.i.JdbcEnvironmentInitiator     : HHH000342: Could not obtain connection",
        {
            "ts": "2024-01-15T13:02:11.123000+00:00",
            "level": "WARN",
            "service": "shop",
            "attrs": {"thread": "main"},
        },
    ),
    (
        "log4j",
        "2024-01-15 14:02:11,123 [main] ERROR com.example.Api - Request failed",
        {
            "level": "ERROR",
            "message": "Request failed",
            "attrs": {"thread": "main", "logger": "com.example.Api"},
        },
    ),
    (
        "log4j",
        "2024-01-15 14:02:11,123 WARN  [pool-1-thread-3] com.example.Pool: pool exhausted",
        {"level": "WARN", "attrs": {"thread": "pool-1-thread-3"}},
    ),
    (
        "log4j",  # logback's default pattern: a time of day, no date (dated by the caller)
        "14:02:11.123 [http-nio-8080-exec-1] ERROR c.e.checkout.OrderService - order failed",
        {
            "ts": None,
            "level": "ERROR",
            "message": "order failed",
            "attrs": {"thread": "http-nio-8080-exec-1", "logger": "c.e.checkout.OrderService"},
        },
    ),
    (
        "go-stdlib",
        "2024/01/15 14:02:11 http: TLS handshake error from 10.0.0.1:5000: remote error: tls: bad certificate",
        {
            "ts": "2024-01-15T14:02:11+00:00",
            "level": None,
            "message": "http: TLS handshake error from 10.0.0.1:5000: remote error: tls: bad certificate",
        },
    ),
    (
        "go-stdlib",
        "2024/01/15 14:02:11.123456 main.go:42: ERROR: cannot reach db",
        {"level": "ERROR", "attrs": {"caller": "main.go:42"}},
    ),
    (
        "zap-console",
        '2024-01-15T14:02:11.123Z\tERROR\tapi/handler.go:42\tupstream timeout\t{"path": "/pay"}',
        {"level": "ERROR", "message": "upstream timeout", "attrs": {"caller": "api/handler.go:42"}},
    ),
    (
        "postgres",
        "2024-01-15 14:02:11.123 UTC [1234] FATAL:  sorry, too many clients already",
        {
            "ts": "2024-01-15T14:02:11.123000+00:00",
            "level": "FATAL",
            "pid": "1234",
            "message": "sorry, too many clients already",
        },
    ),
    (
        "postgres",
        "2024-01-15 14:02:11.123 CET [1234] app@shop LOG:  checkpoint starting: time",
        {
            "ts": "2024-01-15T13:02:11.123000+00:00",
            "level": "INFO",
            "attrs": {"user": "app", "db": "shop"},
        },
    ),
    (
        "postgres-csv",
        '2024-01-15 14:02:11.123 UTC,"app","shop",1234,"10.0.0.5:5432",65a5,3,"INSERT",2024-01-15 14:00:00 UTC,5/123,0,ERROR,23505,"duplicate key value violates unique constraint ""orders_pkey""","Key (id)=(1) already exists.",,,,,"INSERT INTO orders VALUES (1)",,,"psql","client backend",,0',
        {
            "level": "ERROR",
            "pid": "1234",
            "message": 'duplicate key value violates unique constraint "orders_pkey"',
            "attrs": {"sqlstate": "23505"},
        },
    ),
    (
        "mysql",
        "2024-01-15T14:02:11.123456Z 0 [ERROR] [MY-010334] [Server] Failed to initialize DD Storage Engine",
        {
            "ts": "2024-01-15T14:02:11.123456+00:00",
            "level": "ERROR",
            "attrs": {"code": "MY-010334", "subsystem": "Server"},
        },
    ),
    (
        "mysql",
        "2024-01-15 14:02:11 0 [Warning] Aborted connection 12 to db: 'shop' user: 'app'",
        {"level": "WARN"},
    ),
    (
        "mysql",
        "240115 14:02:11 [ERROR] mysqld: Too many connections",
        {"ts": "2024-01-15T14:02:11+00:00", "level": "ERROR"},
    ),
    (
        "redis",
        "1:M 15 Jan 2024 14:02:11.123 # Background saving error",
        {
            "ts": "2024-01-15T14:02:11.123000+00:00",
            "level": "WARN",
            "pid": "1",
            "attrs": {"role": "M"},
        },
    ),
    ("redis", "1:S 15 Jan 2024 14:02:11.123 * MASTER <-> REPLICA sync started", {"level": "INFO"}),
    # -- containers and orchestrators -----------------------------------------------------
    (
        "cri",
        "2024-01-15T14:02:11.123456789Z stderr F 2024-01-15 14:02:11.120 ERROR 1 --- [main] c.e.App : boom",
        {
            "ts": "2024-01-15T14:02:11.120000+00:00",
            "level": "ERROR",
            "message": "boom",
            "attrs": {"stream": "stderr", "inner_fmt": "spring-boot"},
        },
    ),
    (
        "cri",
        "2024-01-15T14:02:11.123456789Z stdout F listening on :8080",
        {
            "ts": "2024-01-15T14:02:11.123456+00:00",
            "message": "listening on :8080",
            "attrs": {"stream": "stdout"},
        },
    ),
    (
        "compose",
        "api-1  | 2024-01-15 14:02:11,123 - api - ERROR - boom",
        {"service": "api", "level": "ERROR", "message": "boom", "attrs": {"replica": 1}},
    ),
    (
        "compose",
        "\x1b[36mdb-1   |\x1b[0m 2024-01-15 14:02:11.123 UTC [68] FATAL:  sorry, too many clients already",
        {"service": "db", "level": "FATAL", "pid": "68"},
    ),
    (  # lines we wrote in the Java Service Wrapper's default layout (issue 16)
        "java-wrapper",
        "STATUS | wrapper  | 2024/01/15 14:02:11 | Launching a JVM...",
        {"ts": "2024-01-15T14:02:11+00:00", "level": "INFO", "message": "Launching a JVM..."},
    ),
    (  # the JVM's own line inside: its level and message, the wrapper's time
        "java-wrapper",
        "INFO   | jvm 1    | 2024/01/15 14:02:12 | 2024-01-15 14:02:12,120 ERROR [main] c.e.App - boom",
        {"ts": "2024-01-15T14:02:12+00:00", "level": "ERROR", "message": "boom"},
    ),
    (
        "kubectl-events",
        "5m          Warning   BackOff     pod/api-7d9f-abcde     Back-off restarting failed container",
        {
            "level": "WARN",
            "service": "api-7d9f-abcde",
            "attrs": {"reason": "BackOff", "object": "pod/api-7d9f-abcde"},
        },
    ),
    (
        "kubectl-events",
        'shop   2m14s   Normal   Pulled   pod/api-1   Container image "api:1.2" already present',
        {"level": "INFO", "attrs": {"namespace": "shop", "age": "2m14s"}},
    ),
    (
        "kubectl-describe",
        "  Warning  BackOff    2m (x10 over 5m)   kubelet            Back-off restarting failed container",
        {
            "level": "WARN",
            "message": "Back-off restarting failed container",
            "attrs": {"reason": "BackOff", "source": "kubelet"},
        },
    ),
    # -- generic shape --------------------------------------------------------------------
    (
        "generic",
        "2015-07-29 17:41:44,747 - INFO  [QuorumPeer[myid=1]/0:0:0:0:0:0:0:0:2181:FastLeaderElection@774] - Notification time out: 3200",
        {
            "ts": "2015-07-29T17:41:44.747000+00:00",
            "level": "INFO",
            "message": "Notification time out: 3200",
        },
    ),
    (
        "generic",
        "081109 203615 148 INFO dfs.DataNode$PacketResponder: PacketResponder 1 for block blk_38865049064139660 terminating",
        {
            "ts": "2008-11-09T20:36:15+00:00",
            "level": "INFO",
            "pid": "148",
            "attrs": {"component": "dfs.DataNode$PacketResponder"},
        },
    ),
    (
        "generic",
        "[2024-01-15 14:02:11,123] ERROR [checkout] payment provider returned 502",
        {
            "level": "ERROR",
            "message": "payment provider returned 502",
            "attrs": {"component": "checkout"},
        },
    ),
    (
        "generic",
        "2024-01-15 14:02:11 | WARNING | cache miss storm",
        {"level": "WARN", "message": "cache miss storm"},
    ),
    # -- unknown → plain, never dropped ---------------------------------------------------
    ("plain", "just some words without a header", {"parsed": False, "ts": None, "level": None}),
]


@pytest.mark.parametrize(
    ("fmt", "line", "expected"), CASES, ids=[f"{c[0]}-{i}" for i, c in enumerate(CASES)]
)
def test_format_line(fmt, line, expected):
    rec = one(line)
    assert rec.fmt == fmt
    assert rec.parsed is (fmt != "plain")
    assert rec.raw == line
    assert (rec.line, rec.end_line) == (1, 1)
    for key, want in expected.items():
        got = getattr(rec, key)
        if key == "ts":
            got = got.isoformat() if got else None
        if key == "attrs":
            assert want.items() <= got.items(), got
        else:
            assert got == want, (key, got)


def test_every_format_has_a_test_case_and_parses_its_examples():
    tested = {c[0] for c in CASES}
    for f in FORMATS:
        assert f.name in tested, f.name
        for example in f.examples:
            assert f.parse(example) is not None, (f.name, example)


def test_timestamps_are_utc_aware():
    rec = one('{"time":"2024-01-15T14:02:11","msg":"naive"}')
    assert rec.ts is not None
    assert rec.ts.utcoffset().total_seconds() == 0


def test_attrs_stay_small():
    fields = ",".join(f'"k{i}":"{"x" * 5000}"' for i in range(100))
    rec = one("{" + fields + ',"msg":"big"}')
    assert len(rec.attrs) <= 32
    assert all(len(v) <= 2048 for v in rec.attrs.values())
