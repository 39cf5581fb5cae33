"""Team services: role changes and removals (with the last-owner rule), invitations."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.core import mail
from django.utils import timezone

from apps.tenants import services
from apps.tenants.models import AuditEvent, Invitation, Membership, Role

OW, ME, VI = Role.OWNER, Role.MEMBER, Role.VIEWER


def _audit(action, tenant):
    return AuditEvent.objects.filter(action=action, tenant_slug=tenant.slug)


# (owners in the tenant before, the target's role, the new role, allowed?)
ROLE_CHANGES = [
    (1, OW, ME, False),  # the last owner cannot be demoted
    (1, OW, VI, False),
    (1, OW, OW, True),  # no change is fine
    (2, OW, ME, True),  # another owner is left
    (2, OW, VI, True),
    (1, ME, OW, True),  # promotions are always fine
    (1, ME, VI, True),
    (1, VI, ME, True),
    (1, VI, OW, True),
]


@pytest.mark.parametrize(("owners", "before", "after", "allowed"), ROLE_CHANGES)
def test_role_change_table(personas, owners, before, after, allowed):
    alpha = personas.alpha
    if owners == 2:
        Membership.objects.filter(tenant=alpha, user=personas.member).update(role=OW)
    target = Membership.objects.get(
        tenant=alpha, user=personas.owner if before == OW else personas.viewer
    )
    Membership.objects.filter(pk=target.pk).update(role=before)
    target.refresh_from_db()
    audits = _audit(AuditEvent.Action.ROLE_CHANGED, alpha).count()
    if allowed:
        services.change_role(membership=target, role=after, actor=personas.owner)
        target.refresh_from_db()
        assert target.role == after
        assert _audit(AuditEvent.Action.ROLE_CHANGED, alpha).count() == audits + (before != after)
    else:
        with pytest.raises(services.MembershipError, match="last owner"):
            services.change_role(membership=target, role=after, actor=personas.owner)
        target.refresh_from_db()
        assert target.role == before
        assert _audit(AuditEvent.Action.ROLE_CHANGED, alpha).count() == audits


def test_role_change_reads_the_stored_role_not_the_instance(personas):
    """A form may have set the new role on the instance already (the admin inline does)."""
    target = Membership.objects.get(tenant=personas.alpha, user=personas.member)
    target.role = VI  # what construct_instance does before the service is called
    services.change_role(membership=target, role=VI, actor=personas.owner)
    event = _audit(AuditEvent.Action.ROLE_CHANGED, personas.alpha).latest("pk")
    assert event.detail == {"user": "bob", "old": "member", "new": "viewer"}


@pytest.mark.parametrize(
    ("owners", "role", "allowed"),
    [(1, OW, False), (2, OW, True), (1, ME, True), (1, VI, True)],
)
def test_remove_table(personas, owners, role, allowed):
    alpha = personas.alpha
    if owners == 2:
        Membership.objects.filter(tenant=alpha, user=personas.member).update(role=OW)
    user = personas.owner if role == OW else personas.viewer
    target = Membership.objects.get(tenant=alpha, user=user)
    Membership.objects.filter(pk=target.pk).update(role=role)
    if allowed:
        services.remove_member(membership=target, actor=personas.owner)
        assert not Membership.objects.filter(pk=target.pk).exists()
        event = _audit(AuditEvent.Action.MEMBER_REMOVED, alpha).latest("pk")
        assert event.detail["user"] == user.username
        assert event.actor == personas.owner
    else:
        with pytest.raises(services.MembershipError, match="last owner"):
            services.remove_member(membership=target, actor=personas.owner)
        assert Membership.objects.filter(pk=target.pk).exists()


def test_last_owner_is_per_tenant(personas):
    """charlie owns beta alone; alice owning alpha does not make him removable."""
    target = Membership.objects.get(tenant=personas.beta, user=personas.outsider)
    with pytest.raises(services.MembershipError):
        services.remove_member(membership=target, actor=None)
    assert services.is_last_owner(target)
    assert not services.is_last_owner(
        Membership.objects.get(tenant=personas.alpha, user=personas.member)
    )


# --- invitations ------------------------------------------------------------------------------


def test_invite_stores_only_a_hash_and_expires_after_the_setting(personas, settings):
    settings.INVITATION_MAX_AGE = 3600
    invitation, token = services.invite(
        tenant=personas.alpha, email="New@Example.com", role=ME, actor=personas.owner
    )
    assert token not in invitation.token_hash and len(token) >= 40
    assert invitation.token_hash == services.token_hash(token)
    assert invitation.email == "New@example.com"  # domain part normalised
    left = invitation.expires_at - timezone.now()
    assert timedelta(minutes=59) < left <= timedelta(hours=1)
    event = _audit(AuditEvent.Action.INVITE_SENT, personas.alpha).get()
    assert event.actor == personas.owner and event.detail["email"] == "New@example.com"


def test_send_invitation_mails_the_link(personas):
    invitation, token = services.invite(
        tenant=personas.alpha, email="new@example.com", role=VI, actor=personas.owner
    )
    services.send_invitation(invitation=invitation, accept_url=f"http://x/invite/{token}/")
    (message,) = mail.outbox
    assert message.to == ["new@example.com"]
    assert f"http://x/invite/{token}/" in message.body
    assert "Alpha" in message.subject and "viewer" in message.body


def test_invite_refuses_members_and_duplicates(personas):
    personas.member.email = "bob@example.com"
    personas.member.save()
    with pytest.raises(services.InvitationError, match="already a member"):
        services.invite(tenant=personas.alpha, email="BOB@example.com", role=ME, actor=None)
    services.invite(tenant=personas.alpha, email="x@example.com", role=ME, actor=None)
    with pytest.raises(services.InvitationError, match="pending invitation"):
        services.invite(tenant=personas.alpha, email="X@example.com", role=VI, actor=None)
    # another tenant may invite the same address
    services.invite(tenant=personas.beta, email="x@example.com", role=ME, actor=None)


def test_sign_up_and_accept_is_single_use(personas):
    _, token = services.invite(
        tenant=personas.alpha, email="new@example.com", role=VI, actor=personas.owner
    )
    user = services.sign_up_and_accept(token=token, username="newbie", password="s3cret-pass-1")
    membership = Membership.objects.get(tenant=personas.alpha, user=user)
    assert membership.role == VI and user.email == "new@example.com"
    assert user.check_password("s3cret-pass-1")
    with pytest.raises(services.InvitationError, match="already been used"):
        services.sign_up_and_accept(token=token, username="newbie2", password="s3cret-pass-1")
    with pytest.raises(services.InvitationError, match="already been used"):
        services.accept_invitation(token=token, user=user)
    assert not get_user_model().objects.filter(username="newbie2").exists()
    accepted = _audit(AuditEvent.Action.INVITE_ACCEPTED, personas.alpha).get()
    assert accepted.actor == user and accepted.detail["email"] == "new@example.com"


def test_existing_account_must_have_the_invited_address(personas):
    _, token = services.invite(
        tenant=personas.alpha, email="charlie@example.com", role=ME, actor=personas.owner
    )
    with pytest.raises(services.WrongAccount):
        services.accept_invitation(token=token, user=personas.outsider)  # no e-mail set
    personas.outsider.email = "Charlie@Example.com"
    personas.outsider.save()
    services.accept_invitation(token=token, user=personas.outsider)
    assert Membership.objects.get(tenant=personas.alpha, user=personas.outsider).role == ME


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"expires_at": timezone.now() - timedelta(seconds=1)}, "expired"),
        ({"revoked_at": timezone.now()}, "withdrawn"),
        ({"accepted_at": timezone.now()}, "already been used"),
    ],
)
def test_unusable_invitations(personas, change, message):
    invitation, token = services.invite(
        tenant=personas.alpha, email="late@example.com", role=ME, actor=None
    )
    Invitation.objects.filter(pk=invitation.pk).update(**change)
    with pytest.raises(services.InvitationError, match=message) as raised:
        services.invitation_for_token(token)
    assert raised.value.status == 410
    with pytest.raises(services.InvitationError, match=message):
        services.sign_up_and_accept(token=token, username="late", password="s3cret-pass-1")
    assert not get_user_model().objects.filter(username="late").exists()


def test_tampered_token_is_unknown(personas):
    _, token = services.invite(tenant=personas.alpha, email="t@example.com", role=ME, actor=None)
    tampered = token[:-1] + ("A" if token[-1] != "A" else "B")
    with pytest.raises(services.UnknownInvitation):
        services.invitation_for_token(tampered)


def test_revoke(personas):
    invitation, token = services.invite(
        tenant=personas.alpha, email="r@example.com", role=ME, actor=None
    )
    services.revoke_invitation(invitation=invitation, actor=personas.owner)
    with pytest.raises(services.InvitationError, match="no longer pending"):
        services.revoke_invitation(invitation=invitation, actor=personas.owner)
    with pytest.raises(services.InvitationError, match="withdrawn"):
        services.invitation_for_token(token)
    event = _audit(AuditEvent.Action.INVITE_REVOKED, personas.alpha).get()
    assert event.actor == personas.owner and event.detail["email"] == "r@example.com"


def test_rename_and_deactivate_are_audited(personas):
    services.rename_tenant(tenant=personas.beta, name="Beta Renamed", actor=personas.outsider)
    services.rename_tenant(tenant=personas.beta, name="Beta Renamed", actor=personas.outsider)
    (event,) = _audit(AuditEvent.Action.TENANT_RENAMED, personas.beta)
    assert event.detail == {"old": "Beta", "new": "Beta Renamed"}
    services.set_tenant_active(tenant=personas.beta, active=False, actor=None)
    personas.beta.refresh_from_db()
    assert not personas.beta.is_active
    assert _audit(AuditEvent.Action.TENANT_DEACTIVATED, personas.beta).count() == 1
