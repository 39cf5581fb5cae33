"""The ingest job against PostgreSQL: loss-free, idempotent, resumable, bounded."""

from __future__ import annotations

import gzip
import io
import zipfile
from datetime import timedelta

from django.utils import timezone

from apps.incidents.models import Incident
from apps.ingestion import services, writing
from apps.ingestion.models import ErrorGroup, Event, GroupOccurrence, IngestJob, Source

from .conftest import SAMPLES, file_digest, source_digest


def ingest(project, *paths, title="test incident"):
    incident = services.create_incident(
        project=project,
        title=title,
        uploads=[services.upload_from_path(p) for p in paths],
        run_inline=True,
    )
    for job in incident.jobs.all():
        services.run_ingest(job.pk)
    return incident


def test_sample_bundle_is_ingested_loss_free(alpha_project):
    bundle = SAMPLES / "checkout-db-connections"
    incident = ingest(alpha_project, SAMPLES / "checkout-db-connections.zip")
    job = incident.jobs.get()
    assert job.status == IngestJob.Status.DONE, job.error
    sources = {s.member: s for s in incident.sources.all()}
    files = {p.relative_to(bundle).as_posix(): p for p in bundle.rglob("*.log")}
    assert len(sources) == len(files)
    for name, path in files.items():
        source = next(s for member, s in sources.items() if member.endswith(name))
        assert source.status == Source.Status.DONE
        digest = file_digest(path)
        assert source.line_count == len(digest)
        assert source_digest(source) == digest
        assert source.coverage > 0.9, (name, source.coverage_line)
        assert source.checkpoint_line > 0
    assert Event.objects.filter(incident=incident).count() == sum(
        s.event_count for s in sources.values()
    )
    # stack traces were joined into multi-line events
    assert Event.objects.filter(incident=incident, end_line__gt=models_F("line")).exists()
    assert GroupOccurrence.objects.filter(incident=incident).exists()
    assert ErrorGroup.objects.filter(project=alpha_project, level__gte=4).exists()
    # the rules ran in the job: the diagnosis names the cause and its first raw line
    diagnosis = incident.diagnosis
    assert diagnosis.root_category == "db-too-many-connections"
    first_source = next(s for m, s in sources.items() if m.endswith("postgresql.log"))
    assert diagnosis.root_evidence[0] == [first_source.pk, 125]
    assert "postgresql.log:125" in diagnosis.root_summary
    assert incident.findings.filter(category="db-too-many-connections").exists()


def models_F(name):
    from django.db.models import F

    return F(name)


def test_running_twice_changes_nothing(alpha_project):
    incident = ingest(alpha_project, SAMPLES / "worker-oom-crashloop.zip")
    job = incident.jobs.get()
    before = {s.pk: source_digest(s) for s in incident.sources.all()}
    assert services.run_ingest(job.pk) == "skipped"  # a re-delivery of a finished job
    IngestJob.objects.filter(pk=job.pk).update(status=IngestJob.Status.QUEUED)
    assert services.run_ingest(job.pk) == IngestJob.Status.DONE  # a forced re-run
    after = {s.pk: source_digest(s) for s in incident.sources.all()}
    assert before == after


def test_resumes_from_checkpoint_after_a_crash(alpha_project):
    path = SAMPLES / "checkout-db-connections" / "checkout-api.log"
    incident = ingest(alpha_project, path)
    source = incident.sources.get()
    full = source_digest(source)
    # what a worker killed mid-job leaves behind: a prefix committed with its checkpoint
    events = Event.objects.filter(source=source).order_by("line")
    cut = events[events.count() // 2].line
    Event.objects.filter(source=source, line__gte=cut).delete()
    Source.objects.filter(pk=source.pk).update(checkpoint_line=cut - 1, status="ingesting")
    stale = timezone.now() - timedelta(minutes=10)
    IngestJob.objects.filter(pk=source.stored_file.job.pk).update(
        status=IngestJob.Status.RUNNING, heartbeat_at=stale
    )
    assert services.run_ingest(source.stored_file.job.pk) == IngestJob.Status.DONE
    assert source_digest(source) == full


def test_live_job_is_not_claimed_twice(alpha_project):
    incident = ingest(alpha_project, SAMPLES / "worker-oom-crashloop" / "gunicorn.log")
    job = incident.jobs.get()
    IngestJob.objects.filter(pk=job.pk).update(
        status=IngestJob.Status.RUNNING, heartbeat_at=timezone.now()
    )
    assert services.run_ingest(job.pk) == "skipped"


def test_attempts_are_bounded(alpha_project, settings):
    incident = ingest(alpha_project, SAMPLES / "worker-oom-crashloop" / "gunicorn.log")
    job = incident.jobs.get()
    IngestJob.objects.filter(pk=job.pk).update(
        status=IngestJob.Status.QUEUED, attempts=settings.Q_CLUSTER["max_attempts"]
    )
    assert services.run_ingest(job.pk) == IngestJob.Status.FAILED
    assert "gave up" in IngestJob.objects.get(pk=job.pk).error


def test_delete_source_removes_its_events(alpha_project):
    incident = ingest(alpha_project, SAMPLES / "tls-cert-expired.zip")
    source = incident.sources.first()
    other = incident.sources.exclude(pk=source.pk).first()
    services.delete_source(source=source)
    assert not Event.objects.filter(source_id=source.pk).exists()
    assert Event.objects.filter(source=other).count() == other.event_count
    total = sum(o.count for o in GroupOccurrence.objects.filter(incident=incident))
    assert total == Event.objects.filter(incident=incident).count()


def test_paste_is_a_source(alpha_project):
    text = '2024-01-15 14:02:11,123 ERROR app: boom\nTraceback (most recent call last):\n  File "a.py", line 1, in <module>\nValueError: bad\n'
    incident = services.create_incident(
        project=alpha_project,
        title="pasted",
        uploads=[services.upload_from_text(text)],
        run_inline=True,
    )
    services.run_ingest(incident.jobs.get().pk)
    source = incident.sources.get()
    assert source.member == "pasted.log"
    assert source.line_count == 4
    event = Event.objects.get(source=source)
    assert (event.line, event.end_line, event.level_name) == (1, 4, "ERROR")


def _gzip(data: bytes) -> bytes:
    buf = io.BytesIO()
    with gzip.GzipFile(fileobj=buf, mode="wb") as gz:
        gz.write(data)
    return buf.getvalue()


def test_gzip_bomb_fails_with_a_reason(alpha_project, settings):
    settings.INGEST_LIMITS = {**settings.INGEST_LIMITS, "max_decompressed_bytes": 1024 * 1024}
    bomb = _gzip(b"A" * (8 * 1024 * 1024))
    incident = services.create_incident(
        project=alpha_project,
        title="bomb",
        uploads=[services.Upload(name="bomb.log.gz", chunks=[bomb])],
        run_inline=True,
    )
    job = incident.jobs.get()
    assert services.run_ingest(job.pk) == IngestJob.Status.FAILED
    job.refresh_from_db()
    assert job.error and "B" in job.error  # a size is named in the reason


def test_zip_member_names_are_metadata_only(alpha_project, tmp_path):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as archive:
        archive.writestr("../../etc/evil.log", "2024-01-01T00:00:00Z ERROR x\n")
    incident = services.create_incident(
        project=alpha_project,
        title="zip names",
        uploads=[services.Upload(name="bundle.zip", chunks=[buf.getvalue()])],
        run_inline=True,
    )
    assert services.run_ingest(incident.jobs.get().pk) == IngestJob.Status.DONE
    source = incident.sources.get()
    assert ".." not in source.member
    assert not (tmp_path / "etc").exists()


def test_copy_escaping_round_trips(alpha_project, tmp_path):
    """Tabs, backslashes and COPY's own markers (\\N, \\.) survive the text-format COPY."""
    path = tmp_path / "tricky.log"
    path.write_text(
        "2024-01-15T14:02:11Z ERROR api: tab\there backslash \\ end\n"
        "\\N\n"
        "\\.\n"
        "2024-01-15T14:02:12Z WARN api: C:\\temp\\new \\t literal ünïcödé 🔥\n"
        '{"level":"error","msg":"json \\\\ with \\t escapes","path":"C:\\\\x"}\n',
        encoding="utf-8",
    )
    incident = ingest(alpha_project, path)
    source = incident.sources.get()
    assert source_digest(source) == file_digest(path)
    messages = list(
        Event.objects.filter(source=source).order_by("line").values_list("message", flat=True)
    )
    assert any("tab\there backslash \\ end" in m for m in messages)


def test_text_search_index_in_every_tenant_schema(personas):
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_extension WHERE extname = 'pg_trgm'")
        has_trgm = cursor.fetchone()[0] == 1
        cursor.execute("SELECT count(*) FROM pg_extension WHERE extname = 'btree_gin'")
        has_btree_gin = cursor.fetchone()[0] == 1
        # the source next to the trigrams: a search reads its own incident's postings only
        cursor.execute(
            "SELECT schemaname, indexdef FROM pg_indexes WHERE indexname = 'eventtext_source_trgm'"
        )
        found = cursor.fetchall()
        schemas = {schema for schema, _ in found}
        # and none on the events themselves: its cost per COPYed row is what search.py avoids
        cursor.execute(
            "SELECT indexdef FROM pg_indexes WHERE tablename = 'ingestion_event' "
            "AND schemaname = %s",
            [personas.alpha.schema_name],
        )
        event_indexes = [row[0] for row in cursor.fetchall()]
    assert has_trgm and has_btree_gin, "the test cluster's PostgreSQL ships contrib"
    assert {personas.alpha.schema_name, personas.beta.schema_name} <= schemas
    assert all("gin (source_id, body gin_trgm_ops)" in d for _, d in found), found
    assert not [d for d in event_indexes if "gin" in d.lower()], event_indexes
    assert len(event_indexes) == 6, event_indexes  # pkey, (source, line), four (incident, …)


def test_nul_from_json_escape_is_stored_without_it(alpha_project, tmp_path):
    path = tmp_path / "nul.jsonl"
    path.write_text('{"msg":"\\u0000 nul","level":"error","ts":"2024-01-15T14:02:11Z"}\n')
    incident = ingest(alpha_project, path)
    job = incident.jobs.get()
    assert job.status == IngestJob.Status.DONE, job.error
    event = Event.objects.get(incident=incident)
    assert "\x00" not in event.message and "nul" in event.message


LOGBACK = (
    "23:59:59.500 [http-1] ERROR c.e.OrderService - order failed\n"
    "00:00:01.000 [main] WARN  com.example.App - after midnight\n"
)


def _upload(incident, name: str, data: bytes) -> IngestJob:
    (job,) = services.add_files(
        incident=incident, uploads=[services.Upload(name=name, chunks=[data])], run_inline=True
    )
    assert services.run_ingest(job.pk) == IngestJob.Status.DONE
    return job


def _days(incident, member: str) -> list[str]:
    events = Event.objects.filter(source__incident=incident, source__member=member)
    return [ts.isoformat() for ts in events.order_by("line").values_list("ts", flat=True)]


def test_bare_times_of_day_take_the_day_of_the_upload_s_dated_lines(alpha_project):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as archive:
        archive.writestr("db.log", "2024-03-09T23:58:00Z ERROR db: too many connections\n" * 3)
        archive.writestr("app.log", LOGBACK)
    incident = Incident.objects.create(project=alpha_project, title="bundle")
    _upload(incident, "bundle.zip", buf.getvalue())
    assert _days(incident, "app.log") == [
        "2024-03-09T23:59:59.500000+00:00",
        "2024-03-10T00:00:01+00:00",
    ]
    source = incident.sources.get(member="app.log")
    assert any("time of day only" in w for w in source.warnings)
    assert (source.first_ts.isoformat(), source.last_ts.date().isoformat()) == (
        "2024-03-09T23:59:59.500000+00:00",
        "2024-03-10",
    )


def test_bare_times_of_day_take_the_day_of_the_incident_s_other_logs(alpha_project):
    incident = Incident.objects.create(project=alpha_project, title="separate")
    _upload(incident, "db.log", b"2023-11-02T08:00:00Z ERROR db: too many connections\n")
    _upload(incident, "app.log", LOGBACK.encode())
    assert _days(incident, "app.log")[0] == "2023-11-02T23:59:59.500000+00:00"


def test_bare_times_of_day_alone_take_the_day_of_the_upload(alpha_project):
    incident = Incident.objects.create(project=alpha_project, title="alone")
    job = _upload(incident, "app.log", LOGBACK.encode())
    uploaded = job.stored_file.created_at.date().isoformat()
    assert _days(incident, "app.log")[0] == f"{uploaded}T23:59:59.500000+00:00"


def _planner_rows() -> float:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT reltuples FROM pg_class WHERE oid = 'ingestion_event'::regclass")
        return cursor.fetchone()[0]


def test_a_job_that_grows_the_events_table_refreshes_the_planner_s_statistics(
    alpha_project, monkeypatch
):
    # Stale statistics make a new incident look empty to the planner, and the aggregates that
    # end the job then walk an index over every event (writing.ANALYZE_SHARE). Thresholds
    # scaled down: a few hundred rows stand for a big upload.
    from django.db import connection

    with connection.cursor() as cursor:  # statistics as they stand (earlier tests' rows)
        cursor.execute("ANALYZE ingestion_event")
    known = _planner_rows()
    assert known == Event.objects.count()
    monkeypatch.setattr(writing, "ANALYZE_MIN_ROWS", 50)
    incident = Incident.objects.create(project=alpha_project, title="statistics")
    many = max(60, int(known * writing.ANALYZE_SHARE) + 10)
    line = "2024-03-09T10:00:00Z INFO api: request served\n"
    _upload(incident, "big.log", (line * many).encode())
    assert Event.objects.count() == known + many
    assert _planner_rows() == known + many  # analyzed, with this job's rows
    # a job below the threshold leaves them to autovacuum (an ANALYZE per small upload would
    # cost more than it saves)
    monkeypatch.setattr(writing, "ANALYZE_MIN_ROWS", 1)
    few = int((known + many) * writing.ANALYZE_SHARE) - 1
    _upload(incident, "small.log", (line * few).encode())
    assert Event.objects.count() == known + many + few
    assert _planner_rows() == known + many


def test_text_columns_and_attributes_are_stored_as_the_log_wrote_them(alpha_project, tmp_path):
    """compute._text_columns and _attrs_json build the COPY row in one piece: every field
    still comes back whole, with NUL and lone surrogates (unstorable) the only changes."""
    path = tmp_path / "fields.jsonl"
    path.write_text(
        '{"ts":"2024-01-15T14:02:11Z","level":"error","service":"svc\\twith tab",'
        '"host":"h\\u0000ost","msg":"lone \\ud800 surrogate \\\\ and\\nnewline",'
        '"k\\"ey":"v\\\\al\\nue","n":5,"nested":{"a":[1,"x"]},"uni":"ünï 🔥","nul":"a\\u0000b"}\n'
        '{"ts":"2024-01-15T14:02:12Z","level":"info","service":"' + "s" * 300 + '",'
        '"msg":"plain","only":"strings","q":"\\"quoted\\" ünï"}\n',
        encoding="utf-8",
    )
    incident = ingest(alpha_project, path)
    first, second = Event.objects.filter(incident=incident).order_by("line")
    assert (first.service, first.host) == ("svc\twith tab", "host")
    assert first.message == "lone ? surrogate \\ and\nnewline"
    assert first.attrs == {
        'k"ey': "v\\al\nue",
        "n": 5,
        "nested": {"a": [1, "x"]},
        "uni": "ünï 🔥",
        "nul": "ab",
    }
    assert second.service == "s" * 200
    assert second.attrs == {"only": "strings", "q": '"quoted" ünï'}
    assert source_digest(incident.sources.get()) == file_digest(path)


def test_a_busy_events_table_does_not_hold_the_job_up_for_its_analyze(alpha_project, monkeypatch):
    """ANALYZE waits for a VACUUM of the table (what another connection's lock stands for
    here): the job gives up on it after writing.ANALYZE_LOCK_TIMEOUT and goes on."""
    import time

    import psycopg
    from django.db import connection

    from conftest import test_database_url

    monkeypatch.setattr(writing, "ANALYZE_MIN_ROWS", 1)
    monkeypatch.setattr(writing, "ANALYZE_LOCK_TIMEOUT", "200ms")
    stored = Event.objects.count()
    with psycopg.connect(test_database_url()) as other:
        other.execute(
            f'LOCK TABLE "{connection.schema_name}".ingestion_event IN SHARE UPDATE EXCLUSIVE MODE'
        )
        started = time.monotonic()
        assert writing.analyze_if_grown(10**9) is False
        assert time.monotonic() - started < 5
        # this connection's transaction goes on: the failed ANALYZE took only its savepoint
        # down (else the next query fails with "current transaction is aborted")
        assert Event.objects.count() == stored
    assert writing.analyze_if_grown(10**9) is True  # the lock gone, it analyzes


def test_ingest_reads_year_less_and_zone_less_times_as_the_upload_says(alpha_project):
    # syslog has no year, the app line inside has no zone; the user said 2021, Europe/Paris
    text = (
        "Jan 15 14:02:11 web-1 sshd[812]: Accepted publickey for deploy\n"
        "2021-01-15 14:02:12,000 ERROR app: boom\n"
    )
    incident = services.create_incident(
        project=alpha_project,
        title="zoned",
        uploads=[services.upload_from_text(text, year=2021, timezone="Europe/Paris")],
        run_inline=True,
    )
    services.run_ingest(incident.jobs.get().pk)
    stamps = [e.ts for e in Event.objects.filter(incident=incident).order_by("line")]
    assert [ts.isoformat() for ts in stamps] == [
        "2021-01-15T13:02:11+00:00",  # 14:02:11 in Paris (UTC+1 in January)
        "2021-01-15T13:02:12+00:00",
    ]


def test_a_year_in_the_line_wins_over_the_upload_year(alpha_project):
    text = 'Dec 31 23:59:58 h app[1]: time="2019-12-31T23:59:58Z" msg=tick\n'
    incident = services.create_incident(
        project=alpha_project,
        title="line year",
        uploads=[services.upload_from_text(text, year=2024)],
        run_inline=True,
    )
    services.run_ingest(incident.jobs.get().pk)
    assert Event.objects.get(incident=incident).ts.year == 2019
