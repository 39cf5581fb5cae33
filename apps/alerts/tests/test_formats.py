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


LINE = "https://aiops.example/t/alpha/incidents/1/evidence/2/31/"


def test_the_evidence_line_links_to_its_context_everywhere():
    msg = message(evidence_link=LINE)
    slack = formats.slack(msg)
    check_slack(slack)
    assert f"<{LINE}|Open the line>" in str(slack)
    teams = formats.teams(msg)
    check_teams(teams)
    actions = teams["attachments"][0]["content"]["actions"]
    assert [a["url"] for a in actions] == [msg.link, LINE]
    trigger = formats.pagerduty(msg, "k" * 32)
    check_pagerduty(trigger)
    assert [link["href"] for link in trigger["links"]] == [msg.link, LINE]
    assert f"    {LINE}" in formats.email_text(msg)
    assert "Open the line" not in str(formats.slack(message()))  # no link, no button


def test_an_acknowledgement_is_short_and_names_who():
    ack = message(action="acknowledge", by="Ada", title="db down", evidence_link=LINE)
    slack = formats.slack(ack)
    check_slack(slack)
    assert slack["blocks"][0]["text"]["text"] == "Acknowledged by Ada: db down"
    assert "Root cause" not in str(slack) and "First evidence" not in str(slack)
    teams = str(formats.teams(ack))
    assert "Acknowledged by Ada: db down" in teams and "First evidence" not in teams
    text = formats.email_text(ack)
    assert text.startswith("Acknowledged by Ada: db down\n") and "Root cause" not in text
    assert formats.webhook(ack)["data"]["by"] == "Ada"
    assert message(action="acknowledge").headline.startswith("Acknowledged: ")  # nobody named
    trigger = message(title="db down")
    assert formats.email_subject(ack, trigger) == "Re: " + formats.email_subject(trigger)
