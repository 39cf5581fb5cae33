"""The project's stream page: per-service rates, the live tail and its filters, escaping,
the htmx fragment, tenant isolation and the query budget; its histogram, and an incident
opened from a range of it."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime, timedelta

from django.utils import timezone
from django_tenants.utils import tenant_context

from apps.incidents.models import Incident, Project
from apps.ingestion import services as ingestion
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
    with django_assert_max_num_queries(11):  # the deploys in the window included
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


def _stamp(moment) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S")


def test_histogram_counts_records_and_errors_per_bucket(client, personas):
    stream_into(
        personas.alpha,
        "shared",
        [("api", "INFO", "hist one"), ("api", "ERROR", "hist two"), ("db", "FATAL", "hist 3")],
    )
    client.force_login(personas.viewer)
    body = client.get(url(personas.alpha, "projects/shared/stream/?window=6h")).content.decode()
    assert body.count('data-testid="histogram-bar"') == 60
    # the three records are a few seconds apart: one or two buckets hold them all
    counts = [
        (int(total), int(errors or 0))
        for total, errors in re.findall(r"(\d+) records(?:, (\d+) errors)?</title>", body)
    ]
    assert sum(t for t, _ in counts) >= 3 and sum(e for _, e in counts) >= 2
    assert 'aria-current="true">6h<' in body
    # a bar is a link that preselects its range in the form (no JavaScript needed)
    bar = re.search(r'href="\?window=6h&amp;start=([^&]+)&amp;end=([^#]+)#stream-range"', body)
    page = client.get(url(personas.alpha, f"projects/shared/stream/?start={bar[1]}&end={bar[2]}"))
    assert f'name="start" required value="{bar[1]}"' in page.content.decode()
    assert "Viewers cannot open incidents" in page.content.decode()


def test_open_an_incident_from_a_range_of_the_stream(client, personas):
    marker = f"range-marker-{uuid.uuid4().hex[:8]}"
    stream_into(
        personas.alpha,
        "shared",
        [("api", "INFO", f"before {marker}"), ("api", "ERROR", f"failed {marker}")],
    )
    now = timezone.now()
    client.force_login(personas.member)
    target = url(personas.alpha, "projects/shared/stream/incident/")
    form = {"start": _stamp(now - timedelta(minutes=5)), "end": _stamp(now + timedelta(seconds=2))}
    response = client.post(target, {**form, "title": "Checkout errors <b>"}, HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    location = response.headers["HX-Redirect"]
    incident_id = int(re.search(r"/incidents/(\d+)/$", location)[1])
    with tenant_context(personas.alpha):
        incident = Incident.objects.get(pk=incident_id)
        assert (incident.title, incident.created_by) == ("Checkout errors <b>", personas.member)
        job = incident.jobs.get()
        ingestion.run_ingest(job.pk)
        messages = list(incident.sources.get().events.values_list("message", flat=True))
    assert sum(marker in m for m in messages) == 2
    page = client.get(location).content.decode()
    assert "Checkout errors &lt;b&gt;" in page
    # without htmx: a plain redirect
    plain = client.post(target, form)
    assert plain.status_code == 302 and re.search(r"/incidents/\d+/$", plain.headers["Location"])


def test_a_range_without_records_or_backwards_is_refused(client, personas):
    client.force_login(personas.member)
    target = url(personas.alpha, "projects/shared/stream/incident/")
    with tenant_context(personas.alpha):
        before = Incident.objects.count()
    long_ago = datetime(2001, 1, 1, tzinfo=UTC)
    cases = [
        ({"start": _stamp(long_ago), "end": _stamp(long_ago + timedelta(hours=1))}, "no stream"),
        ({"start": _stamp(long_ago), "end": _stamp(long_ago)}, "must end after"),
        ({"start": _stamp(long_ago), "end": _stamp(long_ago + timedelta(days=2))}, "at most a day"),
        ({"start": "yesterday", "end": ""}, "From (UTC)"),
    ]
    for data, message in cases:
        response = client.post(target, data, HTTP_HX_REQUEST="true")
        assert response.status_code == 422
        body = response.content.decode()
        assert message in body and 'id="stream-range"' in body and "<html" not in body
    with tenant_context(personas.alpha):
        assert Incident.objects.count() == before


def test_viewers_and_other_tenants_cannot_open_incidents(client, personas):
    now = timezone.now()
    form = {"start": _stamp(now - timedelta(hours=1)), "end": _stamp(now)}
    target = url(personas.alpha, "projects/shared/stream/incident/")
    client.force_login(personas.viewer)
    assert client.post(target, form).status_code == 403
    client.force_login(personas.outsider)
    assert client.post(target, form).status_code in (403, 404)
