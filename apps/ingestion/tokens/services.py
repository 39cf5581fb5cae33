"""Create, check and revoke ingest tokens."""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta

from django.db import models, transaction
from django.utils import timezone

from apps.incidents.models import Project
from apps.ingestion.tokens.models import IngestToken, Scope
from apps.tenants.models import Tenant

TOKEN_PREFIX = "aiops_"  # noqa: S105 (a marker for secret scanners, not a secret)
# `last_used_at` is written at most this often per token: not one UPDATE per request.
LAST_USED_RESOLUTION = timedelta(minutes=1)


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


@transaction.atomic
def create_token(
    *,
    tenant: Tenant,
    project: Project,
    name: str = "",
    scopes: tuple[str, ...] | list[str] = (),
    created_by=None,
) -> tuple[IngestToken, str]:
    """A new token for `project` (of `tenant`), limited to `scopes` (none: every scope); the
    plain token is returned once, never stored."""
    unknown = set(scopes) - set(Scope.values)
    if unknown:
        raise ValueError(f"unknown token scopes: {sorted(unknown)}")
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    row = IngestToken.objects.create(
        tenant=tenant,
        project_id=project.pk,
        project_slug=project.slug,
        name=name,
        scopes=",".join(s for s in Scope.values if s in scopes and len(scopes) < len(Scope)),
        token_hash=hash_token(token),
        prefix=token[: len(TOKEN_PREFIX) + 6],
        created_by=created_by,
    )
    return row, token


def authenticate(token: str | None, scope: str | None = None) -> IngestToken | None:
    """The live token row for a presented token, or None (unknown, revoked, tenant inactive,
    or not allowed `scope` when one is given)."""
    if not token or len(token) > 200:
        return None
    row = (
        IngestToken.objects.select_related("tenant")
        .filter(token_hash=hash_token(token), revoked_at__isnull=True, tenant__is_active=True)
        .first()
    )
    if row is None or (scope is not None and not row.allows(scope)):
        return None
    now = timezone.now()
    if row.last_used_at is None or row.last_used_at < now - LAST_USED_RESOLUTION:
        IngestToken.objects.filter(pk=row.pk).update(last_used_at=now)
        row.last_used_at = now
    return row


def revoke_token(*, token: IngestToken) -> bool:
    """Revoke a live token; whether it was live."""
    return bool(
        IngestToken.objects.filter(pk=token.pk, revoked_at__isnull=True).update(
            revoked_at=timezone.now()
        )
    )


def project_tokens(*, tenant: Tenant, project: Project) -> list[IngestToken]:
    """A project's tokens, live first, newest first (public schema; one query)."""
    rows = IngestToken.objects.filter(tenant=tenant, project_id=project.pk)
    return list(rows.order_by(models.F("revoked_at").desc(nulls_first=True), "-created_at"))
