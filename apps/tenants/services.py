"""Write-side use cases for tenants and memberships. Every change lands in the audit log."""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction

from apps.tenants.models import AuditEvent, Domain, Membership, Role, Tenant

User = get_user_model()


def schema_name_for(slug: str) -> str:
    return "t_" + slug.replace("-", "_")


def _audit(action: str, *, actor, tenant: Tenant, **detail) -> None:
    AuditEvent.objects.create(
        action=action,
        actor=actor if getattr(actor, "pk", None) else None,
        tenant_slug=tenant.slug,
        tenant_schema=tenant.schema_name,
        detail=detail,
    )


@transaction.atomic
def create_tenant(
    *,
    name: str,
    slug: str,
    owner_username: str,
    owner_email: str = "",
    owner_password: str | None = None,
    actor: AbstractBaseUser | None = None,
) -> Tenant:
    """Create the tenant, its schema (migrated), its /t/<slug>/ routing entry and its owner.

    The owner is an existing user (by username) or a new one; a new user without a password
    gets an unusable one (the admin sets it, or the user resets it).
    """
    tenant = Tenant(name=name, slug=slug, schema_name=schema_name_for(slug))
    tenant.full_clean()
    tenant.save(verbosity=0)  # auto_create_schema: creates and migrates the schema
    Domain.objects.create(tenant=tenant, domain=slug, is_primary=True)
    owner, created = User.objects.get_or_create(
        username=owner_username, defaults={"email": owner_email}
    )
    if created:
        if owner_password:
            owner.set_password(owner_password)
        else:
            owner.set_unusable_password()
        owner.save()
    Membership.objects.create(tenant=tenant, user=owner, role=Role.OWNER)
    _audit(
        AuditEvent.Action.TENANT_CREATED,
        actor=actor,
        tenant=tenant,
        name=name,
        owner=owner.get_username(),
        owner_created=created,
    )
    return tenant


@transaction.atomic
def delete_tenant(*, tenant: Tenant, actor: AbstractBaseUser | None = None) -> None:
    """Delete the tenant and drop its schema (all its incidents and events)."""
    _audit(AuditEvent.Action.TENANT_DELETED, actor=actor, tenant=tenant, name=tenant.name)
    tenant.delete(force_drop=True)


@transaction.atomic
def set_tenant_active(*, tenant: Tenant, active: bool, actor=None) -> None:
    if tenant.is_active == active:
        return
    Tenant.objects.filter(pk=tenant.pk).update(is_active=active)
    tenant.is_active = active
    action = AuditEvent.Action.TENANT_ACTIVATED if active else AuditEvent.Action.TENANT_DEACTIVATED
    _audit(action, actor=actor, tenant=tenant)


@transaction.atomic
def add_member(*, tenant: Tenant, user, role: str = Role.MEMBER, actor=None) -> Membership:
    membership, created = Membership.objects.get_or_create(
        tenant=tenant, user=user, defaults={"role": role}
    )
    if created:
        _audit(
            AuditEvent.Action.MEMBER_ADDED,
            actor=actor,
            tenant=tenant,
            user=user.get_username(),
            role=role,
        )
    elif membership.role != role:
        change_role(membership=membership, role=role, actor=actor)
    return membership


@transaction.atomic
def change_role(*, membership: Membership, role: str, actor=None) -> None:
    old = membership.role
    membership.role = role
    membership.save(update_fields=["role"])
    _audit(
        AuditEvent.Action.ROLE_CHANGED,
        actor=actor,
        tenant=membership.tenant,
        user=membership.user.get_username(),
        old=old,
        new=role,
    )


@transaction.atomic
def remove_member(*, membership: Membership, actor=None) -> None:
    _audit(
        AuditEvent.Action.MEMBER_REMOVED,
        actor=actor,
        tenant=membership.tenant,
        user=membership.user.get_username(),
    )
    membership.delete()


def ensure_public_tenant() -> Tenant:
    """The public schema's row, which django-tenants needs to route public pages."""
    tenant = Tenant.objects.filter(schema_name="public").first()
    if tenant is None:
        tenant = Tenant(schema_name="public", name="Platform", slug="public")
        tenant.auto_create_schema = False
        tenant.save()
    return tenant
