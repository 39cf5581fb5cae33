"""Per-tenant AI settings and the history of analysis runs (tenant schema).

``AnalysisRun.result`` stores `apps.core.analysis.result.AnalysisResult.to_json()`; read it typed
with ``run.typed_result`` (or `apps.analysis.selectors.latest_analysis(incident)` for the newest
finished run).
"""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.functional import cached_property

from apps.core.analysis.result import AnalysisResult
from apps.incidents.models import Incident
from apps.jobs.models import Job


class AISettings(models.Model):
    """The tenant's analysis provider (one row, pk=1). The API key is stored sealed, write-only."""

    class Provider(models.TextChoices):
        LOCAL = "local", "Local (offline, deterministic)"
        OPENAI = "openai-compatible", "OpenAI-compatible endpoint"

    SINGLETON_PK = 1

    provider = models.CharField(max_length=20, choices=Provider.choices, default=Provider.LOCAL)
    base_url = models.URLField(max_length=500, blank=True)
    model = models.CharField(max_length=200, blank=True)
    # AEAD-sealed with a key derived from SECRET_KEY (see apps/core/sealing.py); never shown.
    api_key_sealed = models.TextField(blank=True)
    timeout_seconds = models.PositiveIntegerField(default=60)
    max_tokens = models.PositiveIntegerField(default=2000)
    price_per_1k_tokens = models.DecimalField(
        max_digits=10, decimal_places=6, null=True, blank=True
    )  # in the tenant's currency, for the preview's cost estimate; None = unknown
    # Policy: only the local provider, or endpoints on loopback / private networks.
    local_endpoints_only = models.BooleanField(default=False)
    updated_at = models.DateTimeField(auto_now=True)
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.DO_NOTHING,
        db_constraint=False,  # users live in the public schema
        related_name="+",
    )

    class Meta:
        verbose_name = "AI settings"
        verbose_name_plural = "AI settings"

    def __str__(self) -> str:
        return f"AI settings ({self.provider})"

    @property
    def has_api_key(self) -> bool:
        return bool(self.api_key_sealed)


LOST_GRACE_SECONDS = 120  # on top of the broker's re-delivery time (Q_CLUSTER["retry"])


class AnalysisRun(Job):
    """One press of *Analyze*: exactly one row per request, however often its job is delivered
    (the lifecycle is apps.jobs'; `error` is safe to show: it never contains keys)."""

    incident = models.ForeignKey(Incident, on_delete=models.CASCADE, related_name="analyses")
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        related_name="+",
    )
    provider = models.CharField(max_length=40, blank=True)
    model = models.CharField(max_length=200, blank=True)
    result = models.JSONField(null=True, blank=True)  # see the module docstring
    prompt_tokens = models.PositiveIntegerField(null=True, blank=True)
    completion_tokens = models.PositiveIntegerField(null=True, blank=True)
    token_estimate = models.PositiveIntegerField(null=True, blank=True)  # of the prompt sent
    latency_ms = models.PositiveIntegerField(null=True, blank=True)  # sum over provider calls
    payload_sha256 = models.CharField(max_length=64, blank=True)  # of the last request body
    evidence_count = models.PositiveIntegerField(default=0)
    redactions = models.JSONField(default=dict, blank=True)  # label → replacements made
    calls = models.JSONField(default=list, blank=True)  # one entry per provider call

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["incident", "-created_at"], name="analysis_recent")]

    def __str__(self) -> str:
        return f"analysis {self.pk} of incident {self.incident_id} ({self.status})"

    @property
    def is_active(self) -> bool:
        return self.status in (self.Status.QUEUED, self.Status.RUNNING) and not self.is_lost

    @property
    def is_lost(self) -> bool:
        """Silent past the point where a re-delivery would have claimed it again: its job
        ended without writing an outcome (the database stayed away longer than the job could
        wait) and no broker will run it again (Redis does not re-deliver). Shown as stopped,
        not polled forever; a late re-delivery still claims it (its heartbeat is stale)."""
        if self.status != self.Status.RUNNING:
            return False
        last_seen = self.heartbeat_at or self.claimed_at
        if last_seen is None:
            return False
        lost_after = timedelta(seconds=settings.Q_CLUSTER["retry"] + LOST_GRACE_SECONDS)
        return last_seen < timezone.now() - lost_after

    def get_status_display(self) -> str:
        return "Stopped" if self.is_lost else self.Status(self.status).label

    @cached_property
    def typed_result(self) -> AnalysisResult | None:
        """The stored result, typed (`apps.core.analysis.result`); None before it has one."""
        return AnalysisResult.from_json(self.result)

    @property
    def outcome(self) -> str:
        """ok / insufficient_evidence / failed (from the result), or the run status."""
        return self.typed_result.status if self.typed_result else self.status

    @property
    def total_tokens(self) -> int | None:
        if self.prompt_tokens is None and self.completion_tokens is None:
            return None
        return (self.prompt_tokens or 0) + (self.completion_tokens or 0)
