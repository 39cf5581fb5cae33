"""Ingest tokens, in the public schema: one row maps a token's hash to a tenant and a project.

Receivers sit outside the tenant prefix (`/ingest/...`), so the token is what selects the
tenant's schema and the project. Only the SHA-256 of a token is stored (tokens are 256 random
bits, so a fast hash is enough); `prefix` lets people tell their tokens apart.

The package sits in apps.ingestion, below the receivers that check tokens (apps.streams and
apps.deploys, siblings that may not import each other); its app label is still `stream_tokens`,
so the tables kept their names. The streams' other public-schema rows live here too: a tenant's drain lane (one drain task in
the queue per tenant) and its quota bucket, both read before any tenant schema is entered.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models

from apps.tenants.models import Tenant


class Scope(models.TextChoices):
    """What a token may send. A token with no scopes (the default) may send all of them."""

    LOGS = "logs", "Logs (OTLP, Loki, Elasticsearch, Splunk HEC, HTTP, syslog)"
    DEPLOYS = "deploys", "Deploy markers"
    ALERTS = "alerts", "Alerts (Alertmanager, Grafana)"


class IngestToken(models.Model):
    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="ingest_tokens")
    # The project lives in the tenant's schema: its id and slug are plain copies, no constraint.
    project_id = models.BigIntegerField()
    project_slug = models.CharField(max_length=80)
    name = models.CharField(max_length=100, blank=True)
    # Comma-separated `Scope` values; empty: every scope.
    scopes = models.CharField(max_length=100, blank=True, default="")
    token_hash = models.CharField(max_length=64, unique=True)
    prefix = models.CharField(max_length=16)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["tenant", "project_id"], name="ingest_token_project")]

    def __str__(self) -> str:
        label = self.name or self.prefix
        return f"{label} ({self.tenant_id}/{self.project_slug})"

    @property
    def is_revoked(self) -> bool:
        return self.revoked_at is not None

    @property
    def scope_list(self) -> list[str]:
        """The token's scopes; every scope when none was chosen."""
        return [s for s in self.scopes.split(",") if s] or list(Scope.values)

    def allows(self, scope: str) -> bool:
        return scope in self.scope_list


class DrainLane(models.Model):
    """A tenant whose stream drain task is in django-q2 (apps.streams.draining): at most one
    per tenant, so tenants take turns in the queue. Deleted when the drain finds nothing left."""

    tenant = models.OneToOneField(
        Tenant, on_delete=models.CASCADE, primary_key=True, related_name="+"
    )
    dispatched_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"drain of {self.tenant_id} since {self.dispatched_at:%H:%M:%S}"


class QuotaBucket(models.Model):
    """A tenant's token bucket of streamed records (apps.streams.quotas): `tokens` as of
    `updated_at`, refilled at STREAM_TENANT_RATE per second up to STREAM_TENANT_BURST."""

    tenant = models.OneToOneField(
        Tenant, on_delete=models.CASCADE, primary_key=True, related_name="+"
    )
    tokens = models.FloatField()
    updated_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"quota of {self.tenant_id}: {self.tokens:.0f}"
