"""The Team page, its owner actions, the tenant's audit log and the invitation accept page."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.core import mail
from django.utils import timezone

from apps.tenants import services
from apps.tenants.models import AuditEvent, Invitation, Membership, Role

TEAM = "/t/alpha/team/"


def _membership(personas, user):
    return Membership.objects.get(tenant=personas.alpha, user=user)


# --- who sees what ----------------------------------------------------------------------------


@pytest.mark.parametrize("persona", ["owner", "member", "viewer"])
def test_every_member_sees_the_list(client, personas, persona):
    client.force_login(getattr(personas, persona))
    response = client.get(TEAM)
    assert response.status_code == 200
    body = response.content.decode()
    for name in ("alice", "bob", "vera"):
        assert f'data-testid="member-{name}"' in body
    assert "charlie" not in body  # beta's owner
    assert 'data-testid="nav-team"' in body
    owner_only = ('data-testid="invite-form"', "Change role", 'data-testid="audit-link"')
    for marker in owner_only:
        assert (marker in body) == (persona == "owner"), marker


def test_outsider_and_anonymous_cannot_see_the_team(client, personas):
    client.force_login(personas.outsider)
    assert client.get(TEAM).status_code == 404
    assert client.get("/t/beta/team/").status_code == 200  # his own tenant
    client.logout()
    response = client.get(TEAM)
    assert response.status_code == 302 and "/login/" in response["Location"]


def _owner_posts(personas):
    bob = _membership(personas, personas.member)
    invitation, _ = services.invite(
        tenant=personas.alpha, email="p@example.com", role=Role.MEMBER, actor=None
    )
    return [
        ("team/invite/", {"email": "x@example.com", "role": "member"}),
        (f"team/members/{bob.pk}/role/", {"role": "viewer"}),
        (f"team/members/{bob.pk}/remove/", {}),
        (f"team/invitations/{invitation.pk}/revoke/", {}),
    ]


@pytest.mark.parametrize("persona", ["member", "viewer"])
def test_members_and_viewers_cannot_change_the_team(client, personas, persona):
    client.force_login(getattr(personas, persona))
    for path, data in _owner_posts(personas):
        assert client.post(f"/t/alpha/{path}", data).status_code == 403, path
    assert client.get("/t/alpha/team/audit/").status_code == 403
    assert _membership(personas, personas.member).role == Role.MEMBER
    assert not Invitation.objects.filter(email="x@example.com").exists()
    assert Invitation.objects.get(email="p@example.com").revoked_at is None
    assert mail.outbox == []


def test_other_tenants_owner_cannot_touch_alpha(client, personas):
    """charlie owns beta; alpha's rows are not found through beta's URLs, nor alpha's."""
    posts = _owner_posts(personas)
    client.force_login(personas.outsider)
    for path, data in posts[1:]:
        assert client.post(f"/t/beta/{path}", data).status_code == 404, path
        assert client.post(f"/t/alpha/{path}", data).status_code == 404, path
    assert _membership(personas, personas.member).role == Role.MEMBER
    assert Invitation.objects.get(email="p@example.com").revoked_at is None


def test_get_is_not_allowed_on_actions(client, personas):
    client.force_login(personas.owner)
    bob = _membership(personas, personas.member)
    assert client.get(f"/t/alpha/team/members/{bob.pk}/remove/").status_code == 405


# --- owner actions ----------------------------------------------------------------------------


def test_owner_invites_and_the_mail_carries_a_working_link(client, personas):
    client.force_login(personas.owner)
    response = client.post(TEAM + "invite/", {"email": "dana@example.com", "role": "viewer"})
    assert response.status_code == 302
    (message,) = mail.outbox
    assert message.to == ["dana@example.com"]
    link = next(word for word in message.body.split() if "/invite/" in word)
    assert link.startswith("http://testserver/invite/")
    body = client.get(TEAM).content.decode()
    assert 'data-testid="invitation-dana@example.com"' in body
    client.logout()
    page = client.get(link.removeprefix("http://testserver"))
    assert page.status_code == 200 and "Join Alpha" in page.content.decode()


def test_invite_form_errors(client, personas):
    client.force_login(personas.owner)
    assert (
        client.post(TEAM + "invite/", {"email": "not-an-address", "role": "member"}).status_code
        == 400
    )
    assert (
        client.post(TEAM + "invite/", {"email": "a@example.com", "role": "king"}).status_code == 400
    )
    client.post(TEAM + "invite/", {"email": "a@example.com", "role": "member"})
    again = client.post(TEAM + "invite/", {"email": "A@example.com", "role": "member"})
    assert again.status_code == 400 and "pending invitation" in again.content.decode()
    assert len(mail.outbox) == 1


def test_owner_changes_a_role_and_removes_a_member(client, personas):
    client.force_login(personas.owner)
    bob = _membership(personas, personas.member)
    response = client.post(f"{TEAM}members/{bob.pk}/role/", {"role": "viewer"}, follow=True)
    assert "bob is now viewer" in response.content.decode()
    assert _membership(personas, personas.member).role == Role.VIEWER
    response = client.post(f"{TEAM}members/{bob.pk}/remove/", follow=True)
    assert "bob was removed" in response.content.decode()
    assert not Membership.objects.filter(pk=bob.pk).exists()
    actions = list(
        AuditEvent.objects.filter(tenant_slug="alpha", actor=personas.owner).values_list(
            "action", flat=True
        )
    )
    assert set(actions) == {AuditEvent.Action.ROLE_CHANGED, AuditEvent.Action.MEMBER_REMOVED}


def test_the_last_owner_cannot_demote_or_remove_themselves(client, personas):
    client.force_login(personas.owner)
    alice = _membership(personas, personas.owner)
    response = client.post(f"{TEAM}members/{alice.pk}/role/", {"role": "member"}, follow=True)
    assert "last owner" in response.content.decode()
    response = client.post(f"{TEAM}members/{alice.pk}/remove/", follow=True)
    assert "last owner" in response.content.decode()
    assert _membership(personas, personas.owner).role == Role.OWNER


def test_an_owner_who_leaves_goes_to_the_start_page(client, personas):
    Membership.objects.filter(pk=_membership(personas, personas.member).pk).update(role="owner")
    client.force_login(personas.owner)
    alice = _membership(personas, personas.owner)
    response = client.post(f"{TEAM}members/{alice.pk}/remove/")
    assert response.status_code == 302 and response["Location"] == "/"
    assert client.get(TEAM).status_code == 404


def test_owner_revokes_an_invitation(client, personas):
    invitation, token = services.invite(
        tenant=personas.alpha, email="r@example.com", role=Role.MEMBER, actor=personas.owner
    )
    client.force_login(personas.owner)
    response = client.post(f"{TEAM}invitations/{invitation.pk}/revoke/", follow=True)
    assert "was revoked" in response.content.decode()
    assert 'data-testid="invitation-r@example.com"' not in response.content.decode()
    client.logout()
    page = client.get(f"/invite/{token}/")
    assert page.status_code == 410 and "withdrawn" in page.content.decode()


# --- audit log --------------------------------------------------------------------------------


def test_audit_log_is_paginated_and_per_tenant(client, personas):
    for i in range(30):
        services.invite(
            tenant=personas.alpha, email=f"a{i}@example.com", role=Role.VIEWER, actor=personas.owner
        )
    services.invite(tenant=personas.beta, email="beta-only@example.com", role="member", actor=None)
    client.force_login(personas.owner)
    first = client.get(TEAM + "audit/").content.decode()
    assert first.count("Invitation sent") == 25
    assert "a29@example.com" in first and "beta-only@example.com" not in first
    assert 'data-testid="older"' in first
    second = client.get(TEAM + "audit/?page=2").content.decode()
    assert second.count("Invitation sent") == 5 and "a0@example.com" in second
    assert client.get(TEAM + "audit/?page=x").status_code == 200  # bad page: the first


def test_query_budgets(client, personas, django_assert_num_queries):
    """Selects: domain, session, user, membership, then the page's own; django-tenants
    sets the search_path twice (public, then the tenant's), so budgets are selects + 2."""
    for i in range(5):
        services.invite(tenant=personas.alpha, email=f"q{i}@example.com", role="member", actor=None)
    client.force_login(personas.owner)
    with django_assert_num_queries(6 + 2):  # + members with users, pending invitations
        assert client.get(TEAM).status_code == 200
    client.force_login(personas.viewer)
    with django_assert_num_queries(5 + 2):  # + members with users
        assert client.get(TEAM).status_code == 200
    client.force_login(personas.owner)
    with django_assert_num_queries(6 + 2):  # + count, page of events with actors
        assert client.get(TEAM + "audit/").status_code == 200


# --- the accept page --------------------------------------------------------------------------


def _invite(personas, email="new@example.com", role=Role.MEMBER):
    return services.invite(tenant=personas.alpha, email=email, role=role, actor=personas.owner)


def test_new_person_signs_up_and_lands_in_the_tenant(client, personas):
    _, token = _invite(personas)
    page = client.get(f"/invite/{token}/")
    assert 'data-testid="signup-form"' in page.content.decode()
    response = client.post(
        f"/invite/{token}/",
        {"username": "newbie", "password1": "a-long-pass-123", "password2": "a-long-pass-123"},
    )
    assert response.status_code == 302 and response["Location"] == "/t/alpha/"
    assert client.get("/t/alpha/").status_code == 200  # signed in, a member
    user = get_user_model().objects.get(username="newbie")
    assert _membership(personas, user).role == Role.MEMBER
    # single use: the link now says so, and a second sign-up through it is refused
    client.logout()
    again = client.post(
        f"/invite/{token}/",
        {"username": "newbie2", "password1": "a-long-pass-123", "password2": "a-long-pass-123"},
    )
    assert again.status_code == 410 and "already been used" in again.content.decode()
    assert not get_user_model().objects.filter(username="newbie2").exists()


def test_sign_up_form_errors_are_shown(client, personas):
    _, token = _invite(personas)
    response = client.post(
        f"/invite/{token}/", {"username": "bob", "password1": "short", "password2": "other"}
    )
    assert response.status_code == 400
    body = response.content.decode()
    assert "already exists" in body and "didn’t match" in body
    assert Invitation.objects.get(email="new@example.com").accepted_at is None


def test_existing_account_with_the_address_signs_in_then_accepts(client, personas):
    personas.outsider.email = "charlie@example.com"
    personas.outsider.save()
    _, token = _invite(personas, email="charlie@example.com")
    page = client.get(f"/invite/{token}/").content.decode()
    assert 'data-testid="signin-to-accept"' in page and "signup-form" not in page
    assert f"/login/?next=/invite/{token}/" in page
    client.force_login(personas.outsider)
    assert "Join as charlie" in client.get(f"/invite/{token}/").content.decode()
    response = client.post(f"/invite/{token}/")
    assert response.status_code == 302 and response["Location"] == "/t/alpha/"
    assert _membership(personas, personas.outsider).role == Role.MEMBER


def test_signed_in_account_with_another_address_cannot_accept(client, personas):
    _, token = _invite(personas, email="someone-else@example.com")
    client.force_login(personas.outsider)
    page = client.get(f"/invite/{token}/")
    assert 'data-testid="wrong-account"' in page.content.decode()
    response = client.post(f"/invite/{token}/")
    assert response.status_code == 403
    assert not Membership.objects.filter(tenant=personas.alpha, user=personas.outsider).exists()
    assert Invitation.objects.get(email="someone-else@example.com").accepted_at is None


@pytest.mark.parametrize(
    ("change", "status", "words"),
    [
        ({"expires_at": timezone.now() - timedelta(minutes=1)}, 410, "expired"),
        ({"revoked_at": timezone.now()}, 410, "withdrawn"),
        ({"accepted_at": timezone.now()}, 410, "already been used"),
    ],
)
def test_unusable_links_say_why(client, personas, change, status, words):
    invitation, token = _invite(personas)
    Invitation.objects.filter(pk=invitation.pk).update(**change)
    for method in (client.get, client.post):
        response = method(f"/invite/{token}/")
        assert response.status_code == status
        assert words in response.content.decode()


@pytest.mark.parametrize("token", ["x", "A" * 43, "%00", "a" * 2000])
def test_unknown_or_tampered_links_are_404_pages(client, personas, token):
    _invite(personas)
    response = client.get(f"/invite/{token}/")
    assert response.status_code in (400, 404)
    if response.status_code == 404:
        assert "not valid" in response.content.decode()


def test_inactive_tenant_invitation_is_unusable(client, personas):
    _, token = _invite(personas)
    services.set_tenant_active(tenant=personas.alpha, active=False, actor=None)
    response = client.get(f"/invite/{token}/")
    assert response.status_code == 410 and "not active" in response.content.decode()
