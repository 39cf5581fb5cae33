"""Deleting an account in the platform admin goes through the membership service."""

from __future__ import annotations

from django.contrib.auth import get_user_model

from apps.tenants.models import AuditEvent, Membership, Role


def test_deleting_a_member_audits_each_removal(client, personas, admin_user):
    client.force_login(admin_user)
    response = client.post(f"/admin/auth/user/{personas.member.pk}/delete/", {"post": "yes"})
    assert response.status_code == 302
    assert not get_user_model().objects.filter(pk=personas.member.pk).exists()
    event = AuditEvent.objects.get(action=AuditEvent.Action.MEMBER_REMOVED, tenant_slug="alpha")
    assert (event.actor, event.detail["user"], event.detail["role"]) == (
        admin_user,
        "bob",
        Role.MEMBER,
    )


def test_a_last_owner_cannot_be_deleted(client, personas, admin_user):
    client.force_login(admin_user)
    response = client.post(
        f"/admin/auth/user/{personas.outsider.pk}/delete/", {"post": "yes"}, follow=True
    )
    assert "last owner of Beta" in response.content.decode()
    assert get_user_model().objects.filter(pk=personas.outsider.pk).exists()
    assert Membership.objects.filter(user=personas.outsider, role=Role.OWNER).exists()
    assert not AuditEvent.objects.filter(action=AuditEvent.Action.MEMBER_REMOVED).exists()


def test_bulk_delete_skips_last_owners_and_removes_the_rest(client, personas, admin_user):
    client.force_login(admin_user)
    response = client.post(
        "/admin/auth/user/",
        {
            "action": "delete_selected",
            "_selected_action": [personas.outsider.pk, personas.viewer.pk],
            "post": "yes",
        },
        follow=True,
    )
    assert response.status_code == 200
    remaining = set(get_user_model().objects.values_list("username", flat=True))
    assert "charlie" in remaining  # beta's only owner
    assert "vera" not in remaining
    assert "last owner of Beta" in response.content.decode()
