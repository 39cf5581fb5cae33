"""The spool: records received from shippers, stored before they are answered 2xx.

Lives in each tenant's schema. A `SpoolBatch` is one accepted request; its `digest` (protocol
and decompressed body) is unique per project, so a shipper's retry of a batch we already
stored is answered 2xx again without storing anything twice. Records are processed later
(parse → group → rules) by a job that marks the batch `processed_at`.
"""

from __future__ import annotations

from django.db import models

from apps.core.vocabulary import LEVELS
from apps.incidents.models import Project


class Protocol(models.TextChoices):
    OTLP = "otlp", "OpenTelemetry (OTLP/HTTP)"
    LOKI = "loki", "Loki push"
    ELASTIC = "elastic", "Elasticsearch bulk"
    HEC = "hec", "Splunk HEC"
    HTTP = "http", "HTTP (NDJSON, JSON, text)"
    SYSLOG = "syslog", "Syslog"


class SpoolBatch(models.Model):
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="+")
    token_id = models.BigIntegerField(null=True)  # IngestToken.pk, in the public schema
    protocol = models.CharField(max_length=10, choices=Protocol.choices)
    digest = models.CharField(max_length=64)  # sha256 of protocol, scope and body
    record_count = models.PositiveIntegerField()
    body_bytes = models.PositiveIntegerField()  # after decompression
    received_at = models.DateTimeField()
    processed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["project", "digest"], name="spool_batch_once")
        ]
        indexes = [
            models.Index(
                fields=["received_at"],
                name="spool_batch_pending",
                condition=models.Q(processed_at__isnull=True),
            )
        ]
        ordering = ["received_at", "pk"]

    def __str__(self) -> str:
        return f"{self.protocol} batch {self.pk} ({self.record_count} records)"


class SpoolRecord(models.Model):
    batch = models.ForeignKey(SpoolBatch, on_delete=models.CASCADE, related_name="records")
    seq = models.PositiveIntegerField()  # position in the batch
    ts = models.DateTimeField(null=True)  # when it happened, if the sender said
    observed_ts = models.DateTimeField()
    service = models.CharField(max_length=200, blank=True)
    level = models.SmallIntegerField(null=True)  # index into LEVELS
    message = models.TextField()
    attributes = models.JSONField(default=dict)
    resource = models.JSONField(default=dict)
    trace_id = models.CharField(max_length=32, blank=True)
    span_id = models.CharField(max_length=16, blank=True)
    truncated = models.BooleanField(default=False)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["batch", "seq"], name="spool_record_position")
        ]
        ordering = ["batch", "seq"]

    def __str__(self) -> str:
        return f"{self.service or '-'} {self.level_name} {self.message[:60]}"

    @property
    def level_name(self) -> str:
        return LEVELS[self.level] if self.level is not None else ""
