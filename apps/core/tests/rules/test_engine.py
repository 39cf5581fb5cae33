"""Engine aggregation: counts, times, services, trigger/flashpoint, thresholds, dry run."""

from __future__ import annotations

import pytest

from apps.core.logparse.record import Record
from apps.core.rules import Catalogue, CatalogueError, Engine, EvidenceRef, Severity, dry_run
from apps.core.rules.engine import BATCH, EVIDENCE_CAP

from .factories import T0, rec

CATALOGUE = Catalogue.load()
OOM_TRIGGER = "kernel: java invoked oom-killer: gfp_mask=0x100cca(GFP_HIGHUSER_MOVABLE), order=0, oom_score_adj=0"
OOM_KILL = (
    "kernel: Out of memory: Killed process 4321 (java) total-vm:12345678kB, anon-rss:7654321kB"
)
ACCESS_502 = '10.0.1.4 - - [01/Mar/2024:10:15:02 +0000] "GET /api HTTP/1.1" 502 150 "-" "curl/8"'


def run(records, catalogue=CATALOGUE, **kwargs):
    engine = Engine(catalogue, detect=False, **kwargs)
    for r in records:
        engine.feed(r)
    return {f.rule_id: f for f in engine.findings()}


def test_aggregates_one_finding_per_rule_with_trigger_and_flashpoint():
    records = [
        rec("GET /healthz 200", 1, at=0, service="api"),
        rec("ERROR:  deadlock detected", 2, at=1, service="db-1", source="pg.log"),
        rec(
            "DETAIL:  Process 811 waits for ShareLock on transaction 92211; blocked by process 812. deadlock detected",
            3,
            at=2,
            service="db-1",
            source="pg.log",
        ),
        rec("ERROR:  deadlock detected", 4, at=2, service="db-1", source="pg.log"),
        rec(
            "(1213, 'Deadlock found when trying to get lock; try restarting transaction')",
            5,
            at=9,
            service="orders",
            source="orders.log",
        ),
    ]
    f = run(records)["db-deadlock.detected"]
    assert f.category == "db-deadlock" and f.severity == Severity.ERROR
    assert f.count == 4
    assert f.trigger == EvidenceRef("pg.log", 2)  # first occurrence
    assert f.flashpoint == EvidenceRef("pg.log", 3)  # the rule's most telling line
    assert f.evidence[0] == f.trigger and len(f.evidence) == 4
    assert f.first_ts == T0.replace(second=1) and f.last_ts == T0.replace(second=9)
    assert f.services == ["db-1", "orders"]


def test_trigger_is_earliest_by_time_when_sources_are_fed_one_after_another():
    later_file = [rec(OOM_KILL, i, at=100 + i, source="b.log") for i in range(1, 80)]
    earlier_file = [
        rec(OOM_KILL, 7, at=50, source="a.log"),
        rec(OOM_KILL, 8, at=200, source="a.log"),
    ]
    untimed = [rec(OOM_KILL, 1, source="events.txt")]
    f = run(untimed + later_file + earlier_file)["oom-kernel.killed-process"]
    assert f.trigger == EvidenceRef("a.log", 7)
    assert f.first_ts == T0.replace(second=50)
    assert f.evidence[0] == f.trigger
    # Capped evidence keeps the earliest lines plus the first line of every source.
    assert EvidenceRef("events.txt", 1) in f.evidence
    assert EvidenceRef("a.log", 8) not in f.evidence
    assert EvidenceRef("b.log", 79) not in f.evidence


def test_structured_error_attrs_are_scanned():
    record = rec(
        "charge failed",
        1,
        at=0,
        level="ERROR",
        attrs={"error": "x509: certificate signed by unknown authority", "order": "o1"},
    )
    assert "tls-cert.invalid" in run([record])


def _block(header: str, body: list[str], line: int, message_lines: list[str] | None = None):
    """A joined record: `header` (with its timestamp) and continuation lines from `line` on."""
    message_lines = message_lines if message_lines is not None else [header[20:], *body]
    return Record(
        line=line,
        end_line=line + len(body),
        raw="\n".join([header, *body]),
        message="\n".join(message_lines),
        ts=T0,
        source="app.log",
    )


def test_multi_line_record_is_cited_by_the_line_where_the_rule_matched():
    record = _block(
        "2024-03-01 10:00:00 ERROR: Exception when saving file: /data/state.json",
        ["Traceback (most recent call last):", "OSError: [Errno 28] No space left on device"],
        line=5,
    )
    f = run([record])["disk-full.enospc"]
    assert f.trigger == EvidenceRef("app.log", 7)
    assert f.evidence == [EvidenceRef("app.log", 7)]


def test_cited_line_falls_back_to_raw_text_and_then_to_the_first_line():
    body = ["  at x.y.Z.run(Z.java:12)", "OSError: [Errno 28] No space left on device"]
    # continuation parts merged into one message line: the raw text still maps line for line
    merged = _block(
        "2024-03-01 10:00:00 ERROR: boom", body, line=10, message_lines=[" ".join(body)]
    )
    assert run([merged])["disk-full.enospc"].trigger == EvidenceRef("app.log", 12)
    # the match is only in an attr that scan_text appends: the record's first line
    single = rec("write failed", 3, at=0, attrs={"error": "No space left on device"})
    assert run([single])["disk-full.enospc"].trigger == EvidenceRef("app.log", 3)


def test_flashpoint_prefers_highest_level():
    records = [
        rec("Error: connect ECONNREFUSED 10.0.0.5:5432", 1, at=0, level="WARN"),
        rec("Error: connect ECONNREFUSED 10.0.0.5:5432", 2, at=1, level="FATAL"),
        rec("Error: connect ECONNREFUSED 10.0.0.5:5432", 3, at=2, level="ERROR"),
    ]
    f = run(records)["db-connection-refused.ports"]
    assert f.trigger.line == 1 and f.flashpoint.line == 2


def test_evidence_is_capped_but_count_is_not():
    records = [rec("ERROR:  deadlock detected", i, at=i) for i in range(1, 201)]
    f = run(records)["db-deadlock.detected"]
    assert f.count == 200
    assert len(f.evidence) == EVIDENCE_CAP
    assert f.evidence[0].line == 1


def test_threshold_needs_count_within_window():
    # 19 5xx in a minute: below the threshold of 20 → nothing.
    slow = [rec(ACCESS_502, i, at=i * 3) for i in range(19)]
    assert "http-5xx-spike.access-log" not in run(slow)
    # 40 spread over 40 minutes: never 20 within 60 s → nothing.
    spread = [rec(ACCESS_502, i, at=i * 60) for i in range(40)]
    assert "http-5xx-spike.access-log" not in run(spread)
    # 20 within 60 s after a calm period → fires; the crossing line is the flashpoint.
    burst = spread[:5] + [rec(ACCESS_502, 100 + i, at=400 + i) for i in range(20)]
    f = run(burst)["http-5xx-spike.access-log"]
    assert f.count == 25
    assert f.trigger.line == 0
    assert f.flashpoint.line == 119


def test_threshold_without_timestamps_counts_the_whole_stream():
    records = [rec(ACCESS_502, i) for i in range(20)]
    assert run(records)["http-5xx-spike.access-log"].count == 20


def test_field_conditions_status_and_exit_code():
    records = [rec("request finished", i, at=i, attrs={"status": 503}) for i in range(20)]
    records.append(rec("pod terminated", 99, at=30, attrs={"exitCode": "137"}))
    found = run(records)
    assert found["http-5xx-spike.structured"].count == 20
    assert found["container-exit-137.attrs"].trigger.line == 99


def test_min_level_excludes_debug_docs():
    msg = "disk full handling: on ENOSPC (No space left on device) we pause uploads"
    assert "disk-full.enospc" not in run([rec(msg, 1, level="DEBUG")])
    assert "disk-full.enospc" in run([rec(msg, 1, level="ERROR")])
    assert "disk-full.enospc" in run([rec(msg, 1)])  # unknown level: still a candidate


def test_co_signals_raise_confidence():
    alone = run([rec(OOM_KILL, 1, at=0)])["oom-kernel.killed-process"]
    together = run([rec(OOM_KILL, 1, at=0), rec("Reason: OOMKilled", 2, at=1)])
    assert together["oom-kernel.killed-process"].confidence > alone.confidence


def test_findings_are_streaming_and_batch_independent():
    """Findings can be read at any time; the batch boundary never changes the result."""
    engine = Engine(CATALOGUE, detect=False)
    engine.feed(rec(OOM_KILL, 1, at=0))
    assert [f.rule_id for f in engine.findings()] == ["oom-kernel.killed-process"]
    for i in range(2, BATCH * 3):
        engine.feed(rec("routine line", i, at=i))
    engine.feed(rec(OOM_KILL, 99, at=99))
    (f,) = engine.findings()
    assert f.count == 2 and f.evidence == [EvidenceRef("app.log", 1), EvidenceRef("app.log", 99)]


def test_long_messages_are_scanned_only_up_to_the_bound():
    from apps.core.rules.patterns import MAX_SCAN_CHARS

    far = "x" * MAX_SCAN_CHARS + " No space left on device"
    assert "disk-full.enospc" not in run([rec(far, 1)])


def test_findings_ordered_by_first_occurrence():
    records = [
        rec(ACCESS_502.replace("502", "504"), 1, at=5),
        rec("FATAL:  sorry, too many clients already", 2, at=1),
        rec(
            "2024/03/01 10:15:02 [error] 31#31: *1 upstream timed out (110: Connection timed out) while reading response header from upstream",
            3,
            at=3,
        ),
    ]
    engine = Engine(CATALOGUE, detect=False)
    for r in records:
        engine.feed(r)
    assert [f.category for f in engine.findings()] == [
        "db-too-many-connections",
        "upstream-timeout",
    ]


# --- dry run -------------------------------------------------------------------------------

USER_RULE = {
    "id": "custom.checkout-declined",
    "category": "payment-declined",
    "severity": "warning",
    "title": "Card declined",
    "explanation": "x",
    "remediation": "y",
    "matcher": {"regex": r"card declined: (?:insufficient_funds|do_not_honor)"},
    "threshold": {"count": 3, "window": 60},
}


def test_dry_run_counts_lines_groups_and_samples():
    records = []
    for i in range(132):
        reason = "insufficient_funds" if i % 2 else "do_not_honor"
        records.append((rec(f"card declined: {reason} order={i}", i + 1, at=i), f"g{i % 4}"))
    records.append((rec("card approved order=1", 500, at=200), "g9"))
    result = dry_run(USER_RULE, records, sample_limit=5)
    assert result.matched_lines == 132
    assert result.groups == 4
    assert len(result.samples) == 5
    assert result.samples[0].ref == EvidenceRef("app.log", 1)
    assert result.group_counts == {"g0": 33, "g1": 33, "g2": 33, "g3": 33}
    assert result.would_fire and result.finding.count == 132


def test_dry_run_threshold_not_reached_and_bad_rule():
    result = dry_run(USER_RULE, [rec("card declined: do_not_honor", 1, at=0)])
    assert result.matched_lines == 1 and not result.would_fire
    with pytest.raises(CatalogueError, match="Look-ahead"):
        dry_run({**USER_RULE, "matcher": {"regex": "(?!x)card"}}, [])
