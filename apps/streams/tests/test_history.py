"""The stream as history: a template the project's stream carried well before an upload shows
it is not a "new message pattern" in that upload; one it never carried still is."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from django_tenants.utils import tenant_context

from apps.ingestion import services as ingestion
from apps.rules.models import Finding
from apps.streams import draining, services
from apps.streams.models import StreamTemplate
from apps.streams.protocols import StreamRecord

T0 = datetime(2026, 3, 14, 10, 0, tzinfo=UTC)


def _streamed(token, at: datetime, messages: list[tuple[str, str]]) -> None:
    records = [
        StreamRecord(
            time=at + timedelta(seconds=i),
            observed_time=at,
            service="api",
            level=level,
            message=message,
        )
        for i, (level, message) in enumerate(messages)
    ]
    with tenant_context(token.tenant):
        services.spool_batch(
            project_id=token.project.pk,
            token_id=token.row.pk,
            protocol="http",
            digest=f"history-{at.timestamp()}",
            body_bytes=1,
            records=records,
            received_at=at,
        )
        while draining.drain_once():
            pass


def _upload() -> str:
    lines = [
        f"{(T0 + timedelta(seconds=i)).isoformat().replace('+00:00', 'Z')} INFO api: "
        f"GET /orders/{i} 200 in {i % 40} ms"
        for i in range(300)
    ]
    lines.insert(200, "2026-03-14T10:03:20Z WARN api: cache shard 7 rebalanced after 95 ms")
    lines.insert(220, "2026-03-14T10:03:40Z WARN api: disk quota near limit on volume 4")
    return "\n".join(lines) + "\n"


def test_a_template_the_stream_carried_before_is_not_new(alpha_token):
    _streamed(
        alpha_token,
        T0 - timedelta(hours=1),
        [("WARN", f"cache shard {n} rebalanced after {n * 10} ms") for n in range(1, 4)],
    )
    with tenant_context(alpha_token.tenant):
        history = StreamTemplate.objects.get(project=alpha_token.project, count=3)
        assert history.first_seen == T0 - timedelta(hours=1)
        incident = ingestion.create_incident(
            project=alpha_token.project,
            title="history",
            uploads=[ingestion.upload_from_text(_upload())],
            run_inline=True,
        )
        for job in incident.jobs.all():
            ingestion.run_ingest(job.pk)
        new = list(
            Finding.objects.filter(incident=incident, category="new-template").values_list(
                "title", flat=True
            )
        )
    assert any("disk quota" in title for title in new)
    assert not any("cache shard" in title for title in new)
