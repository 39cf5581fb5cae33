"""What each channel receives, built from one `AlertMessage`. No Django here: plain dicts and
strings, checked in the tests against each service's documented schema.

- Slack incoming webhook: Block Kit (header ≤ 150 chars, section text ≤ 3000, fields ≤ 10 of
  ≤ 2000, a link button), with `text` as the notification fallback. Log text is escaped
  (`&`, `<`, `>`) so a log line cannot forge a link or a mention.
- Microsoft Teams Workflows webhook: a `message` carrying one Adaptive Card (1.4).
- PagerDuty Events API v2: trigger / acknowledge / resolve with the alert's stable `dedup_key`.
- Generic webhook: Standard Webhooks' shape `{"type", "timestamp", "data"}`; signed by the
  sender (apps/alerts/delivery.py).
- E-mail: subject and plain text here; the HTML part is a template.

An acknowledgement is short everywhere ("Acknowledged by Ada: <title>", the incident's
severity, service and link): the people who got the trigger need to know someone has it, not
the evidence again.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

SEVERITY_EMOJI = {"critical": "🔴", "error": "🟠", "warning": "🟡", "info": "🔵"}
PAGERDUTY_SEVERITIES = ("critical", "error", "warning", "info")
CLIENT = "AI Ops Assistant"


@dataclass(frozen=True, slots=True)
class AlertMessage:
    """Everything a message says, rendered once when it is queued (stored on the notification)."""

    action: str  # trigger | remind | acknowledge | resolve | test
    title: str
    severity: str  # info | warning | error | critical
    incident_severity: str = ""  # "SEV2"
    service: str = ""
    project: str = ""
    root_cause: str = ""
    evidence: str = (
        ""  # the first evidence line (a stream record: its time, level, service, message)
    )
    evidence_link: str = ""  # the line in context (the evidence view)
    link: str = ""
    rule: str = ""
    category: str = ""
    reasons: list[str] = field(default_factory=list)
    matches: int = 0
    dedup_key: str = ""
    incident_id: int | None = None
    at: str = ""  # ISO-8601 UTC
    by: str = ""  # who acknowledged it

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> AlertMessage:
        return cls(**{k: v for k, v in data.items() if k in cls.__dataclass_fields__})

    @property
    def short(self) -> bool:
        """An acknowledgement: who has it and the link, not the evidence again."""
        return self.action == "acknowledge"

    @property
    def headline(self) -> str:
        if self.action == "acknowledge" and self.by:
            return f"Acknowledged by {self.by}: {self.title}"
        prefix = {
            "resolve": "Resolved: ",
            "remind": "Still open: ",
            "acknowledge": "Acknowledged: ",
            "test": "Test: ",
        }
        return prefix.get(self.action, "") + self.title


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def slack_escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def slack(msg: AlertMessage) -> dict[str, Any]:
    fields = [("Severity", msg.severity), ("Service", msg.service or "—")]
    if msg.incident_severity:
        fields.append(("Incident", msg.incident_severity))
    if msg.project:
        fields.append(("Project", msg.project))
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": _cut(msg.headline, 150)}},
        {
            "type": "section",
            "fields": [
                {"type": "mrkdwn", "text": _cut(f"*{k}*\n{slack_escape(v)}", 2000)}
                for k, v in fields
            ],
        },
    ]
    if msg.root_cause and not msg.short:
        text = f"*Root cause*\n{slack_escape(msg.root_cause)}"
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": _cut(text, 3000)}})
    if msg.evidence and not msg.short:
        line = slack_escape(msg.evidence.replace("```", "ˋˋˋ"))
        text = f"*First evidence*\n```{_cut(line, 2800)}```"
        if msg.evidence_link.startswith(("https://", "http://")):
            text += f"\n<{slack_escape(msg.evidence_link[:200]).replace('|', '%7C')}|Open the line>"
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": text}})
    if msg.reasons and not msg.short:
        context = slack_escape("; ".join(msg.reasons))
        if msg.matches > len(msg.reasons):
            context += f" (+{msg.matches - len(msg.reasons)} more)"
        blocks.append(
            {"type": "context", "elements": [{"type": "mrkdwn", "text": _cut(context, 3000)}]}
        )
    if msg.link:
        button = {
            "type": "button",
            "text": {"type": "plain_text", "text": "Open incident"},
            "url": msg.link[:3000],
        }
        blocks.append({"type": "actions", "elements": [button]})
    fallback = f"{SEVERITY_EMOJI.get(msg.severity, '')} {msg.headline}".strip()
    return {"text": _cut(slack_escape(fallback), 3000), "blocks": blocks}


def teams(msg: AlertMessage) -> dict[str, Any]:
    facts = [{"title": "Severity", "value": msg.severity}]
    facts += [{"title": "Service", "value": msg.service or "—"}]
    if msg.incident_severity:
        facts.append({"title": "Incident", "value": msg.incident_severity})
    if msg.project:
        facts.append({"title": "Project", "value": msg.project})
    body: list[dict[str, Any]] = [
        {
            "type": "TextBlock",
            "text": msg.headline,
            "size": "Large",
            "weight": "Bolder",
            "wrap": True,
        },
        {"type": "FactSet", "facts": facts},
    ]
    if msg.root_cause and not msg.short:
        body.append({"type": "TextBlock", "text": "Root cause", "weight": "Bolder"})
        body.append({"type": "TextBlock", "text": msg.root_cause, "wrap": True})
    if msg.evidence and not msg.short:
        body.append({"type": "TextBlock", "text": "First evidence", "weight": "Bolder"})
        body.append(
            {"type": "TextBlock", "text": msg.evidence, "fontType": "Monospace", "wrap": True}
        )
    card: dict[str, Any] = {
        "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
        "type": "AdaptiveCard",
        "version": "1.4",
        "body": body,
    }
    if msg.link:
        card["actions"] = [{"type": "Action.OpenUrl", "title": "Open incident", "url": msg.link}]
    if msg.evidence_link and msg.evidence and not msg.short:
        line = {"type": "Action.OpenUrl", "title": "Open the line", "url": msg.evidence_link}
        card.setdefault("actions", []).append(line)
    attachment = {
        "contentType": "application/vnd.microsoft.card.adaptive",
        "contentUrl": None,
        "content": card,
    }
    return {"type": "message", "attachments": [attachment]}


def pagerduty(msg: AlertMessage, routing_key: str) -> dict[str, Any]:
    """An Events API v2 event. An acknowledge or a resolve needs only the dedup_key; a
    reminder is a trigger again with the same key (PagerDuty folds it into the open alert)."""
    if msg.action in ("acknowledge", "resolve"):
        return {
            "routing_key": routing_key,
            "event_action": msg.action,
            "dedup_key": msg.dedup_key[:255],
        }
    severity = msg.severity if msg.severity in PAGERDUTY_SEVERITIES else "error"
    details = {"root_cause": msg.root_cause, "first_evidence": msg.evidence}
    details.update(matches=msg.matches, reasons=msg.reasons, incident=msg.incident_severity)
    payload: dict[str, Any] = {
        "summary": _cut(msg.headline, 1024),
        "source": _cut(msg.service or msg.project or CLIENT, 255),
        "severity": severity,
        "custom_details": details,
    }
    if msg.at:
        payload["timestamp"] = msg.at
    if msg.service:
        payload["component"] = msg.service
    if msg.project:
        payload["group"] = msg.project
    if msg.category:
        payload["class"] = msg.category
    event: dict[str, Any] = {
        "routing_key": routing_key,
        "event_action": "trigger",
        "dedup_key": msg.dedup_key[:255],
        "payload": payload,
        "client": CLIENT,
    }
    if msg.link:
        event["client_url"] = msg.link
        event["links"] = [{"href": msg.link, "text": "Open incident"}]
    if msg.evidence_link:
        line = {"href": msg.evidence_link, "text": "Open the first evidence line"}
        event["links"] = [*event.get("links", []), line]
    return event


WEBHOOK_TYPES = {
    "trigger": "incident.alert.triggered",
    "remind": "incident.alert.reminder",
    "acknowledge": "incident.alert.acknowledged",
    "resolve": "incident.alert.resolved",
    "test": "alert.test",
}


def webhook(msg: AlertMessage) -> dict[str, Any]:
    """The documented JSON payload (docs/alerts.md): Standard Webhooks' envelope."""
    data = msg.as_dict()
    return {
        "type": WEBHOOK_TYPES.get(msg.action, "incident.alert"),
        "timestamp": msg.at,
        "data": data,
    }


def email_subject(msg: AlertMessage, replying_to: AlertMessage | None = None) -> str:
    """A follow-up (acknowledge, resolve, reminder) replies to the trigger's subject, so mail
    clients that thread by subject (Gmail, Outlook) group it with the original too."""
    if replying_to is not None:
        return _cut("Re: " + email_subject(replying_to), 200)
    where = f" [{msg.service}]" if msg.service else ""
    return _cut(f"[{msg.severity.upper()}]{where} {msg.headline}".replace("\n", " "), 200)


def email_text(msg: AlertMessage) -> str:
    lines = [msg.headline, ""]
    if msg.short:
        lines += [f"Incident: {msg.incident_severity or '-'}", f"Service: {msg.service or '-'}"]
        if msg.link:
            lines += ["", f"Open the incident: {msg.link}"]
        return "\n".join(lines) + "\n"
    lines += [f"Severity: {msg.severity}", f"Service: {msg.service or '-'}"]
    if msg.incident_severity:
        lines.append(f"Incident: {msg.incident_severity}")
    if msg.project:
        lines.append(f"Project: {msg.project}")
    if msg.root_cause:
        lines += ["", "Root cause:", msg.root_cause]
    if msg.evidence:
        lines += ["", "First evidence:", f"    {msg.evidence}"]
        if msg.evidence_link:
            lines.append(f"    {msg.evidence_link}")
    if msg.reasons:
        lines += ["", "Why: " + "; ".join(msg.reasons)]
    if msg.link:
        lines += ["", f"Open the incident: {msg.link}"]
    return "\n".join(lines) + "\n"
