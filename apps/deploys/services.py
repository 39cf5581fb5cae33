"""Record deploys (from every sender, through one function) and manage deploy webhooks."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from apps.core import sealing
from apps.core.correlate.markers import Marker
from apps.deploys.hooks.models import DeployHook
from apps.deploys.models import STATUS_RANK, Deploy
from apps.incidents.models import Project
from apps.tenants.models import Tenant


@dataclass(frozen=True, slots=True)
class Recorded:
    deploy: Deploy
    created: bool
    changed: bool  # False: a replay or a retry, nothing new


def record_deploy(
    *, project: Project, marker: Marker, source: str, received_at: datetime | None = None
) -> Recorded:
    """Store a deploy, idempotently: the same sender id (a GitHub deployment) updates its row
    forward only; without one, the same service, version, time and source is the same deploy."""
    started = marker.started_at or received_at or timezone.now()
    fields = {
        "service": marker.service,
        "version": marker.version,
        "environment": marker.environment,
        "status": marker.status,
        "started_at": started,
        "finished_at": marker.finished_at,
        "commit": marker.commit,
        "author": marker.author,
        "url": marker.url,
        "description": marker.description,
    }
    with transaction.atomic():
        rows = Deploy.objects.select_for_update().filter(project=project, source=source)
        if marker.external_id:
            existing = rows.filter(external_id=marker.external_id).first()
        else:
            existing = rows.filter(
                service=marker.service, version=marker.version, started_at=started
            ).first()
        if existing is not None:
            return _update(existing, fields)
        try:
            with transaction.atomic():
                deploy = Deploy.objects.create(
                    project=project, source=source, external_id=marker.external_id, **fields
                )
        except IntegrityError:  # the same sender id, stored meanwhile by a concurrent request
            existing = rows.get(external_id=marker.external_id)
            return _update(existing, fields)
    return Recorded(deploy, created=True, changed=True)


def _update(deploy: Deploy, fields: dict) -> Recorded:
    if STATUS_RANK[fields["status"]] < STATUS_RANK[deploy.status]:
        return Recorded(deploy, created=False, changed=False)  # an older status, replayed
    changed = {k: v for k, v in fields.items() if v not in ("", None) and getattr(deploy, k) != v}
    changed.pop("started_at", None)  # when it started does not move
    if not changed:
        return Recorded(deploy, created=False, changed=False)
    for key, value in changed.items():
        setattr(deploy, key, value)
    deploy.save(update_fields=[*changed, "updated_at"])
    return Recorded(deploy, created=False, changed=True)


def _context(tenant: Tenant) -> str:
    return f"deploy-hook:{tenant.schema_name}"


def create_hook(
    *, tenant: Tenant, project: Project, repository: str, provider: str = "github"
) -> tuple[DeployHook, str]:
    """A webhook for `repository` into `project`; its secret is returned once (for the sender's
    webhook form) and stored sealed. Argo CD names no repository: the secret starts with a key
    of its own (`<key>.<random>`), stored as the repository, that finds the hook."""
    secret = secrets.token_urlsafe(32)
    if provider == DeployHook.Provider.ARGOCD:
        repository = secrets.token_hex(8)
        secret = f"{repository}.{secret}"
    hook = DeployHook.objects.create(
        tenant=tenant,
        project_id=project.pk,
        project_slug=project.slug,
        provider=provider,
        repository=repository.strip().lower(),
        secret_sealed=sealing.seal(secret, secret=settings.SECRET_KEY, context=_context(tenant)),
    )
    return hook, secret


def hook_candidates(provider: str, repository: str) -> list[tuple[DeployHook, str]]:
    """The live hooks for a repository with their secrets (a secret that no longer unseals,
    after a SECRET_KEY change without fallbacks, is skipped)."""
    if not repository:
        return []
    keys = [settings.SECRET_KEY, *getattr(settings, "SECRET_KEY_FALLBACKS", [])]
    out = []
    rows = DeployHook.objects.select_related("tenant").filter(
        provider=provider,
        repository=repository.lower(),
        revoked_at__isnull=True,
        tenant__is_active=True,
    )
    for hook in rows:
        try:
            secret = sealing.unseal(hook.secret_sealed, secrets=keys, context=_context(hook.tenant))
        except sealing.SealError:
            continue
        out.append((hook, secret))
    return out
