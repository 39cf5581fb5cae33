"""Incident windows and root-cause ranking (the rule is written down in incidents.py)."""

from __future__ import annotations

from datetime import timedelta

from apps.core.rules import (
    Catalogue,
    Engine,
    EvidenceRef,
    Finding,
    Severity,
    Tier,
    build_incidents,
    rank_root_causes,
    root_cause,
    tier_of,
)

from .factories import T0, rec

CATALOGUE = Catalogue.load()
PG_TOO_MANY = "2024-03-01 10:00:00.000 UTC [4211] FATAL:  sorry, too many clients already"
PG_REFUSED = 'psycopg2.OperationalError: connection to server at "db" (10.0.0.5), port 5432 failed: Connection refused'
NGINX_504 = '2024/03/01 10:00:05 [error] 31#31: *1 upstream timed out (110: Connection timed out) while reading response header from upstream, upstream: "http://10.0.2.11:8000/checkout"'
ACCESS_504 = (
    '10.0.1.4 - - [01/Mar/2024:10:00:05 +0000] "POST /checkout HTTP/1.1" 504 167 "-" "Mozilla/5.0"'
)


def analyse(records):
    engine = Engine(CATALOGUE)
    for r in records:
        engine.feed(r, template_id=r.message[:20])
    findings = engine.findings()
    return findings, root_cause(findings)


def test_database_cause_outranks_more_frequent_later_504s():
    records = [
        rec("GET /checkout 200", i, at=i, service="api", source="api.log") for i in range(1, 30)
    ]
    records.append(rec(PG_TOO_MANY, 1, at=30, service="postgres", source="db.log"))
    records += [
        rec(PG_TOO_MANY, 2 + i, at=31 + i, service="postgres", source="db.log") for i in range(3)
    ]
    records += [
        rec(ACCESS_504, 100 + i, at=35 + i * 0.5, service="nginx", source="access.log")
        for i in range(200)
    ]
    records += [
        rec(NGINX_504, 400 + i, at=35 + i, service="nginx", source="error.log") for i in range(50)
    ]
    findings, rc = analyse(records)
    assert {"http-5xx-spike", "upstream-timeout", "db-too-many-connections"} <= {
        f.category for f in findings
    }
    assert rc.category == "db-too-many-connections"
    assert rc.trigger == EvidenceRef("db.log", 1)
    assert rc.evidence[0] == EvidenceRef("db.log", 1)
    assert "http-5xx-spike" in rc.explains and "upstream-timeout" in rc.explains
    assert rc.confidence >= 0.8
    assert "db.log:1" in rc.summary


def test_cause_outranks_symptom_that_starts_slightly_earlier_on_another_service():
    """Stated rule: tier beats time inside an incident window (clocks skew across hosts)."""
    records = [
        rec(NGINX_504, 1, at=10, service="nginx", source="error.log"),
        rec(NGINX_504, 2, at=11, service="nginx", source="error.log"),
        rec(PG_REFUSED, 1, at=12, service="api", source="api.log"),
    ]
    _findings, rc = analyse(records)
    assert rc.category == "db-connection-refused"
    ranked = rank_root_causes(_findings)
    assert [c.category for c in ranked][:2] == ["db-connection-refused", "upstream-timeout"]


def test_earliest_cause_wins_among_causes():
    """The kernel OOM-killed postgres; the refused connections came after."""
    records = [
        rec(
            "kernel: Out of memory: Killed process 812 (postgres) total-vm:8000000kB",
            1,
            at=5,
            service="db-host",
            source="kern.log",
        ),
        rec(PG_REFUSED, 1, at=6, service="api", source="api.log"),
        rec(PG_REFUSED, 2, at=7, service="api", source="api.log"),
    ]
    _findings, rc = analyse(records)
    assert rc.category == "oom-kernel"
    assert "db-connection-refused" not in rc.explains  # same tier: not "downstream"


def test_simultaneous_causes_prefer_the_failing_service():
    base = {"explanation": "", "remediation": "", "confidence": 0.6}
    at = T0 + timedelta(seconds=100)
    findings = [
        Finding(
            "disk-full.x",
            "disk-full",
            Severity.ERROR,
            "disk",
            services=["batch"],
            first_ts=at,
            last_ts=at,
            count=1,
            trigger=EvidenceRef("b", 1),
            evidence=[EvidenceRef("b", 1)],
            **base,
        ),
        Finding(
            "dns-failure.x",
            "dns-failure",
            Severity.ERROR,
            "dns",
            services=["api"],
            first_ts=at + timedelta(seconds=1),
            last_ts=at,
            count=1,
            trigger=EvidenceRef("a", 1),
            evidence=[EvidenceRef("a", 1)],
            **base,
        ),
        Finding(
            "http-5xx-spike.x",
            "http-5xx-spike",
            Severity.ERROR,
            "5xx",
            services=["api"],
            first_ts=at + timedelta(seconds=2),
            last_ts=at + timedelta(seconds=60),
            count=90,
            trigger=EvidenceRef("a", 2),
            evidence=[EvidenceRef("a", 2)],
            **base,
        ),
    ]
    assert root_cause(findings).category == "dns-failure"


def test_insufficient_evidence_when_nothing_above_warning():
    records = [
        rec(
            "Dec 10 06:55:48 LabSZ sshd[24200]: Failed password for invalid user admin from 1.2.3.4 port 38926 ssh2",
            1,
            at=1,
        )
    ]
    findings, rc = analyse(records)
    assert findings and all(f.severity in (Severity.INFO, Severity.WARNING) for f in findings)
    assert rc is None
    assert root_cause([]) is None


def test_repeated_warnings_are_named_at_low_confidence():
    """Brute force logs no error, but a warning that repeats is still the story to tell."""
    records = [
        rec(
            "Dec 10 06:55:48 LabSZ sshd[24200]: Failed password for invalid user admin from 1.2.3.4 port 38926 ssh2",
            i,
            at=i,
        )
        for i in range(1, 30)
    ]
    findings, rc = analyse(records)
    assert findings and all(f.severity in (Severity.INFO, Severity.WARNING) for f in findings)
    assert rc is not None and rc.category == "auth-failures"
    assert rc.confidence < 0.5


def test_symptom_only_has_low_confidence_and_says_so():
    records = [rec(NGINX_504, i, at=i, service="nginx") for i in range(1, 5)]
    _findings, rc = analyse(records)
    assert rc.category == "upstream-timeout"
    assert rc.confidence < 0.5
    assert "Only symptoms" in rc.summary


def test_untimed_records_rank_by_line_order():
    records = [
        rec(NGINX_504, 1),
        rec('FATAL:  password authentication failed for user "app"', 2),
        rec("ERROR:  canceling statement due to statement timeout", 3),
    ]
    _findings, rc = analyse(records)
    assert rc.category == "db-auth-failed"


def test_incident_windows_split_on_gaps():
    base = {"explanation": "", "remediation": ""}

    def f(cat, sec, line, svc):
        at = T0 + timedelta(seconds=sec)
        ref = EvidenceRef("x", line)
        return Finding(
            f"{cat}.x",
            cat,
            Severity.ERROR,
            cat,
            services=[svc],
            first_ts=at,
            last_ts=at,
            trigger=ref,
            evidence=[ref],
            count=1,
            **base,
        )

    findings = [
        f("disk-full", 0, 1, "a"),
        f("upstream-timeout", 100, 2, "b"),
        f("dns-failure", 3600, 3, "c"),
    ]
    incidents = build_incidents(findings, gap=300)
    assert len(incidents) == 2
    first = incidents[0]
    assert first.start == T0 and first.end == T0 + timedelta(seconds=100)
    assert first.services == ["a", "b"]
    assert first.first_event == EvidenceRef("x", 1) and first.first_category == "disk-full"


def test_every_catalogue_category_has_a_tier():
    from apps.core.rules import CAUSAL_TIER

    assert CATALOGUE.categories <= set(CAUSAL_TIER)
    assert tier_of("db-connection-refused") < tier_of("k8s-crashloop") < tier_of("http-5xx-spike")
    assert tier_of("new-template") == Tier.SIGNAL
    assert tier_of("some-custom-category") == Tier.CRASH
