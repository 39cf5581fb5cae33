"""Delivery with real parts: HTTP receivers on loopback, aiosmtpd, standardwebhooks verifying
our signatures; retries, backoff, the final failed state and the log; idempotency keys."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone
from standardwebhooks.webhooks import Webhook

from apps.alerts import channels, delivery, services
from apps.alerts.models import Channel, DeliveryAttempt, Notification
from apps.alerts.tests.conftest import PD_KEY
from apps.alerts.tests.receivers import Reply, check_pagerduty, check_slack, check_teams
from apps.jobs import lifecycle

pytestmark = pytest.mark.django_db


def make(project, kind, receiver=None, **fields):
    url = f"{receiver.url}/hook/SECRET-PATH-{kind}" if receiver else ""
    if kind == Channel.Kind.PAGERDUTY:
        fields.setdefault("routing_key", PD_KEY)
    channel, shown = services.create_channel(
        project=project, kind=kind, name=f"{kind} channel", url=url, **fields
    )
    return channel, shown


def test_send_test_reaches_slack_as_block_kit(project, receiver):
    channel, _ = make(project, Channel.Kind.SLACK, receiver)
    notification = services.send_test(channel)
    assert delivery.deliver(notification.pk) == "done"
    (request,) = receiver.requests
    assert request.path == "/hook/SECRET-PATH-slack"
    assert request.headers["content-type"] == "application/json"
    check_slack(request.json())
    notification.refresh_from_db()
    assert (notification.status, notification.response_code) == ("done", 200)
    (attempt,) = notification.attempts_log.all()
    assert (attempt.number, attempt.ok, attempt.response_code) == (1, True, 200)


def test_teams_gets_an_adaptive_card(project, receiver):
    receiver.default = Reply(status=202, body=b"")  # Workflows answer 202 Accepted
    channel, _ = make(project, Channel.Kind.TEAMS, receiver)
    assert delivery.deliver(services.send_test(channel).pk) == "done"
    check_teams(receiver.requests[0].json())


def test_pagerduty_trigger_carries_the_routing_key_and_dedup_key(project, receiver):
    receiver.default = Reply(202, b'{"status":"success","message":"Event processed"}')
    channel, shown = make(project, Channel.Kind.PAGERDUTY, receiver)
    assert shown == ""
    notification = services.send_test(channel)
    assert delivery.deliver(notification.pk) == "done"
    event = receiver.requests[0].json()
    check_pagerduty(event)
    assert event["routing_key"] == PD_KEY
    assert event["dedup_key"] == notification.message["dedup_key"]


def test_webhook_is_signed_per_standard_webhooks(project, receiver):
    channel, secret = make(project, Channel.Kind.WEBHOOK, receiver)
    assert secret.startswith("whsec_")
    notification = services.send_test(channel)
    assert delivery.deliver(notification.pk) == "done"
    (request,) = receiver.requests
    payload = Webhook(secret).verify(request.body, request.headers)
    assert request.headers["webhook-id"] == notification.key
    assert payload["type"] == "alert.test" and payload["data"]["action"] == "test"
    with pytest.raises(Exception, match="signature"):
        Webhook(channels.new_signing_secret()).verify(request.body, request.headers)


def test_email_is_plain_text_and_html_through_smtp(project, smtp):
    channel, _ = make(project, Channel.Kind.EMAIL, recipients="oncall@example.com\nops@example.com")
    notification = services.send_test(channel)
    assert delivery.deliver(notification.pk) == "done"
    ((rcpts, message),) = smtp.mailbox.messages
    assert sorted(rcpts) == ["oncall@example.com", "ops@example.com"]
    assert message["Message-ID"] == f"<{notification.key}@aiops.alerts>"
    assert "Test:" in message["Subject"]
    assert message.get_body(("plain",)).get_content().startswith("Test: ")
    assert "<h2" in message.get_body(("html",)).get_content()


def test_secrets_are_sealed_and_never_logged(project, receiver):
    channel, _ = make(project, Channel.Kind.SLACK, receiver)
    assert "SECRET-PATH" not in channel.sealed and "SECRET-PATH" not in channel.hint
    assert channels.open_config(channel)["url"].endswith("SECRET-PATH-slack")
    notification = services.send_test(channel)
    delivery.deliver(notification.pk)
    logged = list(DeliveryAttempt.objects.values_list("detail", flat=True))
    assert "SECRET-PATH" not in str(notification.message) + str(logged)


# --- faults: retries with backoff, a final failed state, the log ---------------------------------


def test_500_then_200_is_retried_once(project, receiver):
    receiver.replies = [Reply(500, b"boom")]
    channel, _ = make(project, Channel.Kind.SLACK, receiver)
    notification = services.send_test(channel)
    assert delivery.deliver(notification.pk) == "queued"
    notification.refresh_from_db()
    assert notification.error == "HTTP 500" and notification.next_try_at is not None
    assert services.due_notifications() == [notification.pk]  # the sweep sends it again
    assert delivery.deliver(notification.pk) == "done"
    log = list(notification.attempts_log.values_list("number", "ok", "response_code"))
    assert log == [(1, False, 500), (2, True, 200)]
    assert len(receiver.requests) == 2


def test_a_receiver_that_keeps_failing_ends_failed(project, receiver, settings):
    receiver.default = Reply(500, b"down")
    channel, _ = make(project, Channel.Kind.WEBHOOK, receiver)
    notification = services.send_test(channel)
    limit = settings.Q_CLUSTER["max_attempts"]
    statuses = [delivery.deliver(notification.pk) for _ in range(limit)]
    assert statuses == ["queued"] * (limit - 1) + ["failed"]
    notification.refresh_from_db()
    assert (notification.status, notification.error, notification.response_code) == (
        "failed",
        "HTTP 500",
        500,
    )
    assert notification.attempts_log.count() == limit == len(receiver.requests)
    assert delivery.deliver(notification.pk) == lifecycle.SKIPPED  # over: never sent again
    ids = {r.headers["webhook-id"] for r in receiver.requests}
    assert ids == {notification.key}  # every try is the same message to the receiver


def test_429_waits_for_retry_after(project, receiver, settings):
    receiver.replies = [Reply(429, b"rate limited", {"Retry-After": "120"})]
    channel, _ = make(project, Channel.Kind.SLACK, receiver)
    notification = services.send_test(channel)
    before = timezone.now()
    assert delivery.deliver(notification.pk) == "queued"
    notification.refresh_from_db()
    assert notification.next_try_at >= before + timedelta(seconds=119)
    assert delivery.deliver(notification.pk) == "not due"  # a re-delivered task waits
    assert services.due_notifications() == []
    assert services.due_notifications(notification.next_try_at) == [notification.pk]
    assert len(receiver.requests) == 1


def test_a_slow_receiver_times_out_and_is_retried(project, receiver, settings):
    settings.ALERTS_HTTP_TIMEOUT = 1
    receiver.replies = [Reply(200, b"late", delay=2.5)]
    channel, _ = make(project, Channel.Kind.TEAMS, receiver)
    notification = services.send_test(channel)
    assert delivery.deliver(notification.pk) == "queued"
    assert notification.attempts_log.get().detail == "timed out"
    assert delivery.deliver(notification.pk) == "done"


def test_backoff_grows_and_honours_retry_after(settings):
    settings.ALERTS_RETRY_SECONDS = 30
    assert [delivery.backoff(n).total_seconds() for n in (1, 2, 3)] == [30, 120, 480]
    assert delivery.backoff(1, retry_after=300).total_seconds() == 300
    assert delivery.backoff(9).total_seconds() == delivery.MAX_BACKOFF


@pytest.mark.parametrize("status", [400, 403, 404, 410])
def test_client_errors_fail_at_once(project, receiver, status):
    receiver.default = Reply(status, b"no_service")
    channel, _ = make(project, Channel.Kind.SLACK, receiver)
    notification = services.send_test(channel)
    assert delivery.deliver(notification.pk) == "failed"
    assert len(receiver.requests) == 1


def test_internal_addresses_are_refused_by_the_egress_policy(project, receiver, settings):
    settings.ALERTS_EGRESS_ALLOW = []
    channel, _ = make(project, Channel.Kind.WEBHOOK, receiver)
    notification = services.send_test(channel)
    assert delivery.deliver(notification.pk) == "failed"
    notification.refresh_from_db()
    assert notification.error == "refused by egress policy"
    assert receiver.requests == []


def test_redirects_are_not_followed(project, receiver):
    receiver.default = Reply(307, b"", {"Location": "http://169.254.169.254/latest/"})
    channel, _ = make(project, Channel.Kind.SLACK, receiver)
    notification = services.send_test(channel)
    assert delivery.deliver(notification.pk) == "failed"
    assert len(receiver.requests) == 1


def test_a_worker_lost_mid_delivery_sends_the_same_message_again(project, receiver):
    """The worker sent, then died before recording: the row stays running, its heartbeat goes
    stale, the sweep hands it to another delivery. The receiver sees the same webhook-id (and,
    for PagerDuty, the same dedup_key), so a receiver that deduplicates acts once."""
    channel, secret = make(project, Channel.Kind.WEBHOOK, receiver)
    notification = services.send_test(channel)
    claim = lifecycle.claim(Notification, notification.pk)
    delivery.send(channel, channels.open_config(channel), notification)  # then the kill
    stale = timezone.now() - lifecycle.STALE_AFTER - timedelta(seconds=1)
    Notification.objects.filter(pk=claim.pk).update(heartbeat_at=stale)
    assert services.due_notifications() == [notification.pk]
    assert delivery.deliver(notification.pk) == "done"
    first, second = receiver.requests
    assert first.headers["webhook-id"] == second.headers["webhook-id"] == notification.key
    for request in (first, second):
        Webhook(secret).verify(request.body, request.headers)
    processed = {r.headers["webhook-id"] for r in receiver.requests}  # the receiver's dedup
    assert len(processed) == 1
