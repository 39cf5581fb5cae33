"""One finding per fact: merging duplicates, dropping detectors a rule explains, symptoms."""

from __future__ import annotations

from datetime import timedelta

from apps.core.rules import Catalogue, Engine, EvidenceRef, Finding, Severity
from apps.core.rules.story import merge_findings, symptoms_of

from .factories import T0, rec

CATALOGUE = Catalogue.load()
ACCESS_504 = (
    '10.0.1.{n} - - [01/Mar/2024:10:00:{s:02d} +0000] "POST /api/v1/pay HTTP/1.1" 504 562 "-" '
    '"curl/8" rt=30.001'
)


def finding(category, *, at=0.0, until=None, source="a.log", line=1, count=1, **kw) -> Finding:
    kw.setdefault("severity", Severity.ERROR)
    ref = EvidenceRef(source, line)
    return Finding(
        rule_id=kw.pop("rule_id", f"{category}.x"),
        category=category,
        title=kw.pop("title", category),
        explanation="",
        remediation="",
        evidence=[ref],
        trigger=ref,
        flashpoint=ref,
        count=count,
        first_ts=None if at is None else T0 + timedelta(seconds=at),
        last_ts=None if at is None else T0 + timedelta(seconds=until if until is not None else at),
        services=kw.pop("services", []),
        **kw,
    )


def test_same_rule_in_two_sources_is_one_finding():
    """Two uploads each ran an engine: the same rule fired in both."""
    a = finding(
        "db-connection-refused", at=0, until=60, source="api.log", count=5, services=["api"]
    )
    b = finding(
        "db-connection-refused", at=5, until=70, source="job.log", count=3, services=["job"]
    )
    (merged,) = merge_findings([a, b])
    assert merged.count == 8
    assert merged.services == ["api", "job"]
    assert merged.trigger == EvidenceRef("api.log", 1)
    assert set(merged.evidence) == {EvidenceRef("api.log", 1), EvidenceRef("job.log", 1)}
    assert (merged.first_ts, merged.last_ts) == (a.first_ts, b.last_ts)


def test_same_category_hours_apart_stays_two_findings():
    a = finding("disk-full", at=0)
    b = finding("disk-full", at=6 * 3600, line=900)
    assert len(merge_findings([a, b])) == 2


def test_primary_is_the_most_severe_member():
    warn = finding("tls-cert", at=0, severity=Severity.WARNING, rule_id="tls-cert.w", line=2)
    err = finding("tls-cert", at=1, severity=Severity.ERROR, rule_id="tls-cert.e", line=9)
    (merged,) = merge_findings([warn, err])
    assert (merged.rule_id, merged.severity, merged.trigger.line) == ("tls-cert.e", "error", 9)
    assert merged.first_ts == warn.first_ts


def test_detector_on_a_rule_line_is_dropped_and_same_spike_detectors_fold():
    rule = finding("db-too-many-connections", at=0, source="pg.log", line=125)
    new = finding(
        "new-template",
        at=0,
        source="pg.log",
        line=125,
        detector=True,
        rule_id="detect.new-template",
        severity=Severity.WARNING,
    )
    spikes = [
        finding(
            "rate-spike",
            at=50,
            source="api.log",
            line=n,
            detector=True,
            services=["api"],
            rule_id="detect.rate-spike",
            severity=Severity.WARNING,
        )
        for n in (393, 394, 395)
    ]
    out = merge_findings([rule, new, *spikes])
    assert [f.category for f in out] == ["db-too-many-connections", "rate-spike"]


def test_engine_gives_one_finding_when_two_rules_of_a_category_match_the_same_lines():
    """An access-log 504 is a 5xx to the access-log rule and to the status-field rule."""
    engine = Engine(CATALOGUE, detect=False)
    for n in range(40):
        line = ACCESS_504.format(n=n, s=n)
        engine.feed(rec(line, n + 1, at=n, service="nginx", attrs={"status": 504}))
    spikes = [f for f in engine.findings() if f.category == "http-5xx-spike"]
    assert len(spikes) == 1
    assert spikes[0].count == 40


def test_symptoms_are_later_tiers_near_the_cause_in_time_order():
    cause = finding("db-too-many-connections", at=0, until=120)
    pool = finding("pool-exhausted", at=30)
    proxy = finding("upstream-timeout", at=20)
    later = finding("http-5xx-spike", at=4 * 3600)
    signal = finding("rate-spike", at=25, detector=True)
    assert symptoms_of(cause, [cause, pool, proxy, later, signal]) == [proxy, pool]
