"""Healthy logs raise nothing above `warning` (rules and detectors together)."""

from __future__ import annotations

from pathlib import Path

import pytest

from apps.core.rules import Catalogue, Engine, Severity

from .factories import rec

LOGHUB = Path(__file__).resolve().parents[5] / "shared" / "data" / "loghub"
SYSTEMS = ["Apache", "HDFS", "OpenSSH", "Zookeeper"]
CATALOGUE = Catalogue.load()
SEVERE = {Severity.ERROR, Severity.CRITICAL}

# Start-ups and routine traffic with the harmless WARN lines real systems print.
HEALTHY = [
    (
        "redis",
        "WARN",
        "1:C 01 Mar 2024 10:00:00.001 # WARNING Memory overcommit must be enabled! Without it, a background save or replication may fail under low memory condition. To fix this issue add 'vm.overcommit_memory = 1' to /etc/sysctl.conf",
    ),
    ("redis", "INFO", "1:M 01 Mar 2024 10:00:00.002 * Ready to accept connections tcp"),
    ("redis", "INFO", "1:M 01 Mar 2024 10:05:00.002 * Background saving terminated with success"),
    (
        "postgres",
        "INFO",
        "2024-03-01 10:00:00.100 UTC [1] LOG:  starting PostgreSQL 16.2 on x86_64-pc-linux-gnu",
    ),
    (
        "postgres",
        "INFO",
        '2024-03-01 10:00:00.101 UTC [1] LOG:  listening on IPv4 address "0.0.0.0", port 5432',
    ),
    (
        "postgres",
        "INFO",
        "2024-03-01 10:00:00.200 UTC [1] LOG:  database system is ready to accept connections",
    ),
    (
        "postgres",
        "INFO",
        "2024-03-01 10:05:00.200 UTC [27] LOG:  checkpoint complete: wrote 44 buffers (0.3%); 0 WAL file(s) added, 0 removed, 0 recycled",
    ),
    (
        "api",
        "WARN",
        "2024-03-01 10:00:01.000  WARN 1 --- [main] JpaBaseConfiguration$JpaWebConfiguration : spring.jpa.open-in-view is enabled by default. Therefore, database queries may be performed during view rendering.",
    ),
    (
        "api",
        "INFO",
        "2024-03-01 10:00:02.000  INFO 1 --- [main] com.zaxxer.hikari.HikariDataSource : HikariPool-1 - Start completed.",
    ),
    (
        "api",
        "INFO",
        "2024-03-01 10:00:03.000  INFO 1 --- [main] o.s.b.w.embedded.tomcat.TomcatWebServer : Tomcat started on port(s): 8080 (http) with context path ''",
    ),
    (
        "kafka-client",
        "WARN",
        "[2024-03-01 10:00:04,001] WARN [Producer clientId=producer-1] Connection to node -1 (kafka/10.0.0.9:9092) could not be established. Broker may not be available. (org.apache.kafka.clients.NetworkClient)",
    ),
    (
        "kafka-client",
        "WARN",
        "[2024-03-01 10:00:06,001] WARN [Producer clientId=producer-1] Error while fetching metadata with correlation id 1 : {orders=LEADER_NOT_AVAILABLE} (org.apache.kafka.clients.NetworkClient)",
    ),
    (
        "kafka-client",
        "INFO",
        "[2024-03-01 10:00:07,001] INFO [Producer clientId=producer-1] Cluster ID: 4L6g3nShT-eMCtK--X86sw (org.apache.kafka.clients.Metadata)",
    ),
    ("web", "INFO", "[2024-03-01 10:00:00 +0000] [1] [INFO] Starting gunicorn 22.0.0"),
    ("web", "INFO", "[2024-03-01 10:00:00 +0000] [1] [INFO] Listening at: http://0.0.0.0:8000 (1)"),
    ("web", "INFO", "[2024-03-01 10:00:00 +0000] [7] [INFO] Booting worker with pid: 7"),
    (
        "web",
        "WARN",
        "WARNINGS:\n?: (staticfiles.W004) The directory '/app/static' in the STATICFILES_DIRS setting does not exist.",
    ),
    ("web", "INFO", "System check identified no issues (0 silenced)."),
    ("web", "INFO", "Applying contenttypes.0001_initial... OK"),
    ("nginx", "INFO", '2024/03/01 10:00:00 [notice] 1#1: using the "epoll" event method'),
    ("nginx", "INFO", "2024/03/01 10:00:00 [notice] 1#1: start worker processes"),
    (
        "nginx",
        "INFO",
        '10.244.0.1 - - [01/Mar/2024:10:00:10 +0000] "GET /healthz HTTP/1.1" 200 2 "-" "kube-probe/1.29"',
    ),
    (
        "nginx",
        "INFO",
        '10.0.1.4 - - [01/Mar/2024:10:00:11 +0000] "GET /api/orders?page=2 HTTP/1.1" 200 5123 "-" "Mozilla/5.0"',
    ),
    (
        "nginx",
        "INFO",
        '10.0.1.4 - - [01/Mar/2024:10:00:12 +0000] "GET /favicon.ico HTTP/1.1" 404 153 "-" "Mozilla/5.0"',
    ),
    (
        "node",
        "WARN",
        "(node:1) [DEP0040] DeprecationWarning: The `punycode` module is deprecated. Please use a userland alternative instead.",
    ),
    ("node", "INFO", "Server listening on http://0.0.0.0:3000"),
    (
        "es",
        "WARN",
        "[2024-03-01T10:00:00,001][WARN ][o.e.b.BootstrapChecks    ] [es-0] max virtual memory areas vm.max_map_count [65530] is too low, increase to at least [262144]",
    ),
    (
        "es",
        "INFO",
        '{"type": "server", "level": "INFO", "message": "Cluster health status changed from [RED] to [YELLOW] (reason: [shards started [[logs][0]]])."}',
    ),
    (
        "k8s",
        "INFO",
        "Normal   Scheduled  pod/api-1  Successfully assigned default/api-1 to worker-2",
    ),
    (
        "k8s",
        "INFO",
        'Normal   Pulled     pod/api-1  Container image "registry.example.com/api:1.4.2" already present on machine',
    ),
    ("k8s", "INFO", "Normal   Started    pod/api-1  Started container api"),
    (
        "k8s",
        "WARN",
        'Warning  Unhealthy  pod/api-1  Readiness probe failed: Get "http://10.244.1.17:8080/ready": dial tcp 10.244.1.17:8080: connect: connection refused',
    ),
    ("worker", "INFO", "batch finished: 1200 processed, 0 errors, 0 failures, error_count=0"),
    ("worker", "INFO", "retrying connection to db:5432 (attempt 2/5) ... succeeded"),
    (
        "worker",
        "DEBUG",
        "storage: when the volume reports ENOSPC / No space left on device, uploads pause",
    ),
    ("worker", "INFO", "Loaded configuration from /etc/app/config.yaml (12 keys)"),
    ("chrony", "INFO", "chronyd[612]: Selected source 169.254.169.123 (time.aws)"),
    ("sshd", "INFO", "sshd[900]: Accepted publickey for deploy from 10.0.0.4 port 50122 ssh2"),
]


def _severe(findings):
    return [(f.rule_id, f.severity, f.trigger) for f in findings if f.severity in SEVERE]


@pytest.mark.parametrize("system", SYSTEMS)
def test_loghub_system_raises_nothing_above_warning(system):
    path = LOGHUB / system / f"{system}_2k.log"
    if not path.exists():
        pytest.skip(f"{path} not available")
    engine = Engine(CATALOGUE)
    with path.open(encoding="utf-8", errors="replace") as fh:
        for number, text in enumerate(fh, 1):
            text = text.rstrip("\n")
            engine.feed(rec(text, number, source=path.name), template_id=text[:24])
    assert _severe(engine.findings()) == []


def test_healthy_startups_and_routine_traffic_raise_nothing_above_warning():
    engine = Engine(CATALOGUE)
    for rounds in range(3):  # a few restarts' worth, spread over time
        for i, (service, level, message) in enumerate(HEALTHY):
            at = rounds * 600 + i
            engine.feed(
                rec(message, rounds * 100 + i + 1, at=at, level=level, service=service),
                template_id=f"{service}-{i}",
            )
    assert _severe(engine.findings()) == []
