"""What a postmortem's action items say for each cause: a fix, and what keeps it from coming back.

Named, commented data (like the catalogue): one entry per category, written as an SRE would write
an action item — a change to make, not a place to look. The drafts cite the cause's evidence
next to each item. Categories not listed here fall back to their rule's remediation.
"""

from __future__ import annotations

from typing import NamedTuple


class Fix(NamedTuple):
    fix: str  # the change that removes the cause
    guard: str  # the limit, alert or test that catches it next time


FIXES: dict[str, Fix] = {
    # --- databases
    "db-too-many-connections": Fix(
        "Raise max_connections or cap the pool size of the client that opened the connections "
        "(put PgBouncer in front if many clients share the database)",
        "Alert when connections pass 80% of max_connections; give batch jobs their own role "
        "with a connection limit",
    ),
    "db-connection-refused": Fix(
        "Bring the database back and find why it stopped accepting connections (crash, restart, "
        "failover)",
        "Alert on the database's availability, and retry connections with backoff in clients",
    ),
    "db-auth-failed": Fix(
        "Make the service's database credentials match the database user again",
        "Roll out credential rotations to clients before revoking the old secret",
    ),
    "db-deadlock": Fix(
        "Take the locks of the two transactions in one consistent order",
        "Alert on the deadlock count and retry deadlocked transactions",
    ),
    "db-lock-timeout": Fix(
        "Shorten the blocking transaction or move it out of peak hours",
        "Alert on lock waits and set lock_timeout on migrations",
    ),
    "db-statement-timeout": Fix(
        "Fix the slow query (index or rewrite) named in the log",
        "Track slow-query counts per release",
    ),
    "pool-exhausted": Fix(
        "Size the connection pool for peak concurrency and fix what holds connections",
        "Alert on pool wait time and leaked connections",
    ),
    # --- memory and processes
    "oom-kernel": Fix(
        "Raise the memory limit of the killed process or reduce its peak memory",
        "Alert on memory use above 85% of the limit before the kernel kills",
    ),
    "k8s-oomkilled": Fix(
        "Raise the container's memory limit to its real working set, or cut its peak use",
        "Alert on container memory above 85% of its limit",
    ),
    "jvm-oom": Fix(
        "Fix what fills the heap (heap dump) or size -Xmx for the real load",
        "Enable -XX:+HeapDumpOnOutOfMemoryError and alert on old-gen use",
    ),
    "node-heap-oom": Fix(
        "Fix what grows in the heap, then size --max-old-space-size",
        "Alert on heap use and restart on a leak before the crash",
    ),
    "memory-error": Fix(
        "Bound the allocation that ran out of memory (batch size, result size)",
        "Alert on memory use against the limit",
    ),
    "python-worker-killed": Fix(
        "Lower memory per worker (fewer workers, max_requests) or raise the limit",
        "Alert on worker kills and memory per worker",
    ),
    "container-exit-137": Fix(
        "Find what killed the container (OOM, liveness probe, eviction) and fix that limit",
        "Alert on container restarts",
    ),
    "k8s-crashloop": Fix(
        "Fix the error the container exits with (see its last run's logs)",
        "Alert on restarts per pod and block rollouts whose pods crash",
    ),
    "segfault": Fix(
        "Fix or roll back the faulting library named in the kernel line",
        "Keep core dumps and alert on crashes",
    ),
    "go-panic": Fix(
        "Fix the nil or bounds error at the panicking frame",
        "Add a test for the input that caused it",
    ),
    "unhandled-exception": Fix(
        "Handle the failing call's error where it is raised",
        "Alert on the rate of unhandled exceptions per release",
    ),
    # --- storage
    "disk-full": Fix(
        "Free the volume and remove what filled it (rotate logs, expire old data)",
        "Alert at 80% disk use and cap log and WAL retention",
    ),
    "read-only-fs": Fix(
        "Fail over from the failing disk and repair the filesystem",
        "Alert on filesystem errors in the kernel log",
    ),
    "disk-io-error": Fix(
        "Replace the failing device and fail over to a replica",
        "Alert on I/O errors and SMART status",
    ),
    "too-many-open-files": Fix(
        "Close the leaking descriptors, then raise the limit to real need",
        "Alert on open descriptors against the limit",
    ),
    # --- network, TLS, DNS
    "tls-cert": Fix(
        "Renew the certificate and fix the renewal that failed",
        "Alert 14 days before any certificate expires",
    ),
    "dns-failure": Fix(
        "Fix the failing name resolution (resolver, CoreDNS, record)",
        "Alert on DNS error rate from the clients",
    ),
    "port-in-use": Fix(
        "Stop the stale process holding the port before starting the new one",
        "Make deploys wait for the old instance to release its port",
    ),
    "clock-skew": Fix(
        "Resync the hosts' clocks and fix NTP reachability",
        "Alert on clock offset above 100 ms",
    ),
    # --- brokers and caches
    "redis-oom": Fix(
        "Set maxmemory-policy and TTLs so Redis evicts instead of refusing writes",
        "Alert on Redis memory against maxmemory",
    ),
    "redis-misconf": Fix(
        "Fix the failing RDB snapshot (disk space, directory permissions)",
        "Alert on rdb_last_bgsave_status",
    ),
    "kafka-broker": Fix(
        "Restore the broker and check its advertised listeners",
        "Alert on under-replicated partitions and offline brokers",
    ),
    "rabbitmq": Fix(
        "Clear the broker alarm (memory, disk) or restore the node",
        "Alert on broker alarms and queue depth",
    ),
    "elasticsearch": Fix(
        "Free disk on the data nodes and lift the index block",
        "Alert on cluster health and disk watermarks",
    ),
    # --- configuration and platform
    "config-error": Fix(
        "Fix the missing or wrong configuration named in the log",
        "Validate configuration in CI before it is deployed",
    ),
    "permission-denied": Fix(
        "Grant the denied permission to the identity named in the log (or fix file ownership)",
        "Test the deployment's permissions in staging",
    ),
    "k8s-image-pull": Fix(
        "Fix the image reference or the registry credentials",
        "Check that the image exists before the rollout starts",
    ),
    "k8s-scheduling": Fix(
        "Add capacity or lower the pod's requests so it fits a node",
        "Alert on pods pending for more than 5 min",
    ),
    "k8s-mount": Fix(
        "Create the missing volume source or detach the volume from the old node",
        "Alert on pods stuck in ContainerCreating",
    ),
    "k8s-evicted": Fix(
        "Set requests that match real use and clean up node disk",
        "Alert on node pressure conditions",
    ),
}
