"""Tenants (teams), their routing entries, memberships and the platform audit log.

All of this lives in the public schema. A tenant's own data lives in its schema.
"""

from __future__ import annotations

from django.conf import settings
from django.core.validators import RegexValidator
from django.db import models
from django_tenants.models import DomainMixin, TenantMixin

slug_validator = RegexValidator(
    r"^[a-z][a-z0-9-]{1,40}$",
    "2–41 characters: lowercase letters, digits and hyphens, starting with a letter.",
)


class Tenant(TenantMixin):
    name = models.CharField(max_length=100)
    slug = models.CharField(max_length=41, unique=True, validators=[slug_validator])
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    auto_create_schema = True
    auto_drop_schema = True

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    @property
    def url_prefix(self) -> str:
        return f"/{settings.TENANT_SUBFOLDER_PREFIX}/{self.slug}/"


class Domain(DomainMixin):
    """With subfolder routing, `domain` holds the tenant's slug (the /t/<slug>/ part)."""

    def __str__(self) -> str:
        return self.domain


class Role(models.TextChoices):
    OWNER = "owner", "Owner"
    MEMBER = "member", "Member"
    VIEWER = "viewer", "Viewer"


ROLE_RANK = {Role.VIEWER: 0, Role.MEMBER: 1, Role.OWNER: 2}


class Membership(models.Model):
    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="memberships")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships"
    )
    role = models.CharField(max_length=10, choices=Role.choices, default=Role.MEMBER)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["tenant", "user"], name="one_membership_per_tenant")
        ]
        ordering = ["tenant__name", "user__username"]

    def __str__(self) -> str:
        return f"{self.user} in {self.tenant} ({self.role})"

    def allows(self, role: str) -> bool:
        return ROLE_RANK[Role(self.role)] >= ROLE_RANK[Role(role)]


class AuditEvent(models.Model):
    class Action(models.TextChoices):
        TENANT_CREATED = "tenant.created", "Tenant created"
        TENANT_DELETED = "tenant.deleted", "Tenant deleted"
        TENANT_DEACTIVATED = "tenant.deactivated", "Tenant deactivated"
        TENANT_ACTIVATED = "tenant.activated", "Tenant activated"
        MEMBER_ADDED = "member.added", "Member added"
        MEMBER_REMOVED = "member.removed", "Member removed"
        ROLE_CHANGED = "member.role_changed", "Role changed"
        TENANT_RENAMED = "tenant.renamed", "Tenant renamed"
        INVITE_SENT = "invite.sent", "Invitation sent"
        INVITE_ACCEPTED = "invite.accepted", "Invitation accepted"
        INVITE_REVOKED = "invite.revoked", "Invitation revoked"

    action = models.CharField(max_length=40, choices=Action.choices)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # Plain copies, not foreign keys: the record outlives the tenant it describes.
    tenant_slug = models.CharField(max_length=41, blank=True)
    tenant_schema = models.CharField(max_length=63, blank=True)
    detail = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["tenant_slug", "-created_at"])]

    def __str__(self) -> str:
        return f"{self.created_at:%Y-%m-%d %H:%M} {self.action} {self.tenant_slug}"

    @property
    def subject(self) -> str:
        """To whom it was done: a username, an invited address, or the tenant itself."""
        return self.detail.get("user") or self.detail.get("email") or ""

    @property
    def change(self) -> str:
        """What changed, in a few words: a role, old → new, or a name."""
        detail = self.detail
        if "old" in detail and "new" in detail:
            return f"{detail['old']} → {detail['new']}"
        return detail.get("role") or ""


class Invitation(models.Model):
    """An invitation to join a tenant, sent to an e-mail address (apps.tenants.services).

    The link carries a random token; only its SHA-256 is stored, so a leaked table gives no
    usable link. Single use: accepting sets `accepted_at` under a row lock.
    """

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        ACCEPTED = "accepted", "Accepted"
        REVOKED = "revoked", "Revoked"
        EXPIRED = "expired", "Expired"

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="invitations")
    email = models.EmailField()
    role = models.CharField(max_length=10, choices=Role.choices, default=Role.MEMBER)
    token_hash = models.CharField(max_length=64, unique=True)
    invited_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField()
    accepted_at = models.DateTimeField(null=True, blank=True)
    accepted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["tenant", "accepted_at", "revoked_at"])]

    def __str__(self) -> str:
        return f"invitation of {self.email} to {self.tenant_id} ({self.role})"

    def status_at(self, now) -> Status:
        if self.accepted_at:
            return self.Status.ACCEPTED
        if self.revoked_at:
            return self.Status.REVOKED
        if self.expires_at <= now:
            return self.Status.EXPIRED
        return self.Status.PENDING


class IngestTicket(models.Model):
    """One ingest job of a tenant, waiting for or handed to django-q2 (apps.ingestion.scheduling).

    Lives in the public schema so one dispatcher sees every tenant's queue. Created in the
    upload's transaction; deleted once its job has ended.
    """

    class State(models.TextChoices):
        WAITING = "waiting", "Waiting"
        DISPATCHED = "dispatched", "Dispatched"

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="ingest_tickets")
    job_id = models.BigIntegerField()  # IngestJob.pk in the tenant's schema
    state = models.CharField(max_length=10, choices=State.choices, default=State.WAITING)
    created_at = models.DateTimeField(auto_now_add=True)
    dispatched_at = models.DateTimeField(null=True, blank=True)
    dispatches = models.PositiveIntegerField(default=0)  # > 1: handed over again (lost worker)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["tenant", "job_id"], name="one_ticket_per_ingest_job")
        ]
        indexes = [models.Index(fields=["state", "tenant", "created_at"])]
        ordering = ["created_at", "pk"]

    def __str__(self) -> str:
        return f"ingest job {self.job_id} of {self.tenant_id} ({self.state})"


class IngestLane(models.Model):
    """When a tenant last had an ingest job handed to django-q2: round-robin order."""

    tenant = models.OneToOneField(
        Tenant, on_delete=models.CASCADE, primary_key=True, related_name="ingest_lane"
    )
    served_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"{self.tenant_id} served {self.served_at:%H:%M:%S}"
