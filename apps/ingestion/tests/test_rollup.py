"""The event rollup the timeline draws from: always equal to counting the raw events."""

from __future__ import annotations

from django.db import connection

from apps.ingestion import rollup, services
from apps.ingestion.models import Event, EventRollup

from .conftest import SAMPLES
from .test_ingest import ingest

RAW_COUNTS = """
SELECT date_bin('10 seconds', ts, TIMESTAMPTZ '1970-01-01 00:00:00+00'), level, service, count(*)
FROM ingestion_event WHERE incident_id = %s AND ts IS NOT NULL GROUP BY 1, 2, 3
"""


def raw_counts(incident) -> dict:
    with connection.cursor() as cursor:
        cursor.execute(RAW_COUNTS, [incident.pk])
        return {(bucket, level, service): n for bucket, level, service, n in cursor.fetchall()}


def rollup_counts(incident) -> dict:
    rows = EventRollup.objects.filter(incident=incident).values_list(
        "bucket", "level", "service", "count"
    )
    counts: dict = {}
    for bucket, level, service, n in rows:
        key = (bucket, level, service)
        assert key not in counts, f"duplicate rollup row {key}"
        counts[key] = n
    return counts


def assert_rollup_matches(incident) -> None:
    expected = raw_counts(incident)
    assert rollup_counts(incident) == expected
    timed = Event.objects.filter(incident=incident, ts__isnull=False).count()
    assert sum(expected.values()) == timed


def test_rollup_after_ingest_second_upload_and_delete(alpha_project):
    incident = ingest(alpha_project, SAMPLES / "checkout-db-connections.zip")
    assert EventRollup.objects.filter(incident=incident).exists()
    assert len({service for _, _, service in rollup_counts(incident)}) > 1
    assert_rollup_matches(incident)

    # a second upload into the same incident, overlapping in time
    text = "".join(
        f"2024-03-14T10:0{i % 10}:{i % 60:02d}.{i:03d}Z {'ERROR' if i % 7 else 'INFO'} "
        f"late-service: request {i}\n"
        for i in range(300)
    )
    (job,) = services.add_files(
        incident=incident, uploads=[services.upload_from_text(text)], run_inline=True
    )
    services.run_ingest(job.pk)
    assert_rollup_matches(incident)
    assert any(service == "late-service" for _, _, service in rollup_counts(incident))

    source = incident.sources.order_by("-event_count").first()
    services.delete_source(source=source)
    assert_rollup_matches(incident)


def test_refresh_is_idempotent_and_per_incident(alpha_project):
    one = ingest(alpha_project, SAMPLES / "tls-cert-expired.zip", title="one")
    two = ingest(alpha_project, SAMPLES / "worker-oom-crashloop.zip", title="two")
    before = rollup_counts(two)
    rollup.refresh_rollup(one)
    rollup.refresh_rollup(one)
    assert_rollup_matches(one)
    assert rollup_counts(two) == before
    Event.objects.filter(incident=one).delete()
    rollup.refresh_rollup(one)
    assert not EventRollup.objects.filter(incident=one).exists()
    assert rollup_counts(two) == before


def test_untimestamped_events_are_not_counted(alpha_project):
    text = "no timestamp here\nstill none\n2024-01-15T14:02:11Z ERROR api: boom\n"
    incident = services.create_incident(
        project=alpha_project,
        title="untimed",
        uploads=[services.upload_from_text(text)],
        run_inline=True,
    )
    services.run_ingest(incident.jobs.get().pk)
    assert Event.objects.filter(incident=incident, ts__isnull=True).exists()
    assert_rollup_matches(incident)


def group_rollup_matches(incident) -> None:
    from apps.ingestion.models import GroupRollup

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT group_id, date_bin('10 seconds', ts, TIMESTAMPTZ '1970-01-01 00:00:00+00'),"
            " count(*) FROM ingestion_event WHERE incident_id = %s AND ts IS NOT NULL"
            " GROUP BY 1, 2",
            [incident.pk],
        )
        expected = {(g, b): n for g, b, n in cursor.fetchall()}
    got = {
        (g, b): n
        for g, b, n in GroupRollup.objects.filter(incident=incident).values_list(
            "group_id", "bucket", "count"
        )
    }
    assert got == expected and expected


def test_group_rollup_follows_ingest_and_deletion(alpha_project):
    incident = ingest(alpha_project, SAMPLES / "checkout-db-connections.zip")
    group_rollup_matches(incident)
    services.delete_source(source=incident.sources.order_by("pk").first())
    group_rollup_matches(incident)


def test_sparklines_from_rollup_equal_raw_counts(alpha_project):
    from apps.workspace.selectors import sparklines as selectors
    from apps.workspace.selectors.events import EventFilters

    incident = ingest(alpha_project, SAMPLES / "checkout-db-connections.zip")
    sources = list(incident.sources.all())

    def sparks(rollup_flag):
        groups = selectors.top_groups(incident)
        selectors.attach_sparklines(
            incident, groups, sources, EventFilters.from_query({}), rollup=rollup_flag
        )
        return {occ.group.group_id: occ.spark for occ in groups}

    from_rollup, from_events = sparks(True), sparks(False)
    assert any(from_rollup.values())
    assert from_rollup == from_events
