"""Baselines and triggers: where the rise starts, what changed just before it (table-driven)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from apps.core.rules import EvidenceRef, Finding, Severity
from apps.core.rules.detect import LIFECYCLE, StreamDetector, actors_of
from apps.core.rules.incidents import build_incidents
from apps.core.rules.onset import rise_start
from apps.core.rules.trigger import likely_trigger

from .factories import T0, rec

# --- rise_start ----------------------------------------------------------------------------

RISES = [
    # (series, expected first index of the rise)
    ([0] * 30 + [5, 9, 12], 30),
    ([1, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 4, 6], 12),  # low counts: 2 before, 10 after
    ([2] * 20 + [3, 40, 40], 21),  # a slightly busier bucket before the jump is not the rise
    ([0] * 10 + [0, 0, 7, 0, 9], 12),
]
NOT_RISES = [
    [1, 0, 1, 0, 1, 0, 1, 2],  # noise
    [3, 3, 3, 3, 3, 3, 4],  # flat
    [0, 0, 0, 0, 2],  # too few events to call it a change
    [],
]


@pytest.mark.parametrize(("series", "start"), RISES)
def test_rise_start(series, start):
    assert rise_start(series) == start


@pytest.mark.parametrize("series", NOT_RISES)
def test_no_rise(series):
    assert rise_start(series) is None


# --- lifecycle words and actors --------------------------------------------------------------

LIFECYCLE_LINES = [
    "Starting CheckoutApplication v2.14.3 using Java 17",
    "[notice] 1#1: signal process started",
    "Reloading configuration from /etc/app.yaml",
    "deployment.apps/web rolled out",
    "Certificate renewed for payments.internal",
    "received SIGHUP, reopening logs",
    "Booting worker with pid: 23",
]
NOT_LIFECYCLE = [
    "at org.springframework...AbstractPlatformTransactionManager.startTransaction(",
    "GET /api/v1/restartable-jobs 200",
    "uptime 3d since start",
    "charge ok order_id=ord_1",
]


@pytest.mark.parametrize("line", LIFECYCLE_LINES)
def test_lifecycle_words(line):
    assert LIFECYCLE.search(line)


@pytest.mark.parametrize("line", NOT_LIFECYCLE)
def test_not_lifecycle(line):
    assert not LIFECYCLE.search(line)


def test_actors_of_names_users_apps_and_addresses():
    line = "connection authorized: user=postgres database=checkout application_name=order-sync"
    assert actors_of(line) == ["user=postgres", "application_name=order-sync"]
    assert actors_of("connection received: host=10.42.7.31 port=5") == ["host=10.42.7.31"]
    assert actors_of("charge ok amount_cents=20289") == []


# --- detector: baseline, onset, change candidates ----------------------------------------------


def _stream(*, with_job: bool, with_errors: bool = True):
    """Ten minutes of calm traffic, optionally a job burst at 600 s, errors from 603 s."""
    items = [
        (rec(f"GET /item/{i} 200", i + 1, at=i * 2, level="INFO", service="api"), "t-get")
        for i in range(400)
    ]
    # the database logs quietly from the start: its file does not open with the job
    items.append(
        (
            rec("checkpoint complete", 999, at=10, level="INFO", service="db", source="db.log"),
            "t-cp",
        )
    )
    if with_job:
        items += [
            (
                rec(
                    "connection authorized: user=batch application_name=nightly",
                    1000 + i,
                    at=600 + i * 0.05,
                    level="INFO",
                    service="db",
                    source="db.log",
                ),
                "t-job",
            )
            for i in range(40)
        ]
    if with_errors:
        items += [
            (
                rec("sorry, too many clients", 2000 + i, at=603 + i, level="ERROR", service="db"),
                "t-err",
            )
            for i in range(60)
        ]
    return items


def _feed(items):
    d = StreamDetector()
    for r, tid in sorted(items, key=lambda item: item[0].ts):
        d.feed(r, template_id=tid)
    return d, d.findings()


def test_onset_is_the_first_error_not_the_first_line():
    d, _ = _feed(_stream(with_job=True))
    assert d.onset == T0 + timedelta(seconds=603)


def test_traffic_that_was_there_from_the_start_is_not_new():
    _, found = _feed(_stream(with_job=True))
    assert not [f for f in found if f.category in ("new-template", "change") and "GET" in f.title]


def test_a_job_just_before_the_onset_is_a_change_candidate():
    _, found = _feed(_stream(with_job=True))
    changes = [f for f in found if f.category == "change"]
    assert [f.title for f in changes] == [
        "New activity: connection authorized: user=batch application_name=nightly"
    ]
    assert changes[0].severity == Severity.INFO and changes[0].count == 40


def test_no_onset_no_change_candidates():
    _, found = _feed(_stream(with_job=True, with_errors=False))
    assert not [f for f in found if f.category == "change"]


# --- likely_trigger ---------------------------------------------------------------------------

ONSET = datetime(2024, 3, 14, 12, 0, 0, tzinfo=UTC)


def change(title, seconds_before, *, kind="new", count=1, line=1):
    return Finding(
        rule_id=f"detect.change.{kind}",
        category="change",
        severity=Severity.INFO,
        title=title,
        explanation="",
        remediation="",
        evidence=[EvidenceRef("app.log", line)],
        trigger=EvidenceRef("app.log", line),
        count=count,
        first_ts=ONSET - timedelta(seconds=seconds_before),
        services=["db"],
        detector=True,
    )


TRIGGERS = [
    # (candidates, expected line of the trigger or None)
    ([change("New activity: job started user=etl", 5, count=60, line=7)], 7),
    ([change("Lifecycle event: Reloading config", 30, kind="lifecycle", line=3)], 3),
    (  # nearer and bursting beats older
        [
            change("New activity: checkpoint complete", 280, line=2),
            change("New activity: connection authorized user=etl", 3, count=60, line=9),
        ],
        9,
    ),
    # negatives: a reload two hours before, a line in the same second as the failure
    ([change("Lifecycle event: signal process started", 8400, kind="lifecycle")], None),
    ([change("New activity: CPU: 1 PID: 4242", 0)], None),
    ([change("Lifecycle event: Booting worker", -20, kind="lifecycle")], None),
    ([], None),
]


@pytest.mark.parametrize(("candidates", "line"), TRIGGERS)
def test_likely_trigger(candidates, line):
    t = likely_trigger(candidates, ONSET)
    assert (t.evidence[0].line if t else None) == line


def test_no_onset_no_trigger():
    assert likely_trigger([change("New activity: job started", 5, count=60)], None) is None


DEADLINES = [
    (
        "x509: certificate has expired: current time 2024-03-14T12:00:00Z is after 2024-03-14T11:59:59Z",
        True,
    ),
    ("token is expired at 2024-03-14T11:58:00+00:00", True),
    ("certificate expired on 2023-01-01T00:00:00Z", False),  # a year before: not this change
    ("certificate verify failed", False),
]


@pytest.mark.parametrize(("text", "found"), DEADLINES)
def test_deadline_quoted_by_the_failing_line(text, found):
    ref = EvidenceRef("orders.jsonl", 299)
    t = likely_trigger([], ONSET, cause_lines={ref: text})
    assert (t is not None and t.kind == "deadline" and t.evidence == [ref]) == found


# --- windows ----------------------------------------------------------------------------------


def test_info_signals_and_changes_do_not_open_the_window_early():
    cause = Finding(
        rule_id="tls-cert.invalid",
        category="tls-cert",
        severity=Severity.ERROR,
        title="TLS",
        explanation="",
        remediation="",
        evidence=[EvidenceRef("a", 9)],
        trigger=EvidenceRef("a", 9),
        count=10,
        first_ts=ONSET,
        last_ts=ONSET + timedelta(minutes=4),
    )
    spike = Finding(
        rule_id="detect.rate-spike.edge",
        category="rate-spike",
        severity=Severity.INFO,
        title="Log volume spike on edge",
        explanation="",
        remediation="",
        evidence=[EvidenceRef("b", 1)],
        trigger=EvidenceRef("b", 1),
        first_ts=ONSET - timedelta(minutes=4),
        detector=True,
    )
    reload_ = change("Lifecycle event: signal process started", 60, kind="lifecycle")
    (window,) = build_incidents([spike, reload_, cause])
    assert window.start == ONSET and window.first_event == EvidenceRef("a", 9)
