"""The project's stream page: per-service rates, the live tail and its filters, escaping,
the htmx fragment, tenant isolation and the query budget."""

from __future__ import annotations

from datetime import timedelta

from django.utils import timezone
from django_tenants.utils import tenant_context

from apps.incidents.models import Project
from apps.streams import draining, services
from apps.streams.protocols import StreamRecord

from .conftest import url

HX = {"HTTP_HX_REQUEST": "true", "HTTP_HX_TARGET": "stream-tail"}
PAYLOAD = '<script>alert("tail")</script>'


def stream_into(tenant, slug: str, messages: list[tuple[str, str, str]]) -> None:
    now = timezone.now()
    records = [
        StreamRecord(
            time=now - timedelta(seconds=len(messages) - i),
            observed_time=now,
            service=service,
            level=level,
            message=message,
        )
        for i, (service, level, message) in enumerate(messages)
    ]
    with tenant_context(tenant):
        project = Project.objects.get(slug=slug)
        services.spool_batch(
            project_id=project.pk,
            token_id=None,
            protocol="http",
            digest=f"view-{now.timestamp()}",
            body_bytes=1,
            records=records,
            received_at=now,
        )
        while draining.drain_once():
            pass


def test_rates_and_tail_with_filters_escaped(client, personas, django_assert_max_num_queries):
    stream_into(
        personas.alpha,
        "shared",
        [("api", "INFO", "GET / 200"), ("api", "ERROR", PAYLOAD), ("db", "WARN", "slow query")],
    )
    stream_into(personas.beta, "shared", [("beta-only", "INFO", "beta marker line")])
    client.force_login(personas.viewer)
    with django_assert_max_num_queries(16):
        response = client.get(url(personas.alpha, "projects/shared/stream/"))
    body = response.content.decode()
    assert response.status_code == 200
    assert 'data-testid="stream-rate"' in body and ">api</a>" in body
    assert PAYLOAD not in body and "&lt;script&gt;alert(&quot;tail&quot;)&lt;/script&gt;" in body
    assert "beta marker line" not in body and "beta-only" not in body  # ids repeat per schema
    # the htmx poll gets the tail alone, filtered
    tail = client.get(url(personas.alpha, "projects/shared/stream/?level=WARN"), **HX)
    fragment = tail.content.decode()
    assert "<html" not in fragment and 'id="stream-tail"' in fragment
    assert fragment.count('data-testid="tail-row"') >= 2 and "GET / 200" not in fragment
    only_db = client.get(url(personas.alpha, "projects/shared/stream/?service=db"), **HX)
    assert "slow query" in only_db.content.decode()
    assert "&lt;script" not in only_db.content.decode()


def test_other_tenants_and_unknown_projects_get_nothing(client, personas):
    client.force_login(personas.outsider)
    assert client.get(url(personas.alpha, "projects/shared/stream/")).status_code in (403, 404)
    client.force_login(personas.viewer)
    assert client.get(url(personas.alpha, "projects/no-such/stream/")).status_code == 404
