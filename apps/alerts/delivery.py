"""Deliver one notification: a job (apps.jobs.lifecycle) per message and channel.

One delivery is one try: it claims the row, sends, writes a `DeliveryAttempt` (number, outcome,
the answer's status code, never a URL or a key) and ends the row `done`, `failed`, or `queued`
again with `next_try_at` for a retry. Retried: timeouts, connection errors, 408, 429 (after its
`Retry-After`) and 5xx, with exponential backoff, up to the one retry policy of the jobs
(Q_CLUSTER["max_attempts"] claims), then `failed`. Not retried: other 4xx, an address the egress
policy refuses, a redirect, a secret that no longer unseals. The alerts sweep
(apps.alerts.tasks.sweep) sends the retries when they are due, so nothing waits behind a slow
receiver but its own message.

Idempotency: the notification's `key` is fixed when it is queued; a worker that dies after
sending and before recording sends again with the same `webhook-id` (the e-mail's Message-ID)
and, for PagerDuty, the alert's `dedup_key`: receivers see one message.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime

import httpx2
from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.template.loader import render_to_string
from django.utils import timezone
from standardwebhooks.webhooks import Webhook

from apps.alerts import channels, formats
from apps.alerts.formats import AlertMessage
from apps.alerts.models import Channel, DeliveryAttempt, Notification
from apps.core.analysis.egress import EgressRefused, egress_client
from apps.core.sealing import SealError
from apps.jobs import lifecycle
from apps.jobs.models import JobStatus

log = logging.getLogger(__name__)

RETRY_STATUSES = {408, 425, 429, 500, 502, 503, 504}
MAX_BACKOFF = 3600.0


@dataclass(frozen=True, slots=True)
class Outcome:
    ok: bool
    code: int | None = None
    detail: str = ""
    retry: bool = False
    retry_after: float | None = None


def deliver(notification_id: int) -> str:
    """The task: one try of one notification (in the tenant's schema). "not due" when a retry's
    time has not come (a re-delivered task); else the lifecycle's status."""
    row = Notification.objects.filter(pk=notification_id).values("status", "next_try_at").first()
    if row is None:
        return "missing"
    waiting = row["next_try_at"] is not None and row["next_try_at"] > timezone.now()
    if row["status"] == JobStatus.QUEUED and waiting:
        return "not due"
    return lifecycle.run(Notification, notification_id, _try_once)


def _try_once(claim: lifecycle.Claim) -> lifecycle.Finished:
    notification = Notification.objects.select_related("channel").get(pk=claim.pk)
    channel = notification.channel
    if not channel.enabled:
        raise lifecycle.JobFailed("the channel is disabled")
    try:
        config = channels.open_config(channel)
    except SealError:
        raise lifecycle.JobFailed(
            "the channel's secret no longer unseals: enter it again"
        ) from None
    started = time.monotonic()
    outcome = send(channel, config, notification)
    DeliveryAttempt.objects.create(
        notification=notification,
        number=claim.attempts,
        ok=outcome.ok,
        response_code=outcome.code,
        detail=outcome.detail[:300],
        duration_ms=int((time.monotonic() - started) * 1000),
    )
    fields = {"response_code": outcome.code, "next_try_at": None}
    if outcome.ok:
        return lifecycle.Finished(fields=fields)
    if outcome.retry and claim.attempts < lifecycle.max_attempts():
        fields["next_try_at"] = timezone.now() + backoff(claim.attempts, outcome.retry_after)
        return lifecycle.Finished(status=JobStatus.QUEUED, error=outcome.detail, fields=fields)
    raise lifecycle.JobFailed(outcome.detail, response_code=outcome.code)


def backoff(attempt: int, retry_after: float | None = None) -> timedelta:
    """ALERTS_RETRY_SECONDS × 4^(attempt−1), at least the receiver's Retry-After, at most 1 h."""
    base = float(getattr(settings, "ALERTS_RETRY_SECONDS", 30))
    seconds = max(base * 4 ** (attempt - 1), retry_after or 0.0)
    return timedelta(seconds=min(seconds, MAX_BACKOFF))


# ----------------------------------------------------------------------------- sending


def send(channel: Channel, config: dict[str, str], notification: Notification) -> Outcome:
    msg = AlertMessage.from_dict(notification.message)
    kind = channel.kind
    if kind == Channel.Kind.EMAIL:
        return _mail(channel, msg, notification)
    if kind == Channel.Kind.SLACK:
        return _post(config["url"], json.dumps(formats.slack(msg)), {})
    if kind == Channel.Kind.TEAMS:
        return _post(config["url"], json.dumps(formats.teams(msg)), {})
    if kind == Channel.Kind.PAGERDUTY:
        url = config.get("url") or channels.PAGERDUTY_EVENTS_URL
        return _post(url, json.dumps(formats.pagerduty(msg, config["routing_key"])), {})
    if kind == Channel.Kind.WEBHOOK:
        body = json.dumps(formats.webhook(msg))
        return _post(config["url"], body, signed_headers(config["secret"], notification.key, body))
    return Outcome(False, detail=f"unknown channel kind {kind!r}")


def signed_headers(secret: str, msg_id: str, body: str, now: datetime | None = None) -> dict:
    """Standard Webhooks headers: the id stays the same on every try, the timestamp is the
    try's (receivers refuse stale ones), the signature covers `id.timestamp.body`."""
    now = now or datetime.now(UTC)
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": str(int(now.timestamp())),
        "webhook-signature": Webhook(secret).sign(msg_id, now, body),
    }


def _post(url: str, body: str, headers: dict[str, str]) -> Outcome:
    timeout = float(getattr(settings, "ALERTS_HTTP_TIMEOUT", 10))
    allow = getattr(settings, "ALERTS_EGRESS_ALLOW", [])
    headers = {"Content-Type": "application/json", "User-Agent": "aiops-alerts/1", **headers}
    try:
        with egress_client(allow, timeout=timeout) as client:
            response = client.post(url, content=body.encode(), headers=headers)
    except EgressRefused as exc:
        return Outcome(False, detail=exc.reason)
    except httpx2.TimeoutException:
        return Outcome(False, detail="timed out", retry=True)
    except httpx2.TransportError as exc:
        return Outcome(False, detail=f"connection failed ({type(exc).__name__})", retry=True)
    code = response.status_code
    if 200 <= code < 300:
        return Outcome(True, code, "delivered")
    retry = code in RETRY_STATUSES
    return Outcome(
        False, code, f"HTTP {code}", retry=retry, retry_after=_retry_after(response, code)
    )


def _retry_after(response: httpx2.Response, code: int) -> float | None:
    value = response.headers.get("retry-after", "").strip()
    if code not in (429, 503) or not value:
        return None
    if value.isdigit():
        return float(value)
    try:
        return max(0.0, (parsedate_to_datetime(value) - datetime.now(UTC)).total_seconds())
    except (TypeError, ValueError):
        return None


def _thread_of(notification: Notification) -> Notification | None:
    """The trigger this follow-up (reminder, acknowledge, resolve) answers on its channel."""
    if notification.alert_id is None or notification.action == Notification.Action.TRIGGER:
        return None
    triggers = Notification.objects.filter(
        alert_id=notification.alert_id,
        channel_id=notification.channel_id,
        action=Notification.Action.TRIGGER,
    )
    return triggers.order_by("pk").first()


def _mail(channel: Channel, msg: AlertMessage, notification: Notification) -> Outcome:
    recipients = channel.recipient_list
    if not recipients:
        return Outcome(False, detail="no recipients")
    headers = {"Message-ID": f"<{notification.key}@aiops.alerts>"}
    original = _thread_of(notification)
    if original is not None:  # threaded with the trigger (RFC 5322 In-Reply-To, References)
        headers["In-Reply-To"] = headers["References"] = f"<{original.key}@aiops.alerts>"
    mail = EmailMultiAlternatives(
        subject=formats.email_subject(
            msg, AlertMessage.from_dict(original.message) if original else None
        ),
        body=formats.email_text(msg),
        to=recipients,
        headers=headers,
    )
    mail.attach_alternative(render_to_string("alerts/email.html", {"msg": msg}), "text/html")
    try:
        mail.send()
    except (OSError, TimeoutError) as exc:  # smtplib errors are OSErrors
        return Outcome(False, detail=f"mail server: {type(exc).__name__}", retry=True)
    return Outcome(True, None, f"sent to {len(recipients)} recipient(s)")
