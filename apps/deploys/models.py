"""Deploy events of a project, in one normalised shape whatever sent them (the CLI, a generic
marker, GitHub). A sender's own id of the deploy (`external_id`) makes its later status updates
and its replays land on the same row."""

from __future__ import annotations

from django.db import models
from django.db.models import Q

from apps.core.correlate.markers import STATUSES
from apps.incidents.models import Incident, Project

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


class IncidentCorrelation(models.Model):
    """An incident's services in the order they began failing, the origin and the deploys near
    it with their verdicts: computed from its stored events after each ingest job
    (`apps.deploys.correlation.refresh`), read by the incident page."""

    incident = models.OneToOneField(Incident, on_delete=models.CASCADE, related_name="correlation")
    origin = models.CharField(max_length=200, blank=True)
    confidence = models.CharField(max_length=10, blank=True)  # high, medium, low
    basis = models.JSONField(default=list, blank=True)  # why, in words
    # origin first, then by onset: name, role, onset, errors, source_id, line, text
    services = models.JSONField(default=list, blank=True)
    traces = models.IntegerField(default=0)  # failing requests seen in two services or more
    # per deploy near the incident: its verdict and each service's errors before/after it
    deploys = models.JSONField(default=list, blank=True)
    # error group id -> {"service", "version"}: the version of its service when the group was
    # first seen in the project (Sentry's "first seen in release"), where a deploy says it
    first_versions = models.JSONField(default=dict, blank=True)
    computed_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"correlation of incident {self.incident_id}: {self.origin or '?'}"

    @property
    def path(self) -> list[str]:
        return [s["name"] for s in self.services]

    @property
    def suspect(self) -> dict | None:
        return next((d for d in self.deploys if d.get("suspect")), None)
