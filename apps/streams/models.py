"""The spool: records received from shippers, stored before they are answered 2xx.

Lives in each tenant's schema. A `SpoolBatch` is one accepted request, its decoded records
packed in one `payload` (apps.streams.spool); its `digest` (protocol and decompressed body) is
unique per project, so a shipper's retry of a batch we already stored is answered 2xx again
without storing anything twice. A batch is also a job row (apps.jobs): the drain
(apps.streams.draining) claims it, writes its records to the project's stream (`StreamEvent`)
and finishes it `done` with `processed_at`, in one transaction.

Also here: the stream itself (`StreamEvent`, a partitioned table made by migration 0002),
per-project stream settings, and the alarms and incidents the stream opened (incidents.py).
"""

from __future__ import annotations

from django.db import models

from apps.core.vocabulary import LEVELS
from apps.incidents.models import Incident, Project
from apps.jobs.models import Job, JobStatus


class Protocol(models.TextChoices):
    OTLP = "otlp", "OpenTelemetry (OTLP/HTTP)"
    LOKI = "loki", "Loki push"
    ELASTIC = "elastic", "Elasticsearch bulk"
    HEC = "hec", "Splunk HEC"
    HTTP = "http", "HTTP (NDJSON, JSON, text)"
    SYSLOG = "syslog", "Syslog"


class SpoolBatch(Job):
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="+")
    token_id = models.BigIntegerField(null=True)  # IngestToken.pk, in the public schema
    protocol = models.CharField(max_length=10, choices=Protocol.choices)
    digest = models.CharField(max_length=64)  # sha256 of protocol, scope and body
    record_count = models.PositiveIntegerField()
    body_bytes = models.PositiveIntegerField()  # after decompression
    received_at = models.DateTimeField()
    processed_at = models.DateTimeField(null=True, blank=True)
    # the records (apps.streams.spool format); null only for batches drained before 0004
    payload = models.BinaryField(null=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["project", "digest"], name="spool_batch_once")
        ]
        indexes = [
            models.Index(
                fields=["received_at"],
                name="spool_batch_pending",
                condition=models.Q(status__in=[JobStatus.QUEUED, JobStatus.RUNNING]),
            )
        ]
        ordering = ["received_at", "pk"]

    def __str__(self) -> str:
        return f"{self.protocol} batch {self.pk} ({self.record_count} records)"


DEFAULT_RETENTION_DAYS = 7


class StreamSettings(models.Model):
    """A project's stream settings; a project without a row has the defaults."""

    project = models.OneToOneField(Project, on_delete=models.CASCADE, related_name="+")
    retention_days = models.PositiveSmallIntegerField(default=DEFAULT_RETENTION_DAYS)

    def __str__(self) -> str:
        return f"stream settings of {self.project_id}"


class StreamEvent(models.Model):
    """One processed record of a project's stream (read-only here: the drain inserts them).

    The table is partitioned by project (LIST) and each project's partition by day of
    reception (RANGE on `received_at`): retention drops whole day partitions (partitions.py).
    Natural key: (batch, seq), with the partition columns as the primary key needs them.
    """

    pk = models.CompositePrimaryKey("project_id", "received_at", "batch_id", "seq")
    project_id = models.BigIntegerField()
    received_at = models.DateTimeField()
    batch_id = models.BigIntegerField()
    seq = models.IntegerField()
    ts = models.DateTimeField()  # when it happened (else when it was observed)
    level = models.SmallIntegerField(null=True)
    service = models.CharField(max_length=200)
    host = models.CharField(max_length=200)
    trace_id = models.CharField(max_length=32)
    span_id = models.CharField(max_length=16)
    message = models.TextField()
    attributes = models.JSONField(null=True)
    resource = models.JSONField(null=True)
    template_id = models.CharField(max_length=32)
    group_id = models.CharField(max_length=32)
    truncated = models.BooleanField()

    class Meta:
        managed = False
        db_table = "streams_event"

    def __str__(self) -> str:
        return f"{self.batch_id}:{self.seq}"

    @property
    def level_name(self) -> str:
        return LEVELS[self.level] if self.level is not None else ""


class StreamAlarm(models.Model):
    """A rule of severity error or worse fired on the stream; written with the records that
    fired it, turned into (or added to) an incident by incidents.py."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="+")
    category = models.CharField(max_length=100)
    service = models.CharField(max_length=200, blank=True)
    rule_id = models.CharField(max_length=200)
    title = models.CharField(max_length=300)
    severity = models.CharField(max_length=10)
    count = models.PositiveIntegerField()
    first_ts = models.DateTimeField()
    last_ts = models.DateTimeField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["first_ts", "pk"]

    def __str__(self) -> str:
        return f"{self.category} in {self.service or '-'} at {self.first_ts:%H:%M:%S}"


class StreamIncident(models.Model):
    """An incident the stream opened: its dedup key (category, service), the time range its
    failure spans and how far the incident's sources cover the stream (`covered_until`)."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="+")
    incident = models.OneToOneField(Incident, on_delete=models.CASCADE, related_name="+")
    category = models.CharField(max_length=100)
    service = models.CharField(max_length=200, blank=True)
    first_ts = models.DateTimeField()  # first matching record
    last_ts = models.DateTimeField()  # latest matching record
    matches = models.PositiveIntegerField(default=0)
    range_start = models.DateTimeField()  # first_ts minus the lead-in
    covered_until = models.DateTimeField()  # stream events before this are in its sources
    grown_at = models.DateTimeField(null=True, blank=True)  # last source added

    class Meta:
        indexes = [
            models.Index(fields=["project", "category", "service", "-last_ts"], name="stream_dedup")
        ]

    def __str__(self) -> str:
        return f"{self.category} in {self.service or '-'}: incident {self.incident_id}"


class StreamTemplate(models.Model):
    """When a project's stream first and last showed a template, and how often: the history an
    upload's "new message pattern" is judged against (apps.ingestion.hooks history providers).
    The drain upserts one row per template of each batch it stores."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="+")
    template_id = models.CharField(max_length=32)
    first_seen = models.DateTimeField()
    last_seen = models.DateTimeField()
    count = models.BigIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["project", "template_id"], name="stream_template_once")
        ]

    def __str__(self) -> str:
        return f"{self.template_id} since {self.first_seen:%Y-%m-%d %H:%M}"
