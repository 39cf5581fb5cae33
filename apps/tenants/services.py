"""Write-side use cases for tenants and memberships. Every change lands in the audit log."""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.core.mail import send_mail
from django.db import IntegrityError, transaction
from django.utils import timezone

from apps.tenants.models import AuditEvent, Domain, Invitation, Membership, Role, Tenant

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
    stored = Tenant.objects.select_for_update().values_list("is_active", flat=True)
    tenant.is_active = active
    if stored.get(pk=tenant.pk) == active:
        return
    Tenant.objects.filter(pk=tenant.pk).update(is_active=active)
    action = AuditEvent.Action.TENANT_ACTIVATED if active else AuditEvent.Action.TENANT_DEACTIVATED
    _audit(action, actor=actor, tenant=tenant)


@transaction.atomic
def rename_tenant(*, tenant: Tenant, name: str, actor=None) -> None:
    name = name.strip()
    if not name:
        raise MembershipError("A tenant needs a name.")
    old = Tenant.objects.select_for_update().values_list("name", flat=True).get(pk=tenant.pk)
    tenant.name = name
    if old == name:
        return
    Tenant.objects.filter(pk=tenant.pk).update(name=name)
    _audit(AuditEvent.Action.TENANT_RENAMED, actor=actor, tenant=tenant, old=old, new=name)


# --- members ----------------------------------------------------------------------------------


class MembershipError(Exception):
    """A membership change that is not allowed; the message is shown to the person asking."""


LAST_OWNER_MESSAGE = (
    "{user} is the last owner of {tenant}: make someone else owner first, "
    "a team cannot be left without an owner."
)


def _lock_owners(tenant_id: int) -> list[int]:
    """Lock the tenant's owner rows (so two concurrent demotions cannot both pass) and
    return their user ids."""
    return list(
        Membership.objects.select_for_update()
        .filter(tenant_id=tenant_id, role=Role.OWNER)
        .order_by("pk")
        .values_list("user_id", flat=True)
    )


def _refuse_last_owner(membership: Membership, owners: list[int]) -> None:
    if membership.role == Role.OWNER and owners == [membership.user_id]:
        raise MembershipError(
            LAST_OWNER_MESSAGE.format(
                user=membership.user.get_username(), tenant=membership.tenant.name
            )
        )


def is_last_owner(membership: Membership) -> bool:
    """Whether this stored membership is its tenant's only owner (a read, no lock)."""
    owners = Membership.objects.filter(tenant_id=membership.tenant_id, role=Role.OWNER)
    return list(owners.values_list("pk", flat=True)[:2]) == [membership.pk]


def _current(membership: Membership) -> Membership:
    """The stored row, locked: forms may have changed the instance in memory already."""
    try:
        return (
            Membership.objects.select_for_update(of=("self",))
            .select_related("tenant", "user")
            .get(pk=membership.pk)
        )
    except Membership.DoesNotExist:
        raise MembershipError("This person is no longer a member.") from None


@transaction.atomic
def add_member(*, tenant: Tenant, user, role: str = Role.MEMBER, actor=None) -> Membership:
    Role(role)
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
        membership.role = role
    return membership


@transaction.atomic
def change_role(*, membership: Membership, role: str, actor=None) -> None:
    """Give a member another role. The last owner keeps theirs (MembershipError)."""
    role = Role(role)
    owners = _lock_owners(membership.tenant_id)  # first, always: one lock order, no deadlock
    current = _current(membership)
    old = current.role
    if old == role:
        membership.role = role
        return
    _refuse_last_owner(current, owners)
    Membership.objects.filter(pk=current.pk).update(role=role)
    membership.role = role
    _audit(
        AuditEvent.Action.ROLE_CHANGED,
        actor=actor,
        tenant=current.tenant,
        user=current.user.get_username(),
        old=old,
        new=role.value,
    )


@transaction.atomic
def remove_member(*, membership: Membership, actor=None) -> None:
    """Take a member out of the tenant. The last owner stays (MembershipError)."""
    owners = _lock_owners(membership.tenant_id)
    current = _current(membership)
    _refuse_last_owner(current, owners)
    _audit(
        AuditEvent.Action.MEMBER_REMOVED,
        actor=actor,
        tenant=current.tenant,
        user=current.user.get_username(),
        role=current.role,
    )
    current.delete()


@transaction.atomic
def delete_user(*, user, actor=None) -> None:
    """Delete an account, taking it out of every tenant first: each removal is audited, and an
    account that is some tenant's last owner is refused (MembershipError), as for removals."""
    for membership in Membership.objects.filter(user=user).select_related("tenant", "user"):
        remove_member(membership=membership, actor=actor)
    user.delete()


# --- invitations ------------------------------------------------------------------------------


class InvitationError(Exception):
    """An invitation that cannot be sent or used; the message says why. `status` is the
    HTTP status the accept page answers with (410: expired, used or revoked)."""

    status = 410


class UnknownInvitation(InvitationError):
    status = 404


class WrongAccount(InvitationError):
    status = 403


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@transaction.atomic
def invite(*, tenant: Tenant, email: str, role: str, actor) -> tuple[Invitation, str]:
    """Create an invitation and return it with its token (shown once: only a hash is kept).

    The caller sends the link (send_invitation) after this transaction has committed.
    """
    role = Role(role)
    email = User.objects.normalize_email(email.strip())
    if Membership.objects.filter(tenant=tenant, user__email__iexact=email).exists():
        raise InvitationError(f"Someone with the address {email} is already a member.")
    now = timezone.now()
    pending = Invitation.objects.filter(
        tenant=tenant,
        email__iexact=email,
        accepted_at=None,
        revoked_at=None,
        expires_at__gt=now,
    )
    if pending.exists():
        raise InvitationError(
            f"{email} already has a pending invitation: revoke it first to send a new one."
        )
    token = secrets.token_urlsafe(32)
    invitation = Invitation.objects.create(
        tenant=tenant,
        email=email,
        role=role,
        token_hash=token_hash(token),
        invited_by=actor if getattr(actor, "pk", None) else None,
        expires_at=now + timedelta(seconds=settings.INVITATION_MAX_AGE),
    )
    _audit(AuditEvent.Action.INVITE_SENT, actor=actor, tenant=tenant, email=email, role=role.value)
    return invitation, token


def send_invitation(*, invitation: Invitation, accept_url: str) -> None:
    """Mail the link through Django's mail backend (console by default, SMTP by settings)."""
    inviter = invitation.invited_by.get_username() if invitation.invited_by else "An admin"
    expires = timezone.localtime(invitation.expires_at)
    body = (
        f"{inviter} invites you to join the team {invitation.tenant.name} on AI Ops Assistant "
        f"as {Role(invitation.role).label.lower()}.\n\n"
        f"Open this link to accept (it works once, until {expires:%Y-%m-%d %H:%M %Z}):\n"
        f"{accept_url}\n\n"
        "If you did not expect this e-mail, ignore it: nothing happens without the link.\n"
    )
    send_mail(
        subject=f"Join {invitation.tenant.name} on AI Ops Assistant",
        message=body,
        from_email=None,  # DEFAULT_FROM_EMAIL
        recipient_list=[invitation.email],
    )


def invitation_for_token(token: str) -> Invitation:
    """The pending invitation of a link, or InvitationError saying why it cannot be used."""
    invitation = (
        Invitation.objects.select_related("tenant", "invited_by")
        .filter(token_hash=token_hash(token))
        .first()
    )
    if invitation is None:
        raise UnknownInvitation(
            "This invitation link is not valid. Check that you copied the whole link, "
            "or ask for a new invitation."
        )
    _check_usable(invitation)
    return invitation


def _check_usable(invitation: Invitation) -> None:
    status = invitation.status_at(timezone.now())
    if status == Invitation.Status.ACCEPTED:
        raise InvitationError("This invitation has already been used. Sign in to continue.")
    if status == Invitation.Status.REVOKED:
        raise InvitationError("This invitation was withdrawn. Ask the team's owner for a new one.")
    if status == Invitation.Status.EXPIRED:
        raise InvitationError("This invitation has expired. Ask the team's owner for a new one.")
    if not invitation.tenant.is_active:
        raise InvitationError("This team is not active any more.")


def email_matches(invitation: Invitation, user) -> bool:
    return bool(user.email) and user.email.strip().lower() == invitation.email.lower()


@transaction.atomic
def accept_invitation(*, token: str, user) -> Membership:
    """Join the tenant with the invited role. Single use: the row is locked and marked.

    Rule for signed-in accounts: the account's e-mail must be the invited address, so a
    forwarded or leaked link cannot be taken by another existing account.
    """
    invitation = (
        Invitation.objects.select_for_update(of=("self",))
        .select_related("tenant")
        .filter(token_hash=token_hash(token))
        .first()
    )
    if invitation is None:
        raise UnknownInvitation("This invitation link is not valid.")
    _check_usable(invitation)
    if not email_matches(invitation, user):
        raise WrongAccount(
            f"This invitation was sent to {invitation.email}, and your account has another "
            "address. Sign out and accept it with a new account, or ask the owner to invite "
            "the address of your account."
        )
    invitation.accepted_at = timezone.now()
    invitation.accepted_by = user
    invitation.save(update_fields=["accepted_at", "accepted_by"])
    membership = Membership.objects.filter(tenant=invitation.tenant, user=user).first()
    if membership is None:
        membership = add_member(
            tenant=invitation.tenant, user=user, role=invitation.role, actor=user
        )
    _audit(
        AuditEvent.Action.INVITE_ACCEPTED,
        actor=user,
        tenant=invitation.tenant,
        email=invitation.email,
        user=user.get_username(),
        role=membership.role,
    )
    return membership


@transaction.atomic
def sign_up_and_accept(*, token: str, username: str, password: str):
    """Create an account for the invited address and accept the invitation with it."""
    invitation = invitation_for_token(token)
    user = User.objects.create_user(username=username, email=invitation.email, password=password)
    accept_invitation(token=token, user=user)
    return user


@transaction.atomic
def revoke_invitation(*, invitation: Invitation, actor) -> None:
    locked = Invitation.objects.select_for_update().get(pk=invitation.pk)
    if locked.accepted_at or locked.revoked_at:
        raise InvitationError("This invitation is no longer pending.")
    locked.revoked_at = timezone.now()
    locked.save(update_fields=["revoked_at"])
    invitation.revoked_at = locked.revoked_at
    _audit(
        AuditEvent.Action.INVITE_REVOKED,
        actor=actor,
        tenant=invitation.tenant,
        email=locked.email,
        role=locked.role,
    )


def ensure_public_tenant() -> Tenant:
    """The public schema's row, which django-tenants needs to route public pages."""
    tenant = Tenant.objects.filter(schema_name="public").first()
    if tenant is None:
        tenant = Tenant(schema_name="public", name="Platform", slug="public")
        tenant.auto_create_schema = False
        try:
            with transaction.atomic():
                tenant.save()
        except IntegrityError:  # another process created it meanwhile: use theirs
            tenant = Tenant.objects.get(schema_name="public")
    return tenant
