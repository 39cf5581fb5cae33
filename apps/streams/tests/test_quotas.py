"""Limits answered the way shippers understand: 429 with Retry-After over a tenant's quota
(while another tenant goes on), 503 with Retry-After when the spool is backed up."""

from __future__ import annotations

import json

import pytest
from django_tenants.utils import tenant_context

from apps.streams import quotas
from apps.streams.models import SpoolBatch


def ndjson(n: int, tag: str) -> bytes:
    return "".join(
        json.dumps({"message": f"{tag} {i}", "level": "info", "service": "flood"}) + "\n"
        for i in range(n)
    ).encode()


def send(client, token, body: bytes, path: str = "/ingest/http"):
    return client.generic("POST", path, body, content_type="application/x-ndjson", **token.bearer)


@pytest.fixture
def small_quota(settings):
    settings.STREAM_TENANT_RATE = 100
    settings.STREAM_TENANT_BURST = 300


def test_a_flooding_tenant_gets_429_while_another_gets_2xx(
    client, alpha_token, beta_token, small_quota
):
    statuses = [send(client, alpha_token, ndjson(100, f"a{n}")).status_code for n in range(6)]
    assert statuses[:3] == [200, 200, 200]
    assert 429 in statuses[3:]
    refused = send(client, alpha_token, ndjson(100, "again"))
    assert refused.status_code == 429
    assert 1 <= int(refused["Retry-After"]) <= quotas.MAX_RETRY_AFTER
    assert send(client, beta_token, ndjson(100, "b")).status_code == 200  # its own bucket
    with tenant_context(alpha_token.tenant):
        assert SpoolBatch.objects.filter(record_count=100).count() == 3  # refused: not stored


@pytest.mark.parametrize(
    ("path", "content_type"),
    [("/ingest/otlp/v1/logs", "application/json"), ("/ingest/es/_bulk", "application/x-ndjson")],
)
def test_each_protocol_answers_429_in_its_own_shape(
    client, alpha_token, small_quota, settings, path, content_type
):
    settings.STREAM_TENANT_RATE = 1  # no refill to speak of while the test runs
    assert quotas.take(alpha_token.tenant.pk, 300) is None  # the burst, spent
    body = (
        b'{"resourceLogs":[{"scopeLogs":[{"logRecords":[{"body":{"stringValue":"x"}}]}]}]}'
        if "otlp" in path
        else b'{"index":{}}\n{"message":"x"}\n'
    )
    response = client.generic("POST", path, body, content_type=content_type, **alpha_token.bearer)
    assert response.status_code == 429 and response["Retry-After"]


def test_a_backed_up_spool_answers_503_with_retry_after(client, alpha_token, settings):
    settings.STREAM_MAX_BACKLOG = 150
    quotas._backlog_cache.clear()
    assert send(client, alpha_token, ndjson(100, "one")).status_code == 200
    quotas._backlog_cache.clear()
    assert send(client, alpha_token, ndjson(100, "two")).status_code == 200  # 100 waiting
    quotas._backlog_cache.clear()
    response = send(client, alpha_token, ndjson(100, "three"))  # 200 waiting > 150
    assert response.status_code == 503
    assert response["Retry-After"] == str(settings.STREAM_OVERLOAD_RETRY_AFTER)
    quotas._backlog_cache.clear()


def test_a_refused_tenant_is_refused_again_before_its_body_is_read(
    client, alpha_token, beta_token, small_quota, settings, monkeypatch
):
    """A flooder that ignores Retry-After costs a token lookup, not a decode: within the hold
    even a malformed body is answered 429 (it is never read), other tenants are untouched,
    and once the bucket may have refilled the tenant is served again."""
    settings.STREAM_TENANT_RATE = 1
    assert quotas.take(alpha_token.tenant.pk, 300) is None
    assert send(client, alpha_token, ndjson(100, "over")).status_code == 429
    assert send(client, alpha_token, b"{not json").status_code == 429  # not decoded: not a 400
    assert send(client, beta_token, b"{not json").status_code == 400  # beta is decoded
    monkeypatch.setattr(quotas, "_refused", {})  # as when the hold has passed
    assert send(client, alpha_token, b"{not json").status_code == 400
