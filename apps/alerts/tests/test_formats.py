"""Payload builders (no database): documented shapes and hostile log text."""

from __future__ import annotations

from apps.alerts import formats
from apps.alerts.formats import AlertMessage
from apps.alerts.tests.receivers import check_pagerduty, check_slack, check_teams

HOSTILE = "<!channel> <https://evil.example|click> & ```break``` " + "x" * 5000


def message(**fields) -> AlertMessage:
    values = {
        "action": "trigger",
        "title": "T" * 400,
        "severity": "critical",
        "service": "api",
        "project": "checkout",
        "root_cause": HOSTILE,
        "evidence": HOSTILE,
        "link": "https://aiops.example/t/alpha/incidents/1/",
        "reasons": ["critical: db"] * 5,
        "matches": 9,
        "dedup_key": "aiops:t_alpha:1:1",
        "at": "2024-03-02T10:00:00+00:00",
    }
    values.update(fields)
    return AlertMessage(**values)


def test_slack_stays_within_block_kit_limits_and_escapes_log_text():
    payload = formats.slack(message())
    check_slack(payload)
    text = str(payload)
    assert "<!channel>" not in text and "<https://evil" not in text
    assert "&lt;!channel&gt;" in text and "+4 more" in text


def test_teams_card_and_pagerduty_events_follow_their_schemas():
    check_teams(formats.teams(message()))
    trigger = formats.pagerduty(message(), "k" * 32)
    check_pagerduty(trigger)
    assert trigger["payload"]["component"] == "api" and trigger["links"][0]["href"].startswith(
        "https"
    )
    resolve = formats.pagerduty(message(action="resolve"), "k" * 32)
    check_pagerduty(resolve)
    assert resolve == {
        "routing_key": "k" * 32,
        "event_action": "resolve",
        "dedup_key": "aiops:t_alpha:1:1",
    }


def test_webhook_envelope_and_mail_text():
    envelope = formats.webhook(message(action="resolve"))
    assert envelope["type"] == "incident.alert.resolved"
    assert envelope["data"]["dedup_key"] == "aiops:t_alpha:1:1"
    assert AlertMessage.from_dict({**envelope["data"], "unknown": 1}) == message(action="resolve")
    assert formats.email_subject(message()).startswith("[CRITICAL] [api] ")
    assert "\n" not in formats.email_subject(message(title="a\nBcc: x@y"))
