"""A tenant's work: projects (e.g. "checkout", "payments") and the incidents filed in them.

These tables live in each tenant's schema; ids repeat across schemas.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models


class Project(models.Model):
    name = models.CharField(max_length=80)
    slug = models.SlugField(max_length=80, unique=True)
    description = models.TextField(blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.DO_NOTHING,
        db_constraint=False,  # users live in the public schema; no cross-schema constraint
        related_name="+",
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Incident(models.Model):
    class Status(models.TextChoices):
        INVESTIGATING = "investigating", "Investigating"
        ACKNOWLEDGED = "acknowledged", "Acknowledged"
        MITIGATED = "mitigated", "Mitigated"
        RESOLVED = "resolved", "Resolved"

    class Severity(models.TextChoices):
        SEV1 = "sev1", "SEV1"
        SEV2 = "sev2", "SEV2"
        SEV3 = "sev3", "SEV3"
        SEV4 = "sev4", "SEV4"

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="incidents")
    title = models.CharField(max_length=200)
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.INVESTIGATING)
    severity = models.CharField(max_length=10, choices=Severity.choices, default=Severity.SEV3)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.DO_NOTHING,
        db_constraint=False,  # users live in the public schema; no cross-schema constraint
        related_name="+",
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["project", "-created_at"], name="incident_project_recent")]

    def __str__(self) -> str:
        return self.title
