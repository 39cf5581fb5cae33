"""The one shape of a background job row: ingest jobs, analysis runs and PDF exports derive
from `Job` (abstract: each keeps its own table in the tenant schema).

A row is `queued` when requested, `running` once a delivery claims it, and ends `done` or
`failed`. `attempts` counts claims (one per delivery that got the row); `claimed_at` is when
the current holder claimed it and `heartbeat_at` when it last showed it was alive, which is
what staleness is measured on (apps.jobs.lifecycle); `error` says why a job failed, for users.
"""

from __future__ import annotations

from django.db import models


class JobStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Running"
    DONE = "done", "Done"
    FAILED = "failed", "Failed"


TERMINAL = (JobStatus.DONE, JobStatus.FAILED)


class Job(models.Model):
    Status = JobStatus

    status = models.CharField(max_length=10, choices=JobStatus.choices, default=JobStatus.QUEUED)
    attempts = models.PositiveIntegerField(default=0)
    error = models.TextField(blank=True)  # safe to show: why the job failed
    created_at = models.DateTimeField(auto_now_add=True)
    claimed_at = models.DateTimeField(null=True, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        abstract = True

    @property
    def is_active(self) -> bool:
        return self.status in (JobStatus.QUEUED, JobStatus.RUNNING)

    @property
    def is_over(self) -> bool:
        return self.status in TERMINAL
