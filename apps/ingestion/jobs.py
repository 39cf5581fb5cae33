"""The ingest job: read one stored file in a compute process and write what it sends.

The lifecycle (claim, heartbeat, attempts, failure) is apps.jobs.lifecycle's; this module is
the body. The job forks its compute process (apps.core.ingest.compute), so no heartbeat thread
may run beside it: it beats itself with every COPY batch (`writing.copy_batch`) and between
the steps that end it.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass, replace
from datetime import UTC, date, tzinfo
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.conf import settings
from django.db import connection, transaction

from aiops.outage import retry_transient
from apps.core.grouping.miner import Miner
from apps.core.ingest import compute
from apps.core.ingest.pipeline import date_hints
from apps.core.logparse.archive import ArchiveRejected
from apps.core.logparse.limits import Limits
from apps.core.rules.engine import Engine
from apps.ingestion import grouping_store, hooks, quotas, rollup, writing
from apps.ingestion.models import ErrorGroup, IngestJob, Source
from apps.jobs import lifecycle

log = logging.getLogger(__name__)


def limits() -> Limits:
    return Limits(**settings.INGEST_LIMITS)


def run_ingest(job_id: int) -> str:
    """The ingest job (runs in the tenant's schema): the final status, or "skipped".

    Safe to run twice or concurrently: rows carry a natural key and the per-source
    checkpoint is committed with them. A database restart is ridden out here, resuming from
    the checkpoint; anything else fails the job with a visible reason and removes what it
    wrote (`_undo`). The text search index of its sources is built afterwards by the caller
    (search.py: the worker task does it next, in the same fair-queuing slot).
    """
    return lifecycle.run(IngestJob, job_id, _run, on_fail=_undo, beats_itself=True)


def _run(claim: lifecycle.Claim) -> lifecycle.Finished:
    job = IngestJob.objects.select_related("stored_file", "incident__project").get(pk=claim.pk)
    started = time.monotonic()
    try:
        warnings = retry_transient(lambda: _ingest_file(job, claim), what=f"ingest job {job.pk}")
    except ArchiveRejected as exc:
        raise lifecycle.JobFailed(exc.reason) from exc
    except compute.ComputeFailed as exc:  # the message names the original error
        log.error("ingest job %s failed in its compute process: %s", job.pk, exc)
        raise lifecycle.JobFailed(str(exc)) from exc
    elapsed = max(time.monotonic() - started, 1e-6)
    lines = IngestJob.objects.filter(pk=job.pk).values_list("lines_done", flat=True).get()
    return lifecycle.Finished(
        fields={"warnings": warnings[:100], "lines_per_second": lines / elapsed}
    )


def _undo(claim: lifecycle.Claim, reason: str) -> None:
    """Before a job ends failed: its sources `failed` with the reason, the rows it wrote
    removed (a bomb refused part-way may have written millions), and the incident's groups
    and rollup rebuilt from what remains, so the incident reads as if the upload had never
    been, except for the failed source that says why."""
    job = IngestJob.objects.select_related("incident").get(pk=claim.pk)
    with transaction.atomic():
        clear_sources(job, status=Source.Status.FAILED, warnings=[reason[:2000]])
    grouping_store.refresh_incident_groups(job.incident)
    rollup.refresh_rollup(job.incident)
    hooks.events_removed(job.incident)


def _ingest_file(job: IngestJob, claim: lifecycle.Claim) -> list[str]:
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
            engine=Engine(
                hooks.catalogue(),
                baseline_templates=_baseline_templates(job),
                seen_before=hooks.template_history(job.incident.project_id),
            ),
            group_rules=grouping_store.GroupRules.load(project),
            observed=grouping_store.Observed(),
        )
        stream = compute.messages(spec)  # a forked process; this one writes
        writer = writing.SecondConnection("ingest-copy")  # after the fork: no thread in the child
        source_ids: dict[str, int] = {}
        try:
            done = _write(job, claim, stream, writer, source_ids, room)
        finally:
            stream.close()
            writer.close()
        writing.analyze_if_grown(done.written)
        claim.beat()
        # two aggregates over every event of the incident: the timeline's on a connection of
        # its own while this one does the groups' (0.5 s less at a million events)
        timeline = writing.SecondConnection("ingest-rollup")
        timeline.submit(rollup.refresh_rollup, job.incident)
        try:
            miner = Miner.from_state(done.message.miner_state)
            grouping_store.save_miner(project, miner)
            grouping_store.record_groups(job.incident, miner, done.message.observed)
        except BaseException:
            timeline.close(raise_error=False)
            raise
        timeline.close()
        claim.beat()
        hooks.findings_found(job, done.message.findings, source_ids)
    return done.message.warnings


@dataclass(frozen=True, slots=True)
class _Written:
    message: compute.Done
    written: int  # rows handed to COPY


def _write(
    job: IngestJob,
    claim: lifecycle.Claim,
    stream: Iterator[compute.Message],
    writer: writing.SecondConnection,
    source_ids: dict[str, int],
    room: int,
) -> _Written:
    """Write the compute process's messages: Source rows here, COPY batches on `writer`."""
    stored = job.stored_file
    source_id, prefix, written = 0, "", 0
    done = None
    for message in stream:
        match message:
            case compute.RowsBatch(rows=rows):
                if written + rows.count > room:
                    raise lifecycle.JobFailed(quotas.events_stop_reason(stored.original_name))
                writer.submit(writing.copy_batch, claim, source_id, prefix, message)
                written += rows.count
            case compute.SourceStarted(name=name):
                source, _ = Source.objects.get_or_create(
                    stored_file=stored, member=name, defaults={"incident_id": job.incident_id}
                )
                source_ids[source.member] = source_id = source.pk
                prefix = f"{job.incident_id}\t{source_id}\t"
            case compute.SourceDone():
                writer.flush()
                Source.objects.filter(pk=source_id).update(
                    status=Source.Status.DONE, **asdict(message)
                )
            case compute.SourceSkipped(detail=detail):
                Source.objects.filter(pk=source_id).update(
                    status=Source.Status.SKIPPED, sha256="", warnings=[detail]
                )
            case compute.Rejected(reason=reason):
                raise lifecycle.JobFailed(reason)
            case compute.Done():
                done = message
    assert done is not None  # compute.messages raises when the child did not finish
    return _Written(done, written)


def clear_sources(job: IngestJob, **fields) -> None:
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
