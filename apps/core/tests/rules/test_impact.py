"""Severity from impact: the table in engine/impact.py, case by case."""

from __future__ import annotations

from datetime import timedelta

import pytest

from apps.core.rules import EvidenceRef, Finding, Severity
from apps.core.rules.impact import Sev, assess

from .factories import T0

ERROR, INFO = 4, 2


def rows(minutes_before, minutes_during, services, *, share, base_share=0.0):
    """Per-10-s buckets: `services` each log 10 events a bucket; `share` of them errors in
    the window (after `minutes_before` minutes of calm with `base_share` errors)."""
    out = []
    for b in range((minutes_before + minutes_during) * 6):
        at = T0 + timedelta(seconds=10 * b)
        during = b >= minutes_before * 6
        errors = round(10 * (share if during else base_share))
        for s in services:
            if errors:
                out.append((at, ERROR, s, errors))
            if 10 - errors:
                out.append((at, INFO, s, 10 - errors))
    start = T0 + timedelta(minutes=minutes_before)
    end = start + timedelta(minutes=minutes_during)
    return out, start, end


def f(category, severity=Severity.ERROR):
    ref = EvidenceRef("a.log", 1)
    return Finding(category + ".x", category, severity, category, "", "", [ref], ref)


CASES = [
    # (name, before, during, services, share, base, findings, expected)
    ("half failing 3 services 20 min", 10, 20, ["a", "b", "c"], 0.5, 0.0, [], Sev.SEV1),
    ("quarter failing 3 services 12 min", 10, 12, ["a", "b", "c"], 0.3, 0.0, [], Sev.SEV1),
    ("one service 40% for 12 min", 10, 12, ["a"], 0.4, 0.0, [], Sev.SEV2),
    ("a crash, few errors", 10, 2, ["a"], 0.1, 0.0, [f("oom-kernel")], Sev.SEV2),
    ("3 services, brief", 10, 1, ["a", "b", "c"], 0.2, 0.0, [], Sev.SEV2),
    ("errors no worse than before", 10, 10, ["a"], 0.3, 0.3, [f("db-deadlock")], Sev.SEV3),
    ("a short error blip", 10, 1, ["a"], 0.1, 0.0, [], Sev.SEV3),
    ("warnings only", 10, 10, ["a"], 0.0, 0.0, [f("new-template", Severity.WARNING)], Sev.SEV4),
]


@pytest.mark.parametrize(
    ("name", "before", "during", "services", "share", "base", "findings", "want"),
    CASES,
    ids=[c[0] for c in CASES],
)
def test_severity_table(name, before, during, services, share, base, findings, want):
    data, start, end = rows(before, during, services, share=share, base_share=base)
    assert assess(data, findings, start, end).level == want


def test_reasons_say_what_held():
    data, start, end = rows(10, 12, ["a", "b", "c"], share=0.4)
    result = assess(data, [], start, end)
    assert result.text == "SEV1: 3 services, 40% of events were errors for 12 min, none before"


def test_reasons_give_the_baseline_when_there_was_one():
    data, start, end = rows(10, 10, ["a"], share=0.5, base_share=0.1)
    assert ", up from 10%" in assess(data, [], start, end).text
