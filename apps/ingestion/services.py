"""Ingestion use cases: store uploads, queue jobs, and the job itself.

The web upload, the paste box, the `ingest` command and the tests all go through
`create_incident` / `add_files` and `run_ingest`: one path through the code.
"""

from __future__ import annotations

import hashlib
import json
import logging
import queue
import threading
import time
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from itertools import chain
from pathlib import Path
from typing import BinaryIO

from django.conf import settings
from django.db import DatabaseError, InterfaceError, OperationalError, connection, transaction
from django.db.models import F, Q
from django.db.models.functions import Coalesce
from django.utils import timezone

from apps.incidents.models import Incident, Project
from apps.ingestion import grouping_store, quotas, rollup
from apps.ingestion.grouping.miner import Miner
from apps.ingestion.logparse.archive import ArchiveRejected, ArchiveReport, open_members
from apps.ingestion.logparse.decode import DecodeReport, iter_lines
from apps.ingestion.logparse.limits import Limits, human_bytes
from apps.ingestion.models import LEVEL_NUMBER, ErrorGroup, IngestJob, Source, StoredFile
from apps.ingestion.pipeline import (
    Grouped,
    SourceStats,
    group_records,
    parse_source,
    year_hint,
)
from apps.rules import diagnosis
from apps.rules.engine.catalogue import Catalogue
from apps.rules.engine.engine import Engine
from apps.tenants import scheduling

log = logging.getLogger(__name__)

BATCH_SIZE = 5000
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
NULL = "\\N"  # COPY text format
DB_RETRIES = 5
# A running job whose heartbeat is older than this lost its worker and may be claimed again.
HEARTBEAT_STALE_SECONDS = 60


class UploadRejected(Exception):
    """The upload as a whole is refused; the message is for the user."""


def limits() -> Limits:
    return Limits(**settings.INGEST_LIMITS)


# ----------------------------------------------------------------------------- storing uploads


@dataclass(frozen=True, slots=True)
class Upload:
    """A file to store: a name (metadata only) and its content as chunks of bytes."""

    name: str
    chunks: Iterable[bytes]
    log_format: str = ""


def upload_from_django(uploaded, log_format: str = "") -> Upload:
    return Upload(name=uploaded.name or "upload", chunks=uploaded.chunks(), log_format=log_format)


def upload_from_text(text: str, name: str = "pasted.log", log_format: str = "") -> Upload:
    data = text.encode("utf-8", "replace")
    return Upload(name=name, chunks=[data], log_format=log_format)


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


class _HashingReader:
    """Wraps a member stream: hashes the bytes and counts them for the progress bar."""

    def __init__(self, stream: BinaryIO) -> None:
        self._stream = stream
        self.digest = hashlib.sha256()
        self.count = 0

    def read(self, n: int = -1) -> bytes:
        data = self._stream.read(n)
        self.digest.update(data)
        self.count += len(data)
        return data


def _clean(text: str | None, limit: int | None = None) -> str:
    if not text:
        return ""
    if limit is not None and len(text) > limit:
        text = text[:limit]
    if not text.isascii():
        # lone surrogates (from JSON "\ud800" escapes) cannot be stored as UTF-8
        text = text.encode("utf-8", "replace").decode("utf-8")
    if "\x00" in text:  # a JSON "\u0000" escape decodes to NUL, which PostgreSQL text refuses
        text = text.replace("\x00", "")
    return text


def _attrs_json(attrs: dict) -> str | None:
    if not attrs:
        return None
    text = json.dumps(attrs, ensure_ascii=True, default=str)
    return text.replace("\\u0000", "")  # jsonb refuses NUL


def _row(incident_id: int, source_id: int, grouped: Grouped) -> tuple:
    record = grouped.record
    return (
        incident_id,
        source_id,
        record.line,
        record.end_line,
        record.ts,
        record.ts_inherited,
        LEVEL_NUMBER.get(record.level) if record.level else None,
        _clean(record.service, 200),
        _clean(record.host, 200),
        _clean(record.trace_id, 200),
        _clean(record.message),
        _clean(record.raw),
        grouped.match.template_id,
        grouped.group,
        _attrs_json(record.attrs),
        record.truncated,
    )


def _esc(text: str) -> str:
    """COPY text format escaping (backslash, tab, newline, CR); most fields have none."""
    if "\\" in text or "\t" in text or "\n" in text or "\r" in text:
        return (
            text.replace("\\", "\\\\")
            .replace("\t", "\\t")
            .replace("\n", "\\n")
            .replace("\r", "\\r")
        )
    return text


def _copy_line(r: tuple) -> str:
    """One row of EVENT_COLUMNS in COPY text format: an f-string is ~4× cheaper than
    psycopg's generic per-value write_row on this hot path."""
    ts, level, attrs = r[4], r[6], r[14]
    return (
        f"{r[0]}\t{r[1]}\t{r[2]}\t{r[3]}\t{ts.isoformat() if ts is not None else NULL}\t"
        f"{'t' if r[5] else 'f'}\t{NULL if level is None else level}\t"
        f"{_esc(r[7])}\t{_esc(r[8])}\t{_esc(r[9])}\t{_esc(r[10])}\t{_esc(r[11])}\t"
        f"{r[12]}\t{r[13]}\t{NULL if attrs is None else _esc(attrs)}\t{'t' if r[15] else 'f'}\n"
    )


def _copy_batch(source_id: int, rows: list[tuple], *, job_id: int, progress: dict) -> None:
    """COPY one batch and advance the source's checkpoint in the same transaction."""
    with transaction.atomic():
        checkpoint = (
            Source.objects.select_for_update().values_list("checkpoint_line", flat=True)
        ).get(pk=source_id)
        fresh = [row for row in rows if row[2] > checkpoint]
        if fresh:
            with connection.cursor() as cursor:
                raw = cursor.cursor
                columns = ", ".join(EVENT_COLUMNS)
                with raw.copy(f"COPY ingestion_event ({columns}) FROM STDIN") as copy:
                    copy.write("".join(map(_copy_line, fresh)))
            Source.objects.filter(pk=source_id).update(checkpoint_line=fresh[-1][2])
        IngestJob.objects.filter(pk=job_id).update(heartbeat_at=timezone.now(), **progress)


class _Writer:
    """Runs `_copy_batch` calls: on a second thread and connection, so that PostgreSQL
    writes one batch while this process parses the next (psycopg waits without the GIL).

    Inside an open transaction (tests, or a caller's atomic block) a second connection
    could not see the rows it points to, so the writer then runs each batch inline.
    """

    def __init__(self) -> None:
        self.threaded = not connection.in_atomic_block
        self.error: BaseException | None = None
        if self.threaded:
            self._schema = connection.schema_name
            self._queue: queue.Queue = queue.Queue(maxsize=2)
            self._thread = threading.Thread(target=self._run, name="ingest-copy", daemon=True)
            self._thread.start()

    def submit(self, source_id: int, rows: list[tuple], *, job_id: int, progress: dict) -> None:
        if not self.threaded:
            _copy_batch(source_id, rows, job_id=job_id, progress=progress)
            return
        self._raise()
        self._queue.put((source_id, rows, job_id, progress))

    def flush(self) -> None:
        """Wait until every submitted batch is committed."""
        if self.threaded:
            self._queue.join()
            self._raise()

    def close(self) -> None:
        if self.threaded and self._thread.is_alive():
            self._queue.put(None)
            self._thread.join()
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
                        source_id, rows, job_id, progress = item
                        _copy_batch(source_id, rows, job_id=job_id, progress=progress)
                except BaseException as exc:  # handed to the parsing thread
                    self.error = exc
                finally:
                    self._queue.task_done()
            self._queue.task_done()
        finally:
            connection.close()


@dataclass(slots=True)
class _Run:
    """The state of one ingest job across the sources of its upload."""

    job: IngestJob
    miner: Miner
    observed: grouping_store.Observed
    engine: Engine
    group_rules: grouping_store.GroupRules
    writer: _Writer
    default_year: int
    source_ids: dict[str, int] = field(default_factory=dict)  # member name → source id
    bytes: int = 0  # done in earlier sources, for the progress bar
    lines: int = 0
    events: int = 0


def _ingest_member(run: _Run, name: str, stream: BinaryIO) -> None:
    job, writer = run.job, run.writer
    stored = job.stored_file
    source, _ = Source.objects.get_or_create(
        stored_file=stored, member=name[:500], defaults={"incident_id": job.incident_id}
    )
    run.source_ids[source.member] = source.pk
    reader = _HashingReader(stream)
    report = DecodeReport()
    stats = SourceStats(name=source.member)
    lines = iter_lines(reader, limits=limits(), report=report)
    first = next(lines, None)  # decoding the head sniffs the content
    if report.looks_binary:
        Source.objects.filter(pk=source.pk).update(
            status=Source.Status.SKIPPED,
            sha256="",
            warnings=[f"skipped: {report.binary_detail or 'binary data'}, not a text log"],
        )
        return
    records = parse_source(
        chain([first], lines) if first is not None else lines,
        source=source.member,
        stats=stats,
        log_format=stored.log_format or None,
        default_year=run.default_year,
    )
    rows: list[tuple] = []
    first_ts = last_ts = None

    def progress() -> dict:
        return {
            "bytes_done": run.bytes + reader.count,
            "lines_done": run.lines + report.lines,
            "events_done": run.events + stats.records,
        }

    feed, apply, see = run.engine.feed, run.group_rules.apply, run.observed.see
    for grouped in group_records(records, run.miner):
        grouped.group = apply(grouped.group, grouped)
        see(grouped)
        feed(grouped.record, template_id=grouped.match.template_id, group=grouped.group)
        ts = grouped.record.ts
        if ts is not None:
            first_ts = ts if first_ts is None or ts < first_ts else first_ts
            last_ts = ts if last_ts is None or ts > last_ts else last_ts
        rows.append(_row(job.incident_id, source.pk, grouped))
        if len(rows) >= BATCH_SIZE:
            writer.submit(source.pk, rows, job_id=job.pk, progress=progress())
            rows = []
    writer.submit(source.pk, rows, job_id=job.pk, progress=progress())
    writer.flush()
    warnings = report.warnings + stats.warnings
    Source.objects.filter(pk=source.pk).update(
        status=Source.Status.DONE,
        fmt=stats.fmt,
        confidence=stats.confidence,
        line_count=report.lines,
        event_count=stats.records,
        parsed_lines=stats.parsed_lines,
        unparsed_lines=stats.unparsed_lines,
        truncated_lines=report.truncated_lines,
        sha256=reader.digest.hexdigest(),
        warnings=warnings[:50],
        first_ts=first_ts,
        last_ts=last_ts,
    )
    run.bytes += reader.count
    run.lines += report.lines
    run.events += stats.records


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


def run_ingest(job_id: int) -> str:
    """The ingest job (runs in the tenant's schema). Returns the final status.

    Safe to run twice or concurrently: rows carry a natural key and the per-source
    checkpoint is committed with them. Transient database errors (a restart) are retried
    here, resuming from the checkpoint; anything else fails the job with a visible reason.
    """
    if not _claim(job_id):
        return "skipped"
    job = IngestJob.objects.select_related("stored_file", "incident__project").get(pk=job_id)
    max_attempts = settings.Q_CLUSTER["max_attempts"]
    if job.attempts > max_attempts:
        _finish(job_id, IngestJob.Status.FAILED, error=f"gave up after {max_attempts} attempts")
        return IngestJob.Status.FAILED
    started = time.monotonic()
    for attempt in range(DB_RETRIES):
        try:
            warnings = _ingest_file(job)
            break
        except ArchiveRejected as exc:
            _finish(job_id, IngestJob.Status.FAILED, error=exc.reason)
            return IngestJob.Status.FAILED
        except TRANSIENT_DB_ERRORS:
            if attempt == DB_RETRIES - 1:
                raise  # let django-q2 record it; the job row stays resumable
            log.warning("ingest job %s: database unavailable, retrying", job_id)
            connection.close()
            time.sleep(min(2**attempt, 15))
        except (DatabaseError, Exception) as exc:  # poison input must not loop
            log.exception("ingest job %s failed", job_id)
            _finish(job_id, IngestJob.Status.FAILED, error=f"{type(exc).__name__}: {exc}")
            return IngestJob.Status.FAILED
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


def _ingest_file(job: IngestJob) -> list[str]:
    stored = job.stored_file
    path = Path(settings.MEDIA_ROOT) / stored.path
    archive_report = ArchiveReport()
    project = job.incident.project
    members = 0
    with grouping_store.project_lock(project.pk):
        run = _Run(
            job=job,
            miner=grouping_store.load_miner(project),
            observed=grouping_store.Observed(),
            engine=Engine(tenant_catalogue(), baseline_templates=_baseline_templates(job)),
            group_rules=grouping_store.GroupRules.load(project),
            writer=_Writer(),
            default_year=year_hint([path]),
        )
        try:
            for member in open_members(
                path, display_name=stored.original_name, limits=limits(), report=archive_report
            ):
                members += 1
                _ingest_member(run, member.name, member.stream)
        finally:
            run.writer.close()
        grouping_store.save_miner(project, run.miner)
        grouping_store.record_groups(job.incident, run.miner, run.observed)
        rollup.refresh_rollup(job.incident)
        diagnosis.save_job_findings(job, run.engine.findings(), run.source_ids)
        diagnosis.refresh_diagnosis(job.incident)
    warnings = list(archive_report.warnings)
    if members == 0:
        warnings.append("no log file was found in this upload")
    return warnings
