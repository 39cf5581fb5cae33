"""Create, check and revoke ingest tokens."""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta

from django.db import transaction
from django.utils import timezone

from apps.incidents.models import Project
from apps.ingestion.tokens.models import IngestToken
from apps.tenants.models import Tenant

TOKEN_PREFIX = "aiops_"  # noqa: S105 (a marker for secret scanners, not a secret)
# `last_used_at` is written at most this often per token: not one UPDATE per request.
LAST_USED_RESOLUTION = timedelta(minutes=1)


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


@transaction.atomic
def create_token(
    *, tenant: Tenant, project: Project, name: str = "", created_by=None
) -> tuple[IngestToken, str]:
    """A new token for `project` (of `tenant`); the plain token is returned once, never stored."""
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    row = IngestToken.objects.create(
        tenant=tenant,
        project_id=project.pk,
        project_slug=project.slug,
        name=name,
        token_hash=hash_token(token),
        prefix=token[: len(TOKEN_PREFIX) + 6],
        created_by=created_by,
    )
    return row, token


def authenticate(token: str | None) -> IngestToken | None:
    """The live token row for a presented token, or None (unknown, revoked, tenant inactive)."""
    if not token or len(token) > 200:
        return None
    row = (
        IngestToken.objects.select_related("tenant")
        .filter(token_hash=hash_token(token), revoked_at__isnull=True, tenant__is_active=True)
        .first()
    )
    if row is None:
        return None
    now = timezone.now()
    if row.last_used_at is None or row.last_used_at < now - LAST_USED_RESOLUTION:
        IngestToken.objects.filter(pk=row.pk).update(last_used_at=now)
        row.last_used_at = now
    return row


def revoke_token(*, token: IngestToken) -> None:
    IngestToken.objects.filter(pk=token.pk, revoked_at__isnull=True).update(
        revoked_at=timezone.now()
    )
