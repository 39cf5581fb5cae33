"""The incident corpus (corpus/incidents.toml): well-formed, and what triage says about it.

Sentry-style: every excerpt the engine gets right today is asserted right, and the ones it gets
wrong are listed below and asserted *still* wrong, so a rule change that fixes one fails here
with a message to move it out of the list. The numbers are in `make bench`
(bench/incident_bench.py).
"""

from __future__ import annotations

from collections import Counter

import pytest

from apps.core.tests.corpus import CORPUS, Incident, judge, load

ALL = load()
INCIDENTS = [i for i in ALL if not i.healthy]
HEALTHY = [i for i in ALL if i.healthy]

# Root cause named wrong or not at all today: id -> what triage names instead (None = nothing).
KNOWN_WRONG_CATEGORY: dict[str, str | None] = {
    # not found: a rate limit logged once at INFO, inside a multi-line JSON record
    "nextcloud-rate-limit-json": None,
    # wrong name: the exception is named, not the missing setting behind it
    "django-missing-secret-key-env": "unhandled-exception",  # KeyError: 'SECRET_KEY'
    # not chosen: only rebalance warnings in the log, and a consumer group rebalances on every
    # deploy too; repetition names a root cause only where it is the incident (incidents.py
    # REPETITION_IS_THE_INCIDENT), so healthy Kafka consumers stay quiet
    "kafka-python-rebalance": None,
    "kafka-python-idle-rebalance": None,
    # fresh (held out from rule writing, see incidents.toml)
    "mongodb-journal-free-space": None,
    "haproxy-health-check-l4": None,
}

# Right category, but the root cause cites none of the labelled lines: id -> lines it cites.
KNOWN_WRONG_LINE: dict[str, tuple[int, ...]] = {}

# Healthy logs that raise something loud today: id -> the loud rule ids.
KNOWN_LOUD: dict[str, tuple[str, ...]] = {}


def lines_of(incident: Incident) -> list[str]:
    return incident.path.read_text(encoding="utf-8").splitlines()


def test_corpus_is_large_and_diverse():
    categories = Counter(i.category for i in INCIDENTS)
    assert len(INCIDENTS) >= 80
    assert len(categories) >= 35
    assert len(HEALTHY) >= 12
    assert len({i.id for i in ALL}) == len(ALL)


def test_every_excerpt_has_an_entry_and_every_entry_an_excerpt():
    assert {p.stem for p in CORPUS.glob("*.log")} == {i.id for i in ALL}


def test_known_lists_name_corpus_entries():
    ids = {i.id for i in ALL}
    assert set(KNOWN_WRONG_CATEGORY) <= ids
    assert set(KNOWN_WRONG_LINE) <= ids
    assert set(KNOWN_LOUD) <= ids
    assert not set(KNOWN_WRONG_CATEGORY) & set(KNOWN_WRONG_LINE)


@pytest.mark.parametrize("incident", ALL, ids=lambda i: i.id)
def test_entry_is_well_formed(incident: Incident):
    assert incident.source.startswith("https://")
    assert incident.category and incident.category == incident.category.strip().lower()
    lines = lines_of(incident)
    assert lines, "empty excerpt"
    if incident.healthy:
        assert incident.category == "healthy"
        assert incident.root_cause_lines == ()
        return
    rc = incident.root_cause_lines
    assert rc, "an incident needs at least one root-cause line"
    assert rc[0] == min(rc), "the earliest root-cause line comes first"
    assert len(set(rc)) == len(rc)
    for n in rc:
        assert 1 <= n <= len(lines), f"line {n} is not in the {len(lines)}-line excerpt"
        assert lines[n - 1].strip(), f"line {n} is blank"


@pytest.mark.parametrize("incident", INCIDENTS, ids=lambda i: i.id)
def test_root_cause(incident: Incident):
    verdict = judge(incident)
    if incident.id in KNOWN_WRONG_CATEGORY:
        assert not verdict.top1, (
            f"{incident.id} is now named right ({incident.category}): "
            "remove it from KNOWN_WRONG_CATEGORY"
        )
        return
    assert verdict.top1, (
        f"{incident.id}: expected {incident.category}, triage names {verdict.root_category}"
    )
    if incident.id in KNOWN_WRONG_LINE:
        assert not verdict.cited, (
            f"{incident.id} now cites a labelled root-cause line: remove it from KNOWN_WRONG_LINE"
        )
    else:
        assert verdict.cited, (
            f"{incident.id}: cites {verdict.root_lines}, "
            f"labelled root-cause lines are {incident.root_cause_lines}"
        )


@pytest.mark.parametrize("incident", HEALTHY, ids=lambda i: i.id)
def test_healthy_log_is_quiet(incident: Incident):
    verdict = judge(incident)
    if incident.id in KNOWN_LOUD:
        assert not verdict.quiet, f"{incident.id} is quiet now: remove it from KNOWN_LOUD"
    else:
        assert verdict.quiet, f"{incident.id}: loud {verdict.loud}, root {verdict.root_category}"
