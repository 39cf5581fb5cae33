"""Uploaded files, the jobs that ingest them, the sources they contain and their events.

Tenant schema. An `Event` is one log record (multi-line records joined); its natural key is
(source, line): a re-delivered or concurrent job can never duplicate or lose a line.
"""

from __future__ import annotations

from django.conf import settings
from django.contrib.postgres.indexes import GinIndex
from django.db import models

from apps.core.ingest.pipeline import unmatched_line
from apps.core.logparse.levels import LEVEL_NUMBER, LEVELS
from apps.incidents.models import Incident, Project
from apps.jobs.models import Job

__all__ = ["LEVELS", "LEVEL_NUMBER"]  # re-exported: the app's code imports them from here


class StoredFile(models.Model):
    """One uploaded file or pasted text, stored under a generated name outside the web root."""

    incident = models.ForeignKey(Incident, on_delete=models.CASCADE, related_name="files")
    original_name = models.CharField(max_length=255)  # metadata only; escaped when shown
    path = models.CharField(max_length=255)  # relative to MEDIA_ROOT, generated
    size = models.BigIntegerField()
    sha256 = models.CharField(max_length=64)
    log_format = models.CharField(max_length=500, blank=True)  # loghub header override
    # for lines without a year / a zone; the line's own always wins (pipeline.DateHints)
    year = models.PositiveSmallIntegerField(null=True, blank=True)
    timezone = models.CharField(max_length=64, blank=True)  # an IANA name, e.g. Europe/Paris
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return self.original_name


class IngestJob(Job):
    """Ingest one stored file (apps.ingestion.jobs); the lifecycle is apps.jobs'."""

    incident = models.ForeignKey(Incident, on_delete=models.CASCADE, related_name="jobs")
    stored_file = models.OneToOneField(StoredFile, on_delete=models.CASCADE, related_name="job")
    bytes_total = models.BigIntegerField(default=0)
    bytes_done = models.BigIntegerField(default=0)
    lines_done = models.BigIntegerField(default=0)
    events_done = models.BigIntegerField(default=0)
    warnings = models.JSONField(default=list, blank=True)
    lines_per_second = models.FloatField(null=True, blank=True)

    class Meta:
        ordering = ["created_at"]

    def __str__(self) -> str:
        return f"ingest {self.stored_file} ({self.status})"

    @property
    def progress(self) -> float:
        if self.status == self.Status.DONE:
            return 1.0
        if not self.bytes_total:
            return 0.0
        return min(0.99, self.bytes_done / self.bytes_total)


class Source(models.Model):
    """One log file: an uploaded plain file, or one member of an uploaded archive."""

    class Status(models.TextChoices):
        INGESTING = "ingesting", "Ingesting"
        DONE = "done", "Done"
        SKIPPED = "skipped", "Skipped"
        FAILED = "failed", "Failed"  # its job was refused part-way; its events were removed

    incident = models.ForeignKey(Incident, on_delete=models.CASCADE, related_name="sources")
    stored_file = models.ForeignKey(StoredFile, on_delete=models.CASCADE, related_name="sources")
    member = models.CharField(max_length=500)  # display path inside the upload (sanitised)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.INGESTING)
    fmt = models.CharField(max_length=40, blank=True)
    confidence = models.FloatField(default=0)
    # the header its lines were read with, in the loghub syntax: learnt from the file (fmt
    # "inferred") or given (fmt "loghub"); empty for catalogue formats
    header = models.CharField(max_length=500, blank=True)
    # a member's corrected header (loghub syntax), over the upload's; the job re-reads with it
    log_format = models.CharField(max_length=500, blank=True)
    # with a given header: the lines it did not match, by what became of them
    unmatched = models.JSONField(default=dict, blank=True)
    line_count = models.BigIntegerField(default=0)
    event_count = models.BigIntegerField(default=0)
    parsed_lines = models.BigIntegerField(default=0)
    unparsed_lines = models.BigIntegerField(default=0)
    truncated_lines = models.BigIntegerField(default=0)
    # last physical line whose event is committed; advanced in the same transaction as the rows
    checkpoint_line = models.BigIntegerField(default=0)
    sha256 = models.CharField(max_length=64, blank=True)  # of the decoded member bytes
    warnings = models.JSONField(default=list, blank=True)
    first_ts = models.DateTimeField(null=True, blank=True)
    last_ts = models.DateTimeField(null=True, blank=True)
    text_indexed = models.BooleanField(default=False)  # its messages are in EventText

    class Meta:
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(fields=["stored_file", "member"], name="one_source_per_member")
        ]

    def __str__(self) -> str:
        return self.member

    @property
    def coverage(self) -> float:
        return self.parsed_lines / self.line_count if self.line_count else 0.0

    @property
    def unmatched_line(self) -> str:
        """Like: 12 lines not matched by the header: 9 joined to the record before, 3 kept as
        plain text."""
        return unmatched_line(self.unmatched or {})

    @property
    def coverage_line(self) -> str:
        """Like: 98.7% parsed · 312 lines kept unparsed · 3 lines truncated."""
        parts = [f"{self.coverage:.1%} parsed"]
        if self.unparsed_lines:
            parts.append(f"{self.unparsed_lines:,} lines kept unparsed")
        if self.truncated_lines:
            parts.append(f"{self.truncated_lines:,} lines truncated")
        return " · ".join(parts)


class Event(models.Model):
    """One log record. Written with COPY by the ingest job, never saved one by one."""

    id = models.BigAutoField(primary_key=True)
    # No database constraints on the hot path: COPY would check both keys for every row.
    # Deletes go through the ORM (cascade) or delete_source (SQL); both remove events first.
    # No single-column indexes either: (incident, ts, id) and (source, line) lead with them.
    incident = models.ForeignKey(
        Incident,
        on_delete=models.CASCADE,
        related_name="events",
        db_constraint=False,
        db_index=False,
    )
    source = models.ForeignKey(
        Source, on_delete=models.CASCADE, related_name="events", db_constraint=False, db_index=False
    )
    line = models.BigIntegerField()  # first physical line (1-based)
    end_line = models.BigIntegerField()
    ts = models.DateTimeField(null=True)
    ts_inherited = models.BooleanField(default=False)
    level = models.SmallIntegerField(null=True)  # index into LEVELS
    service = models.CharField(max_length=200, blank=True)
    host = models.CharField(max_length=200, blank=True)
    trace_id = models.CharField(max_length=200, blank=True)
    message = models.TextField()
    raw = models.TextField()
    template_id = models.CharField(max_length=32, blank=True)
    group_id = models.CharField(max_length=32, blank=True)
    attrs = models.JSONField(null=True)
    truncated = models.BooleanField(default=False)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["source", "line"], name="event_natural_key")]
        indexes = [
            models.Index(fields=["incident", "ts", "id"], name="event_timeline"),
            # warnings and worse only: the filters that pick few events (level >= WARN, ERROR,
            # FATAL). A minimum of INFO or below keeps most events, and the timeline index
            # serves it. A full index cost the ingest ~1.4 µs per row to keep up (README).
            models.Index(
                fields=["incident", "level", "ts"],
                name="event_level",
                condition=models.Q(level__gte=LEVEL_NUMBER["WARN"]),
            ),
            models.Index(fields=["incident", "group_id"], name="event_group"),
            models.Index(fields=["incident", "service", "ts"], name="event_service"),
        ]
        # No text index here: a trigram GIN costs ~40-60 µs per row inside COPY, more than all
        # the rest of the ingest. Text search has its own table, filled after the job (EventText).

    def __str__(self) -> str:
        return f"{self.source_id}:{self.line}"

    @property
    def level_name(self) -> str:
        return LEVELS[self.level] if self.level is not None else ""


class EventText(models.Model):
    """The search index of event messages: one row per event, its message upper-cased, under a
    GIN index of its source and trigrams (migration 0007). Filled per source by `search.index_job` after the ingest job is done, so
    the index's cost is off the ingest path; until a source is indexed (`Source.text_indexed`)
    its events are searched by a scan instead. Same answers either way (search.py).
    """

    event_id = models.BigIntegerField(primary_key=True)
    source = models.ForeignKey(
        Source, on_delete=models.CASCADE, related_name="texts", db_constraint=False
    )
    body = models.TextField()  # upper(message), as PostgreSQL upper-cases it

    class Meta:
        # the source next to the trigrams (btree_gin): a search reads its incident's rows only
        indexes = [
            GinIndex(
                fields=["source", "body"],
                opclasses=["int8_ops", "gin_trgm_ops"],
                name="eventtext_source_trgm",
            )
        ]

    def __str__(self) -> str:
        return f"text of event {self.event_id}"


class EventRollup(models.Model):
    """Event counts per incident, 10-second bucket, level and service: what the timeline draws.

    Derived data, rebuilt per incident by `rollup.refresh_rollup` at the end of each ingest job
    and after a source is deleted. Buckets are `date_bin('10 seconds', ts, epoch)`, so every
    timeline bar width that is a multiple of 10 s is a sum of whole rollup buckets. Events
    without a timestamp are not counted (the timeline cannot place them).
    """

    SECONDS = 10

    # (incident, bucket) below serves the foreign key too
    incident = models.ForeignKey(
        Incident, on_delete=models.CASCADE, related_name="rollup", db_index=False
    )
    bucket = models.DateTimeField()
    level = models.SmallIntegerField(null=True)
    service = models.CharField(max_length=200, blank=True)
    count = models.BigIntegerField()

    class Meta:
        indexes = [models.Index(fields=["incident", "bucket"], name="event_rollup_bucket")]

    def __str__(self) -> str:
        return f"{self.incident_id} {self.bucket:%H:%M:%S} {self.level} {self.service}"


class MinerState(models.Model):
    """The template miner's learned state, per project (loaded and saved by each job)."""

    project = models.OneToOneField(Project, on_delete=models.CASCADE, related_name="miner_state")
    state = models.JSONField()
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"miner state of {self.project}"


class ErrorGroup(models.Model):
    """A fingerprinted group of events, persistent per project across incidents."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="groups")
    group_id = models.CharField(max_length=32)
    template_id = models.CharField(max_length=32, blank=True)
    template = models.TextField()
    exception_type = models.CharField(max_length=300, blank=True)
    frames = models.JSONField(default=list, blank=True)  # the stack frames used (why grouped)
    level = models.SmallIntegerField(null=True)  # highest level seen
    count = models.BigIntegerField(default=0)
    first_seen = models.DateTimeField(null=True)
    last_seen = models.DateTimeField(null=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["project", "group_id"], name="one_group_per_project")
        ]

    def __str__(self) -> str:
        return self.template[:80]

    @property
    def level_name(self) -> str:
        return LEVELS[self.level] if self.level is not None else ""


class GroupOccurrence(models.Model):
    """How a group showed up in one incident: the basis of "also seen in incidents #12, #31"."""

    group = models.ForeignKey(ErrorGroup, on_delete=models.CASCADE, related_name="occurrences")
    incident = models.ForeignKey(Incident, on_delete=models.CASCADE, related_name="occurrences")
    count = models.BigIntegerField(default=0)
    first_ts = models.DateTimeField(null=True)
    last_ts = models.DateTimeField(null=True)
    first_event_id = models.BigIntegerField(null=True)  # no FK: events are bulk-deleted by SQL

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["group", "incident"], name="one_occurrence_per_incident"
            )
        ]
        indexes = [models.Index(fields=["incident", "-count"], name="occurrence_top")]

    def __str__(self) -> str:
        return f"{self.group_id} in {self.incident_id}"


class GroupRule(models.Model):
    """A member's merge or split decision, applied to existing and future events of a project.

    Rules apply in creation order, each once: an event whose group is `source_group` (and, for a
    split, whose condition holds) moves to `target_group`. See `grouping_store.GroupRules`.
    """

    class Kind(models.TextChoices):
        MERGE = "merge", "Merge"
        SPLIT = "split", "Split"

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="group_rules")
    kind = models.CharField(max_length=5, choices=Kind.choices)
    source_group = models.CharField(max_length=32)
    target_group = models.CharField(max_length=32)
    # split: {"template_id", "token", "sub", "value", "position"} or {"exception_type"}
    condition = models.JSONField(default=dict, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.DO_NOTHING,
        db_constraint=False,  # users live in the public schema
        related_name="+",
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]
        indexes = [models.Index(fields=["project", "id"], name="group_rule_order")]

    def __str__(self) -> str:
        return f"{self.kind} {self.source_group} → {self.target_group}"


class GroupRollup(models.Model):
    """Event counts per incident, error group and 10-second bucket: the groups' sparklines.

    Derived data, rebuilt with the incident's group occurrences
    (`grouping_store.refresh_incident_groups`: after ingest jobs, source deletion, merges and
    splits). Same buckets as `EventRollup`.
    """

    incident = models.ForeignKey(
        Incident, on_delete=models.CASCADE, related_name="group_rollup", db_index=False
    )
    group_id = models.CharField(max_length=32)
    bucket = models.DateTimeField()
    count = models.BigIntegerField()

    class Meta:
        indexes = [
            models.Index(fields=["incident", "group_id", "bucket"], name="group_rollup_series")
        ]

    def __str__(self) -> str:
        return f"{self.incident_id} {self.group_id} {self.bucket:%H:%M:%S}"
