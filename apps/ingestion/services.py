"""Ingestion use cases: store uploads, queue jobs, and the job itself.

The web upload, the paste box, the `ingest` command and the tests all go through
`create_incident` / `add_files` and `run_ingest`: one path through the code.
"""

from __future__ import annotations

import hashlib
import logging
import queue
import threading
import time
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, replace
from datetime import UTC, date, timedelta, tzinfo
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.conf import settings
from django.db import DatabaseError, InterfaceError, OperationalError, connection, transaction
from django.db.models import F, Q
from django.db.models.functions import Coalesce
from django.utils import timezone

from apps.incidents.models import Incident, Project
from apps.core.ingest import compute
from apps.ingestion import grouping_store, quotas, rollup
from apps.core.grouping.miner import Miner
from apps.core.logparse.archive import ArchiveRejected
from apps.core.logparse.limits import Limits, human_bytes
from apps.ingestion.models import ErrorGroup, IngestJob, Source, StoredFile
from apps.core.ingest.pipeline import date_hints
from apps.rules import diagnosis
from apps.core.rules.catalogue import Catalogue
from apps.core.rules.engine import Engine
from apps.tenants import scheduling
from apps.tenants.models import IngestTicket

log = logging.getLogger(__name__)

EVENT_COLUMNS = (
    "incident_id",
    "source_id",
    "line",
    "end_line",
    "ts",
    "ts_inherited",
    "level",
    "service",
    "host",
    "trace_id",
    "message",
    "raw",
    "template_id",
    "group_id",
    "attrs",
    "truncated",
)
TRANSIENT_DB_ERRORS = (OperationalError, InterfaceError)
DB_RETRIES = 5
# A running job whose heartbeat is older than this lost its worker and may be claimed again.
HEARTBEAT_STALE_SECONDS = 60


class UploadRejected(Exception):
    """The upload as a whole is refused; the message is for the user."""


class JobRefused(Exception):
    """A running job must stop (the tenant's event quota); `reason` is for the user."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def limits() -> Limits:
    return Limits(**settings.INGEST_LIMITS)


# ----------------------------------------------------------------------------- storing uploads


@dataclass(frozen=True, slots=True)
class Upload:
    """A file to store: a name (metadata only) and its content as chunks of bytes."""

    name: str
    chunks: Iterable[bytes]
    log_format: str = ""
    year: int | None = None  # for dates without a year
    timezone: str = ""  # IANA name, for times without a zone


def upload_from_django(
    uploaded, log_format: str = "", *, year: int | None = None, timezone: str = ""
) -> Upload:
    return Upload(
        name=uploaded.name or "upload",
        chunks=uploaded.chunks(),
        log_format=log_format,
        year=year,
        timezone=timezone,
    )


def upload_from_text(
    text: str,
    name: str = "pasted.log",
    log_format: str = "",
    *,
    year: int | None = None,
    timezone: str = "",
) -> Upload:
    data = text.encode("utf-8", "replace")
    return Upload(name=name, chunks=[data], log_format=log_format, year=year, timezone=timezone)


def upload_from_path(path: str | Path, log_format: str = "") -> Upload:
    path = Path(path)

    def chunks() -> Iterator[bytes]:
        with path.open("rb") as handle:
            while chunk := handle.read(1024 * 1024):
                yield chunk

    return Upload(name=path.name, chunks=chunks(), log_format=log_format)


def _store(
    incident: Incident, upload: Upload, bounds: Limits, *, room: int | None = None, in_use: int = 0
) -> StoredFile:
    """Stream the upload to a generated file name under MEDIA_ROOT, hashing as it goes.

    `room`: bytes the tenant may still store (its storage quota); `in_use` is for the message.
    """
    relative = Path("uploads") / connection.schema_name / f"{uuid.uuid4().hex}.bin"
    target = Path(settings.MEDIA_ROOT) / relative
    target.parent.mkdir(parents=True, exist_ok=True)
    digest = hashlib.sha256()
    size = 0
    try:
        with target.open("xb") as out:
            for chunk in upload.chunks:
                size += len(chunk)
                if size > bounds.max_upload_bytes:
                    raise UploadRejected(
                        f"{upload.name}: larger than the {human_bytes(bounds.max_upload_bytes)} limit"
                    )
                if room is not None and size > room:
                    raise UploadRejected(quotas.storage_refusal(upload.name, in_use=in_use))
                digest.update(chunk)
                out.write(chunk)
        return StoredFile.objects.create(
            incident=incident,
            original_name=(upload.name or "upload")[:255],
            path=str(relative),
            size=size,
            sha256=digest.hexdigest(),
            log_format=upload.log_format[:500],
            year=upload.year,
            timezone=upload.timezone[:64],
        )
    except BaseException:
        target.unlink(missing_ok=True)
        raise


@transaction.atomic
def add_files(
    *, incident: Incident, uploads: list[Upload], run_inline: bool = False
) -> list[IngestJob]:
    """Store each upload and queue one ingest job per stored file (queued on commit).

    The tenant's quotas (queued jobs, stored bytes; apps.ingestion.quotas) are checked before,
    during and after storing; a refused upload leaves nothing behind, on disk or in the
    database. Jobs reach django-q2 through the fair-queuing dispatcher (apps.tenants.scheduling).
    `run_inline`: the caller runs the jobs itself (the `ingest` command); nothing is queued.
    """
    bounds = limits()
    if not uploads:
        raise UploadRejected("Choose at least one file or paste some log text.")
    if len(uploads) > bounds.max_files_per_upload:
        raise UploadRejected(
            f"{len(uploads)} files in one upload; the limit is {bounds.max_files_per_upload}."
        )
    if not run_inline and (refusal := quotas.queue_refusal(len(uploads))):
        raise UploadRejected(refusal)
    if refusal := quotas.events_refusal():
        raise UploadRejected(refusal)
    in_use = quotas.stored_bytes()
    room = max(settings.INGEST_TENANT_STORAGE_BYTES - in_use, 0)
    stored_paths: list[Path] = []
    jobs = []
    try:
        for upload in uploads:
            stored = _store(incident, upload, bounds, room=room, in_use=in_use)
            stored_paths.append(Path(settings.MEDIA_ROOT) / stored.path)
            room -= stored.size
            job = IngestJob.objects.create(
                incident=incident, stored_file=stored, bytes_total=_estimated_bytes(stored)
            )
            jobs.append(job)
        # again, exactly, under the tenant's lock (held to commit): concurrent uploads
        quotas.lock_tenant()
        others = quotas.pending_jobs() - len(jobs)
        if not run_inline and (refusal := quotas.queue_refusal(len(jobs), pending=others)):
            raise UploadRejected(refusal)
        total, mine = quotas.stored_bytes(), sum(job.stored_file.size for job in jobs)
        if total > settings.INGEST_TENANT_STORAGE_BYTES:
            raise UploadRejected(quotas.storage_refusal(uploads[-1].name, in_use=total - mine))
    except BaseException:
        for path in stored_paths:  # this transaction rolls back: the rows go, so do the files
            path.unlink(missing_ok=True)
        raise
    if not run_inline:
        scheduling.submit(connection.schema_name, [job.pk for job in jobs])
    return jobs


@transaction.atomic
def create_incident(
    *,
    project: Project,
    title: str,
    uploads: list[Upload],
    created_by=None,
    run_inline: bool = False,
) -> Incident:
    incident = Incident.objects.create(project=project, title=title, created_by=created_by)
    add_files(incident=incident, uploads=uploads, run_inline=run_inline)
    return incident


@transaction.atomic
def delete_source(*, source: Source) -> None:
    """Delete one source and its events (bulk SQL: a source can hold millions of events)."""
    incident = source.incident
    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM ingestion_event WHERE source_id = %s", [source.pk])
        cursor.execute("DELETE FROM ingestion_eventtext WHERE source_id = %s", [source.pk])
    stored = source.stored_file
    source.delete()
    if not stored.sources.exists():
        path = Path(settings.MEDIA_ROOT) / stored.path
        stored.delete()
        transaction.on_commit(lambda: path.unlink(missing_ok=True))
    grouping_store.refresh_incident_groups(incident)
    rollup.refresh_rollup(incident)


def _estimated_bytes(stored: StoredFile) -> int:
    """Decoded bytes we expect to read: exact for plain files, from headers for gzip/zip."""
    import gzip
    import zipfile

    path = Path(settings.MEDIA_ROOT) / stored.path
    try:
        with path.open("rb") as handle:
            magic = handle.read(4)
            if magic[:2] == b"\x1f\x8b" and stored.size >= 18:
                handle.seek(-4, 2)
                isize = int.from_bytes(handle.read(4), "little")
                # ISIZE is the size mod 2**32; a multi-GiB member would wrap, so keep a floor
                return max(isize, stored.size)
        if magic == b"PK\x03\x04":
            with zipfile.ZipFile(path) as archive:
                return max(sum(i.file_size for i in archive.infolist()), 1)
    except (OSError, zipfile.BadZipFile, gzip.BadGzipFile):
        pass
    return max(stored.size, 1)


# ----------------------------------------------------------------------------- the ingest job


def _copy_batch(
    source_id: int, prefix: str, rows: compute.Rows, *, job_id: int, progress: dict
) -> None:
    """COPY one batch and advance the source's checkpoint in the same transaction.

    `prefix` holds the incident and source ids. Rows at or below the checkpoint are already
    stored (a resumed job)."""
    with transaction.atomic():
        checkpoint = (
            Source.objects.select_for_update().values_list("checkpoint_line", flat=True)
        ).get(pk=source_id)
        fresh = rows.after(checkpoint)
        if fresh is not None:
            with connection.cursor() as cursor:
                raw = cursor.cursor
                columns = ", ".join(EVENT_COLUMNS)
                with raw.copy(f"COPY ingestion_event ({columns}) FROM STDIN") as copy:
                    copy.write(fresh.prefixed(prefix))
            Source.objects.filter(pk=source_id).update(checkpoint_line=fresh.last_line)
        IngestJob.objects.filter(pk=job_id).update(heartbeat_at=timezone.now(), **progress)


class _SecondConnection:
    """Runs calls in order on a second thread and database connection, so that PostgreSQL
    works on them while this thread goes on (psycopg waits without the GIL): the COPY of one
    batch while the next is parsed, the timeline rollup while the groups are counted.

    The first error is raised by the next `submit`, `flush` or `close`, and the calls after
    it are dropped. Inside an open transaction (tests, or a caller's atomic block) a second
    connection could not see this one's rows, so each call then runs inline.
    """

    def __init__(self, name: str) -> None:
        self.threaded = not connection.in_atomic_block
        self.error: BaseException | None = None
        if self.threaded:
            self._schema = connection.schema_name
            self._queue: queue.Queue = queue.Queue(maxsize=2)
            self._thread = threading.Thread(target=self._run, name=name, daemon=True)
            self._thread.start()

    def submit(self, fn, *args, **kwargs) -> None:
        if not self.threaded:
            fn(*args, **kwargs)
            return
        self._raise()
        self._queue.put((fn, args, kwargs))

    def flush(self) -> None:
        """Wait until every submitted call has returned."""
        if self.threaded:
            self._queue.join()
            self._raise()

    def close(self, *, raise_error: bool = True) -> None:
        if self.threaded and self._thread.is_alive():
            self._queue.put(None)
            self._thread.join()
        if raise_error:
            self._raise()

    def _raise(self) -> None:
        if self.error is not None:
            raise self.error

    def _run(self) -> None:
        connection.set_schema(self._schema)
        try:
            while (item := self._queue.get()) is not None:
                try:
                    if self.error is None:
                        fn, args, kwargs = item
                        fn(*args, **kwargs)
                except BaseException as exc:  # handed to the submitting thread
                    self.error = exc
                finally:
                    self._queue.task_done()
            self._queue.task_done()
        finally:
            connection.close()


def _claim(job_id: int) -> bool:
    """Compare-and-set: a finished job is never run again (django-q2 delivers at least once),
    and a running one only when its heartbeat went stale (its worker died)."""
    now = timezone.now()
    stale = now - timedelta(seconds=HEARTBEAT_STALE_SECONDS)
    return (
        IngestJob.objects.filter(pk=job_id)
        .filter(
            Q(status=IngestJob.Status.QUEUED)
            | Q(status=IngestJob.Status.RUNNING, heartbeat_at__lt=stale)
            | Q(status=IngestJob.Status.RUNNING, heartbeat_at__isnull=True)
        )
        .update(
            status=IngestJob.Status.RUNNING,
            attempts=F("attempts") + 1,
            started_at=Coalesce(F("started_at"), now),
            heartbeat_at=now,
        )
        == 1
    )


def _finish(job_id: int, status: str, *, error: str = "", warnings: list[str] | None = None):
    fields = {"status": status, "finished_at": timezone.now(), "error": error[:2000]}
    if warnings is not None:
        fields["warnings"] = warnings[:100]
    IngestJob.objects.filter(pk=job_id).update(**fields)


def _fail(job: IngestJob, reason: str) -> str:
    """End a job that cannot finish: the job and its sources `failed` with the reason, the
    rows it wrote removed (a bomb refused part-way may have written millions), and the
    incident's groups and rollup rebuilt from what remains, so the incident reads as if the
    upload had never been, except for the failed source that says why."""
    with transaction.atomic():
        _clear_sources(job, status=Source.Status.FAILED, warnings=[reason[:2000]])
        _finish(job.pk, IngestJob.Status.FAILED, error=reason)
    grouping_store.refresh_incident_groups(job.incident)
    rollup.refresh_rollup(job.incident)
    return IngestJob.Status.FAILED


def _clear_sources(job: IngestJob, **fields) -> None:
    """Remove every event the job wrote (bulk SQL) and reset its sources' checkpoints, setting
    `fields` on them: a failed job, or one about to run again (`reparse_source`). The caller
    rebuilds the incident's groups and rollup."""
    source_ids = list(
        Source.objects.filter(stored_file_id=job.stored_file_id).values_list("pk", flat=True)
    )
    if not source_ids:
        return
    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM ingestion_event WHERE source_id = ANY(%s)", [source_ids])
        cursor.execute("DELETE FROM ingestion_eventtext WHERE source_id = ANY(%s)", [source_ids])
    Source.objects.filter(pk__in=source_ids).update(
        event_count=0, checkpoint_line=0, text_indexed=False, **fields
    )


class ReparseRefused(Exception):
    """The source cannot be re-read now; the message is for the user."""


@transaction.atomic
def reparse_source(*, source: Source, log_format: str) -> IngestJob:
    """Read a source again with a corrected header (loghub syntax; '' goes back to detection).

    The source's upload runs again through its own ingest job, queued like an upload: its
    events are removed first (the upload's other members too: they are read again with their
    own headers), so the job rewrites them from line 1 and nothing is duplicated. Groups,
    occurrences and the timeline are rebuilt at once and again when the job ends; the job's
    findings are replaced when it ends. The caller validated `log_format`.
    """
    job = IngestJob.objects.select_for_update().get(stored_file_id=source.stored_file_id)
    if job.is_active:
        raise ReparseRefused(f"{source.member} is being ingested: wait until it is done.")
    if IngestTicket.objects.filter(
        tenant__schema_name=connection.schema_name, job_id=job.pk
    ).exists():
        # its task is still building the search index (tasks.ingest): one ticket per job
        raise ReparseRefused(f"{source.member} is still being indexed: try again in a moment.")
    if refusal := quotas.queue_refusal(1):
        raise ReparseRefused(refusal)
    Source.objects.filter(pk=source.pk).update(log_format=log_format[:500])
    _clear_sources(
        job,
        status=Source.Status.INGESTING,
        warnings=[],
        parsed_lines=0,
        unparsed_lines=0,
        unmatched={},
        first_ts=None,
        last_ts=None,
    )
    IngestJob.objects.filter(pk=job.pk).update(
        status=IngestJob.Status.QUEUED,
        attempts=0,
        bytes_done=0,
        lines_done=0,
        events_done=0,
        error="",
        warnings=[],
        lines_per_second=None,
        started_at=None,
        heartbeat_at=None,
        finished_at=None,
    )
    grouping_store.refresh_incident_groups(source.incident)
    rollup.refresh_rollup(source.incident)
    scheduling.submit(connection.schema_name, [job.pk])
    job.refresh_from_db()
    return job


def run_ingest(job_id: int) -> str:
    """The ingest job (runs in the tenant's schema). Returns the final status.

    Safe to run twice or concurrently: rows carry a natural key and the per-source
    checkpoint is committed with them. Transient database errors (a restart) are retried
    here, resuming from the checkpoint; anything else fails the job with a visible reason
    and removes what it wrote (`_fail`).
    The text search index of its sources is built afterwards by the caller (search.py:
    the worker task does it next, in the same fair-queuing slot).
    """
    if not _claim(job_id):
        return "skipped"
    job = IngestJob.objects.select_related("stored_file", "incident__project").get(pk=job_id)
    max_attempts = settings.Q_CLUSTER["max_attempts"]
    if job.attempts > max_attempts:
        return _fail(job, f"gave up after {max_attempts} attempts")
    started = time.monotonic()
    for attempt in range(DB_RETRIES):
        try:
            warnings = _ingest_file(job)
            break
        except (ArchiveRejected, JobRefused) as exc:
            return _fail(job, exc.reason)
        except compute.ComputeFailed as exc:  # the message names the original error
            log.error("ingest job %s failed in its compute process: %s", job_id, exc)
            return _fail(job, str(exc))
        except TRANSIENT_DB_ERRORS:
            if attempt == DB_RETRIES - 1:
                raise  # let django-q2 record it; the job row stays resumable
            log.warning("ingest job %s: database unavailable, retrying", job_id)
            connection.close()
            time.sleep(min(2**attempt, 15))
        except (DatabaseError, Exception) as exc:  # poison input must not loop
            log.exception("ingest job %s failed", job_id)
            return _fail(job, f"{type(exc).__name__}: {exc}")
    elapsed = max(time.monotonic() - started, 1e-6)
    lines = IngestJob.objects.filter(pk=job_id).values_list("lines_done", flat=True).get()
    IngestJob.objects.filter(pk=job_id).update(lines_per_second=lines / elapsed)
    _finish(job_id, IngestJob.Status.DONE, warnings=warnings)
    return IngestJob.Status.DONE


def tenant_catalogue() -> Catalogue:
    """The built-in rules with this tenant's settings and custom rules."""
    try:
        from apps.rules.services import tenant_catalogue as load
    except ImportError:  # the tenant rule settings module is optional
        return Catalogue.load()
    return load()


def _baseline_templates(job: IngestJob) -> set[str] | None:
    """Templates seen in the project's earlier incidents: "new" is measured against them."""
    earlier = (
        ErrorGroup.objects.filter(project_id=job.incident.project_id)
        .exclude(occurrences__incident_id=job.incident_id)
        .values_list("template_id", flat=True)
    )
    baseline = set(earlier)
    return baseline or None


def _zone(name: str) -> tzinfo | None:
    """The upload's zone for times without one; an unknown name (an older tzdata) is UTC."""
    if not name:
        return None
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        log.warning("unknown time zone %r: times without a zone are read as UTC", name)
        return None


def _undated_day(job: IngestJob) -> date:
    """The day for bare times of day when the upload has no dated line: the day the incident's
    other logs start, else the day of the upload."""
    first = (
        Source.objects.filter(incident_id=job.incident_id, first_ts__isnull=False)
        .exclude(stored_file_id=job.stored_file_id)
        .order_by("first_ts")
        .values_list("first_ts", flat=True)
        .first()
    )
    return (first or job.stored_file.created_at).astimezone(UTC).date()


# A job that adds a tenth of the events table or more leaves the planner's statistics
# describing the table without its rows: the new incident looks empty, and the aggregates that
# end the job (groups, rollups) read its events one index entry at a time and sort them on disk
# (about 4 s instead of 1 s at a million events). Autovacuum analyzes at the same threshold,
# but only later; the job analyzes the column those plans depend on before it needs them
# (~0.15 s at a million rows; the whole table would take 0.25 s). Analyzing one column leaves
# autovacuum's count of changed rows alone, so it still analyzes the rest of the table.
ANALYZE_SHARE = 0.1
ANALYZE_MIN_ROWS = 10_000
# ANALYZE waits for a VACUUM of the table (an anti-wraparound one can take minutes): past
# this, the job goes on with the old statistics (slower aggregates, same answers)
ANALYZE_LOCK_TIMEOUT = "2s"


def _analyze_if_grown(rows: int) -> bool:
    """ANALYZE the events table when `rows` new events made its statistics stale."""
    if rows < ANALYZE_MIN_ROWS:
        return False
    with connection.cursor() as cursor:
        cursor.execute("SELECT reltuples FROM pg_class WHERE oid = 'ingestion_event'::regclass")
        (known,) = cursor.fetchone()
    if rows < ANALYZE_SHARE * known:
        return False
    try:
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute("SET LOCAL lock_timeout = %s", [ANALYZE_LOCK_TIMEOUT])
            cursor.execute("ANALYZE ingestion_event (incident_id)")
            cursor.execute("SET LOCAL lock_timeout TO DEFAULT")
    except OperationalError as exc:
        if getattr(exc.__cause__, "sqlstate", None) != "55P03":  # lock_not_available
            raise
        log.warning("events table busy (VACUUM?): ingest goes on without ANALYZE")
        return False
    return True


def _ingest_file(job: IngestJob) -> list[str]:
    """Run the job's compute process and write what it sends (compute.py)."""
    stored = job.stored_file
    path = Path(settings.MEDIA_ROOT) / stored.path
    project = job.incident.project
    hints = date_hints([path]).with_upload(
        year=stored.year, tz=_zone(stored.timezone), uploaded=stored.created_at
    )
    room = quotas.event_room(exclude_job=job.pk)  # the tenant's event quota, for this job
    with grouping_store.project_lock(project.pk):
        spec = compute.Spec(
            path=path,
            display_name=stored.original_name,
            log_format=stored.log_format or None,
            member_formats=dict(
                stored.sources.exclude(log_format="").values_list("member", "log_format")
            ),
            dates=hints if hints.day else replace(hints, day=_undated_day(job)),
            limits=limits(),
            miner=grouping_store.load_miner(project),
            engine=Engine(tenant_catalogue(), baseline_templates=_baseline_templates(job)),
            group_rules=grouping_store.GroupRules.load(project),
            observed=grouping_store.Observed(),
        )
        stream = compute.messages(spec)  # a forked process; this one writes
        writer = _SecondConnection("ingest-copy")  # after the fork: no thread in the child
        source_ids: dict[str, int] = {}
        source_id, prefix = 0, ""
        result = None
        written = 0
        try:
            for message in stream:
                kind = message[0]
                if kind == "rows":
                    if written + message[1].count > room:
                        raise JobRefused(quotas.events_stop_reason(stored.original_name))
                    writer.submit(
                        _copy_batch,
                        source_id,
                        prefix,
                        message[1],
                        job_id=job.pk,
                        progress=message[2],
                    )
                    written += message[1].count
                elif kind == "source":
                    source, _ = Source.objects.get_or_create(
                        stored_file=stored,
                        member=message[1],
                        defaults={"incident_id": job.incident_id},
                    )
                    source_ids[source.member] = source_id = source.pk
                    prefix = f"{job.incident_id}\t{source_id}\t"
                elif kind == "source_done":
                    writer.flush()
                    Source.objects.filter(pk=source_id).update(
                        status=Source.Status.DONE, **message[1]
                    )
                elif kind == "skip":
                    Source.objects.filter(pk=source_id).update(
                        status=Source.Status.SKIPPED, sha256="", warnings=[message[1]]
                    )
                elif kind == "rejected":
                    raise ArchiveRejected(message[1])
                elif kind == "done":
                    result = message
        finally:
            stream.close()
            writer.close()
        assert result is not None  # compute.messages raises when the child did not finish
        _, miner_state, observed, findings, warnings = result
        _analyze_if_grown(written)
        # two aggregates over every event of the incident: the timeline's on a connection of
        # its own while this one does the groups' (0.5 s less at a million events)
        timeline = _SecondConnection("ingest-rollup")
        timeline.submit(rollup.refresh_rollup, job.incident)
        try:
            miner = Miner.from_state(miner_state)
            grouping_store.save_miner(project, miner)
            grouping_store.record_groups(job.incident, miner, observed)
        except BaseException:
            timeline.close(raise_error=False)
            raise
        timeline.close()
        diagnosis.save_job_findings(job, findings, source_ids)
        diagnosis.refresh_diagnosis(job.incident)
    return warnings
