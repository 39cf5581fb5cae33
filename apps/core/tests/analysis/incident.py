"""A small synthetic incident (Postgres connection exhaustion in a checkout API) as plain data."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from apps.core.rules.finding import EvidenceRef, Finding, Severity

SOURCE = "checkout-api.log"
T0 = datetime(2024, 5, 1, 10, 0, tzinfo=UTC)


def incident_lines(
    marker: str = "", source: str = SOURCE, source_id: int | None = None
) -> dict[EvidenceRef, str]:
    """60 lines; errors start at line 30. ``marker`` is appended to every line (tenant tests)."""
    lines: dict[EvidenceRef, str] = {}
    for n in range(1, 61):
        ts = (T0 + timedelta(seconds=n)).strftime("%Y-%m-%dT%H:%M:%SZ")
        lines[EvidenceRef(source, n, source_id)] = (
            f"{ts} INFO checkout-api GET /cart/{n} 200 12ms {marker}"
        )
    specials = {
        28: "WARN checkout-api db pool at 95% (19/20 connections in use)",
        30: "ERROR checkout-api psycopg.OperationalError: connection failed: FATAL: sorry, too many clients already (user=app password=Sup3rS3cret!)",
        31: "ERROR checkout-api POST /checkout 500 request failed: could not obtain connection from pool",
        35: "ERROR checkout-api POST /checkout 500 request failed: could not obtain connection from pool",
        40: "FATAL checkout-api worker 7 exiting after 50 consecutive database errors",
        45: "ERROR checkout-api POST /checkout 500 request failed: could not obtain connection from pool",
    }
    for n, text in specials.items():
        ts = (T0 + timedelta(seconds=n)).strftime("%Y-%m-%dT%H:%M:%SZ")
        lines[EvidenceRef(source, n, source_id)] = f"{ts} {text} {marker}".rstrip()
    return lines


def incident_findings(source: str = SOURCE, source_id: int | None = None) -> list[Finding]:
    r = lambda n: EvidenceRef(source, n, source_id)  # noqa: E731
    return [
        Finding(
            rule_id="db-too-many-connections.postgres",
            category="db-too-many-connections",
            severity=Severity.CRITICAL,
            title="PostgreSQL refused connections: too many clients",
            explanation="The server reached max_connections.",
            remediation="Put a pooler (PgBouncer) in front of PostgreSQL or lower the app pool size.",
            evidence=[r(30), r(40)],
            trigger=r(30),
            flashpoint=r(40),
            count=2,
            first_ts=T0 + timedelta(seconds=30),
            last_ts=T0 + timedelta(seconds=40),
            services=["checkout-api"],
            confidence=0.9,
        ),
        Finding(
            rule_id="http-5xx-burst",
            category="http-5xx-burst",
            severity=Severity.ERROR,
            title="Burst of HTTP 500 responses",
            explanation="Many requests failed.",
            remediation="Check the upstream dependency named in the errors.",
            evidence=[r(31), r(35), r(45)],
            trigger=r(31),
            flashpoint=r(45),
            count=3,
            first_ts=T0 + timedelta(seconds=31),
            services=["checkout-api"],
            confidence=0.6,
        ),
    ]


def incident_groups(source: str = SOURCE, source_id: int | None = None) -> list[dict]:
    r = lambda n: EvidenceRef(source, n, source_id)  # noqa: E731
    return [
        {
            "group_id": "g-pool",
            "template": "POST /checkout 500 request failed: could not obtain connection from pool",
            "count": 3,
            "level": "ERROR",
            "first": r(31),
            "samples": [r(35), r(45)],
            "is_new": True,
        },
        {
            "group_id": "g-fatal",
            "template": "worker <*> exiting after <*> consecutive database errors",
            "count": 1,
            "level": "FATAL",
            "first": r(40),
            "samples": [],
            "is_new": True,
        },
        {
            "group_id": "g-get",
            "template": "GET /cart/<*> 200 <*>ms",
            "count": 54,
            "level": "INFO",
            "first": r(1),
            "samples": [r(2)],
            "is_new": False,
        },
    ]


def incident_root_cause(source: str = SOURCE, source_id: int | None = None) -> dict:
    return {
        "category": "db-too-many-connections",
        "summary": "PostgreSQL ran out of connections; the checkout API could not get one from its pool.",
        "evidence": [EvidenceRef(source, 30, source_id), EvidenceRef(source, 31, source_id)],
        "confidence": 0.85,
    }


def incident_pack_kwargs(
    marker: str = "", source: str = SOURCE, source_id: int | None = None
) -> dict:
    """The pack's inputs; with ``source_id`` as on the database path, where sources are stored."""
    return {
        "lines": incident_lines(marker, source, source_id),
        "findings": incident_findings(source, source_id),
        "groups": incident_groups(source, source_id),
        "root_cause": incident_root_cause(source, source_id),
        "timeline": {"window": "10:00:00–10:01:00 UTC", "events": 60, "errors": 5},
    }
