"""Postmortem drafts (tenant schema): one report per incident, Markdown per section with its
citations, version history, action items, the tenant's template and the PDF exports.

Citations are [source_id, line] pairs: the natural key of an ingestion Event, so they survive
re-ingestion of the same file and link to the evidence view.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models

from apps.incidents.models import Incident
from apps.jobs.models import Job


class SectionKey(models.TextChoices):
    TITLE = "title", "Title"
    SUMMARY = "summary", "Summary"
    IMPACT = "impact", "Impact"
    DETECTION = "detection", "Detection"
    TIMELINE = "timeline", "Timeline"
    ROOT_CAUSE = "root_cause", "Root cause"
    CONTRIBUTING = "contributing", "Contributing factors"
    WENT_WELL = "went_well", "What went well"
    WENT_WRONG = "went_wrong", "What went wrong"
    ACTIONS = "actions", "Action items"
    APPENDIX = "appendix", "Evidence appendix"


REQUIRED_SECTIONS = (SectionKey.TITLE, SectionKey.APPENDIX)


def default_sections() -> list[str]:
    return list(SectionKey.values)


class ReportTemplate(models.Model):
    """The tenant's postmortem template (one row, pk=1): which sections, default owner."""

    SINGLETON_PK = 1

    sections = models.JSONField(default=default_sections)  # ordered SectionKey values
    default_owner = models.CharField(max_length=120, blank=True)
    updated_at = models.DateTimeField(auto_now=True)
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.DO_NOTHING,
        db_constraint=False,  # users live in the public schema
        related_name="+",
    )

    def __str__(self) -> str:
        return "postmortem template"


class Report(models.Model):
    class Status(models.TextChoices):
        DRAFT = "draft", "Draft"
        IN_REVIEW = "in_review", "In review"
        PUBLISHED = "published", "Published"

    incident = models.OneToOneField(Incident, on_delete=models.CASCADE, related_name="report")
    title = models.CharField(max_length=300)  # copy of the title section, for lists and search
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.DRAFT)
    analysis_id = models.PositiveIntegerField(null=True, blank=True)  # the run drafted from
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        related_name="+",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-updated_at", "-id"]

    def __str__(self) -> str:
        return self.title


class ReportSection(models.Model):
    """One section's Markdown. `version` is the compare-and-set token of concurrent editing."""

    report = models.ForeignKey(Report, on_delete=models.CASCADE, related_name="sections")
    key = models.CharField(max_length=20, choices=SectionKey.choices)
    position = models.PositiveSmallIntegerField(default=0)
    body = models.TextField(blank=True)
    citations = models.JSONField(default=list)  # [[source_id, line], ...]
    version = models.PositiveIntegerField(default=1)
    edited = models.BooleanField(default=False)  # changed by a person since last generated
    updated_at = models.DateTimeField(auto_now=True)
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        related_name="+",
    )

    class Meta:
        ordering = ["position", "id"]
        constraints = [
            models.UniqueConstraint(fields=["report", "key"], name="one_section_per_key")
        ]

    def __str__(self) -> str:
        return f"{self.report_id}:{self.key} v{self.version}"

    @property
    def label(self) -> str:
        return SectionKey(self.key).label


class ReportVersion(models.Model):
    """A saved state of one section: every generate, edit (coalesced), restore and conflict."""

    class Kind(models.TextChoices):
        GENERATED = "generated", "Generated"
        EDIT = "edit", "Edited"
        REGENERATED = "regenerated", "Regenerated"
        RESTORED = "restored", "Restored"
        CONFLICT = "conflict", "Unsaved after a conflict"

    section = models.ForeignKey(ReportSection, on_delete=models.CASCADE, related_name="versions")
    number = models.PositiveIntegerField()  # the section version this text became (0: conflict)
    kind = models.CharField(max_length=12, choices=Kind.choices)
    body = models.TextField(blank=True)
    citations = models.JSONField(default=list)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        related_name="+",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["section", "-created_at"], name="report_version_recent")]

    def __str__(self) -> str:
        return f"{self.section_id} v{self.number} ({self.kind})"


class ActionItem(models.Model):
    report = models.ForeignKey(Report, on_delete=models.CASCADE, related_name="actions")
    text = models.CharField(max_length=500)
    owner = models.CharField(max_length=120, blank=True)
    due_date = models.DateField(null=True, blank=True)
    done = models.BooleanField(default=False)
    position = models.PositiveSmallIntegerField(default=0)
    citations = models.JSONField(default=list)

    class Meta:
        ordering = ["position", "id"]

    def __str__(self) -> str:
        return self.text[:80]


class PdfExport(Job):
    """One press of *PDF*: exactly one row and one PDF per request, however often the job runs
    (the lifecycle is apps.jobs')."""

    class Status(models.TextChoices):  # the job statuses, with this page's words
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Rendering"
        DONE = "done", "Ready"
        FAILED = "failed", "Failed"

    report = models.ForeignKey(Report, on_delete=models.CASCADE, related_name="exports")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.QUEUED)
    pdf = models.BinaryField(null=True, blank=True, editable=False)
    sha256 = models.CharField(max_length=64, blank=True)
    size = models.PositiveIntegerField(default=0)
    pages = models.PositiveIntegerField(default=0)
    refused_urls = models.PositiveIntegerField(default=0)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        related_name="+",
    )

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"pdf {self.pk} of report {self.report_id} ({self.status})"
