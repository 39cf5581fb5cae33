"""Ingestion use cases: store uploads, queue their jobs, delete or re-read a source.

The web upload, the paste box, the `ingest` command and the tests all go through
`create_incident` / `add_files` and `run_ingest` (the job itself: apps.ingestion.jobs,
re-exported here): one path through the code.
"""

from __future__ import annotations

import gzip
import hashlib
import logging
import uuid
import zipfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings
from django.db import connection, transaction

from apps.core.logparse.limits import Limits, human_bytes
from apps.incidents import services as incidents
from apps.incidents.models import Incident, Project
from apps.ingestion import grouping_store, hooks, quotas, rollup, scheduling
from apps.ingestion.jobs import clear_sources, limits
from apps.ingestion.jobs import run_ingest as run_ingest  # the job's one entry point, re-exported
from apps.ingestion.models import IngestJob, Source, StoredFile
from apps.tenants.models import IngestTicket

log = logging.getLogger(__name__)


class UploadRejected(Exception):
    """The upload as a whole is refused; the message is for the user."""


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
    database. Jobs reach django-q2 through the fair-queuing dispatcher (apps.ingestion.scheduling).
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
    incident = incidents.open_incident(project=project, title=title, created_by=created_by)
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
    hooks.events_removed(incident)


def _estimated_bytes(stored: StoredFile) -> int:
    """Decoded bytes we expect to read: exact for plain files, from headers for gzip/zip."""
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


# ----------------------------------------------------------------------------- re-reading a source


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
    clear_sources(
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
        claimed_at=None,
        heartbeat_at=None,
        finished_at=None,
    )
    grouping_store.refresh_incident_groups(source.incident)
    rollup.refresh_rollup(source.incident)
    hooks.events_removed(source.incident)
    scheduling.submit(connection.schema_name, [job.pk])
    job.refresh_from_db()
    return job
