"""Deploy events from JSON lines, the low-count rise test, and the suspect."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from apps.core.correlate.deploys import (
    DeployEvent,
    parse_deploys,
    parse_time,
    rise_llr,
    suspects,
)
from apps.core.correlate.services import Correlator
from apps.core.vocabulary import EvidenceRef, Level

T0 = datetime(2024, 5, 1, 10, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2024-05-01T10:00:00Z", T0),
        ("2024-05-01T12:00:00+02:00", T0),
        ("2024-05-01 10:00:00", T0),  # naive: UTC
        (1714557600, T0),
        (1714557600000, T0),  # milliseconds
        ("1714557600", T0),
        ("yesterday", None),
        (True, None),
        (None, None),
    ],
)
def test_parse_time(value, expected):
    assert parse_time(value) == expected


def test_parse_deploys_shapes_and_warnings():
    text = "\n".join(
        [
            '{"service": "api", "version": "v2", "ts": "2024-05-01T10:00:00Z", "url": "https://ci/1"}',
            '{"app": "web", "release": "1.2.3", "started_at": "2024-05-01T09:00:00Z", "env": "prod"}',
            '{"component": "db", "revision": "abc123", "timestamp": 1714557600}',
            "# a comment",
            "not json",
            '{"version": "v3", "ts": "2024-05-01T10:00:00Z"}',
            "",
        ]
    )
    events, warnings = parse_deploys(text)
    assert [(e.service, e.version) for e in events] == [
        ("web", "1.2.3"),
        ("api", "v2"),
        ("db", "abc123"),
    ]
    assert events[0].environment == "prod"
    assert events[1].url == "https://ci/1"
    assert events[2].commit == "abc123"
    assert warnings == ["deploys line 5: not JSON", "deploys line 6: needs a service and a time"]


def test_parse_deploys_accepts_a_json_array():
    events, warnings = parse_deploys('[{"service": "a", "ts": "2024-05-01T10:00:00Z"}]')
    assert len(events) == 1 and not warnings


@pytest.mark.parametrize(
    ("before", "after", "t_before", "t_after", "rises"),
    [
        (0, 4, 1800, 60, True),  # nothing for half an hour, then four in a minute
        (2, 5, 3600, 60, True),  # two an hour, then five in a minute: a change
        (30, 31, 1800, 1800, False),  # one more than usual is not
        (5, 1, 1800, 1800, False),  # fewer after: never a rise
        (0, 0, 1800, 1800, False),
    ],
)
def test_rise_llr_copes_with_low_counts(before, after, t_before, t_after, rises):
    assert (rise_llr(before, after, t_before, t_after) >= 4.0) is rises


def _feed_errors(c: Correlator, service: str, start: datetime, n: int, every: float, group: str):
    for i in range(n):
        c.feed(
            service=service,
            level=Level.ERROR.value,
            ts=start + timedelta(seconds=i * every),
            ref=EvidenceRef(f"{service}.log", i + 1),
            group=group,
            message=f"{group} failed",
        )


def _deploy(service: str, at: datetime, version: str = "v2") -> DeployEvent:
    return DeployEvent(service=service, version=version, ts=at)


def test_the_origins_deploy_just_before_the_onset_is_the_suspect():
    c = Correlator()
    for s in ("api", "web"):
        c.feed(
            service=s,
            level=Level.INFO.value,
            ts=T0,
            ref=EvidenceRef(f"{s}.log", 1),
            group="ok",
            message="ok",
        )
    _feed_errors(c, "api", T0 + timedelta(minutes=20), 40, 2, "npe")
    _feed_errors(c, "web", T0 + timedelta(minutes=20, seconds=1), 40, 2, "upstream 502")
    deploys = [
        _deploy("web", T0 + timedelta(minutes=5), "w1"),  # long before, nothing changed
        _deploy("api", T0 + timedelta(minutes=19), "a2"),  # the trigger
        _deploy("web", T0 + timedelta(minutes=19, seconds=30), "w2"),  # a decoy just before
        _deploy("api", T0 + timedelta(minutes=25), "a1"),  # the rollback, after the onset
    ]
    correlation = c.result()
    assert correlation.origin == "api"
    verdicts = suspects(deploys, c, correlation)
    assert [v.suspect for v in verdicts] == [False, True, False, False]
    assert verdicts[3].reason == "after the onset"
    assert verdicts[1].new_groups == 1 and verdicts[1].errors_after == 40


def test_no_suspect_when_no_deploy_changed_anything():
    c = Correlator()
    _feed_errors(c, "db", T0 + timedelta(minutes=20), 30, 2, "too many clients")
    verdicts = suspects([_deploy("web", T0)], c, c.result())
    assert [v.suspect for v in verdicts] == [False]


def test_a_deploy_of_a_service_without_logs_counts_everyones_errors_at_half_weight():
    c = Correlator()
    c.feed(
        service="api",
        level=Level.INFO.value,
        ts=T0,
        ref=EvidenceRef("api.log", 1),
        group="ok",
        message="ok",
    )
    _feed_errors(c, "api", T0 + timedelta(minutes=20), 60, 1, "bad gateway")
    verdicts = suspects([_deploy("payments", T0 + timedelta(minutes=19))], c, c.result())
    assert verdicts[0].suspect
    assert "no logs of payments" in verdicts[0].reason


def test_triage_adds_the_deploys_the_logs_show_to_those_given(tmp_path):
    """The deploys file names only an earlier deploy elsewhere; the Kubernetes events and the
    start line show checkout's rollout, which becomes the suspect."""
    from apps.core.tests.correlate.shaped import k8s_checkout_rollout
    from apps.core.triage import to_json, triage

    case = k8s_checkout_rollout(7)
    case.deploys = [d for d in case.deploys if d["service"] == "payments"]
    paths, deploys_path = case.write(tmp_path)
    given = parse_deploys(deploys_path.read_text())[0]
    doc = to_json(triage(paths, analyze=False, deploys=given))
    listed = [(d["service"], d["version"], d["source"], d["suspect"]) for d in doc["deploys"]]
    assert listed == [
        ("payments", "4.2.1", "given", False),
        ("checkout", "1.9.0", "logs", True),
    ]
    assert doc["correlation"]["origin"] == "checkout"
