"""Deploy events of a project, in one normalised shape whatever sent them (the CLI, a generic
marker, GitHub). A sender's own id of the deploy (`external_id`) makes its later status updates
and its replays land on the same row."""

from __future__ import annotations

from django.db import models
from django.db.models import Q

from apps.core.correlate.markers import STATUSES
from apps.incidents.models import Project

# Forward only: a replayed older status never moves a deploy back.
STATUS_RANK = {
    "pending": 0,
    "in_progress": 1,
    "success": 2,
    "failure": 2,
    "error": 2,
    "inactive": 3,
}


class Deploy(models.Model):
    Status = models.TextChoices("Status", [(s.upper(), s) for s in STATUSES])

    class Source(models.TextChoices):
        CLI = "cli", "Command line"
        API = "api", "Marker API"
        GITHUB = "github", "GitHub"
        GITLAB = "gitlab", "GitLab"
        ARGOCD = "argocd", "Argo CD"
        LOGS = "logs", "Read from the logs"

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="deploys")
    service = models.CharField(max_length=200)
    version = models.CharField(max_length=200, blank=True)
    environment = models.CharField(max_length=100, blank=True)
    status = models.CharField(max_length=20, choices=Status.choices, default="success")
    started_at = models.DateTimeField()
    finished_at = models.DateTimeField(null=True, blank=True)
    commit = models.CharField(max_length=100, blank=True)
    author = models.CharField(max_length=200, blank=True)
    url = models.CharField(max_length=2000, blank=True)  # shown as a link only when http(s)
    description = models.TextField(blank=True)
    source = models.CharField(max_length=20, choices=Source.choices)
    external_id = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-started_at", "-pk"]
        indexes = [models.Index(fields=["project", "started_at"], name="deploy_project_time")]
        constraints = [
            models.UniqueConstraint(
                fields=["project", "source", "external_id"],
                condition=~Q(external_id=""),
                name="deploy_external_once",
            )
        ]

    def __str__(self) -> str:
        return f"{self.service} {self.version or '?'} at {self.started_at:%Y-%m-%d %H:%M}"

    @property
    def safe_url(self) -> str:
        """The URL when it is http(s) (a link), else ""."""
        return self.url if self.url.lower().startswith(("https://", "http://")) else ""
