"""Findings of the rules engine per incident, the incident's diagnosis, and tenant rule settings.

Evidence is stored as [source_id, line] pairs: (source, first line) is the natural key of an
event, so every finding links to raw lines that survive re-ingestion.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models

from apps.core.vocabulary import SEVERITY_ORDER
from apps.core.vocabulary import Severity as CoreSeverity
from apps.incidents.models import Incident


class Finding(models.Model):
    # the choices derive from the one vocabulary (apps/core/vocabulary.py), in its order
    Severity = models.TextChoices(
        "Severity", [(s.name, (s.value, s.name.title())) for s in SEVERITY_ORDER]
    )

    incident = models.ForeignKey(Incident, on_delete=models.CASCADE, related_name="findings")
    job = models.ForeignKey(
        "ingestion.IngestJob", null=True, on_delete=models.CASCADE, related_name="findings"
    )
    rule_id = models.CharField(max_length=120)
    category = models.CharField(max_length=60)
    severity = models.CharField(max_length=10, choices=Severity.choices)
    title = models.CharField(max_length=300)
    explanation = models.TextField(blank=True)
    remediation = models.TextField(blank=True)
    count = models.PositiveIntegerField(default=0)
    first_ts = models.DateTimeField(null=True)
    last_ts = models.DateTimeField(null=True)
    services = models.JSONField(default=list)
    groups = models.JSONField(default=list)
    confidence = models.FloatField(default=0.5)
    detector = models.BooleanField(default=False)  # statistical detector, not a signature
    evidence = models.JSONField(default=list)  # [[source_id, line], ...]; [0] is the trigger
    trigger = models.JSONField(null=True)  # [source_id, line]
    flashpoint = models.JSONField(null=True)  # [source_id, line]

    class Meta:
        ordering = ["first_ts", "id"]
        indexes = [models.Index(fields=["incident", "severity"], name="finding_incident")]

    def __str__(self) -> str:
        return f"{self.category}: {self.title}"

    @property
    def severity_rank(self) -> int:
        return CoreSeverity(self.severity).rank


class Diagnosis(models.Model):
    """The incident-level reading of all findings: windows and the most likely root cause."""

    incident = models.OneToOneField(Incident, on_delete=models.CASCADE, related_name="diagnosis")
    root_category = models.CharField(max_length=60, blank=True)  # "" = insufficient evidence
    root_title = models.CharField(max_length=300, blank=True)
    root_summary = models.TextField(blank=True)
    root_confidence = models.FloatField(default=0)
    root_evidence = models.JSONField(default=list)  # [[source_id, line], ...], [0] first line
    candidates = models.JSONField(default=list)  # ranked [{category, title, confidence, ...}]
    windows = models.JSONField(default=list)  # [{start, end, services, first: [sid, line]}]
    # when the root cause's incident began: the change point of its window (the first symptom)
    onset = models.DateTimeField(null=True)
    ended = models.DateTimeField(null=True)  # the end of that window: its last error
    # what changed just before the onset (core rules/trigger.py):
    # {"summary", "kind", "at", "evidence": [[sid, line], ...]}; None when nothing stands out
    trigger = models.JSONField(null=True)
    # severity from impact (engine/impact.py): "sev2" and why ("3 services, 41% of events …")
    severity = models.CharField(max_length=10, blank=True)
    severity_reasons = models.CharField(max_length=300, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return self.root_category or "insufficient evidence"


class RuleSetting(models.Model):
    """A tenant's tuning of a built-in rule: off, another severity, another threshold."""

    rule_id = models.CharField(max_length=120, unique=True)
    enabled = models.BooleanField(default=True)
    severity = models.CharField(max_length=10, blank=True, choices=Finding.Severity.choices)
    threshold_count = models.PositiveIntegerField(null=True, blank=True)
    threshold_window = models.PositiveIntegerField(null=True, blank=True)  # seconds
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return self.rule_id


class CustomRule(models.Model):
    """A tenant's own rule, same schema as the catalogue; the pattern runs on RE2."""

    rule_id = models.SlugField(max_length=100, unique=True)
    category = models.SlugField(max_length=60)
    severity = models.CharField(max_length=10, choices=Finding.Severity.choices)
    title = models.CharField(max_length=200)
    pattern = models.TextField()
    level = models.CharField(max_length=10, blank=True)  # minimum level condition
    service = models.CharField(max_length=200, blank=True)
    threshold_count = models.PositiveIntegerField(null=True, blank=True)
    threshold_window = models.PositiveIntegerField(null=True, blank=True)
    explanation = models.TextField(blank=True)
    remediation = models.TextField(blank=True)
    enabled = models.BooleanField(default=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        related_name="+",
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["rule_id"]

    def __str__(self) -> str:
        return self.rule_id
