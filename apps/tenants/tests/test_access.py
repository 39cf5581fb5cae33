"""Roles, sign-in routing, platform admin and the audit log."""

from __future__ import annotations

import pytest
from django_tenants.utils import tenant_context

from apps.incidents.models import Project
from apps.tenants import services
from apps.tenants.models import AuditEvent, Domain, Membership, Role, Tenant


def test_viewer_cannot_create_project(client, personas):
    client.force_login(personas.viewer)
    url = personas.alpha.url_prefix + "projects/new/"
    assert client.get(url).status_code == 403
    assert client.post(url, {"name": "viewer-made"}).status_code == 403
    with tenant_context(personas.alpha):
        assert not Project.objects.filter(name="viewer-made").exists()


def test_viewer_sees_no_create_button(client, personas):
    client.force_login(personas.viewer)
    body = client.get(personas.alpha.url_prefix).content.decode()
    assert 'data-testid="new-project"' not in body


@pytest.mark.parametrize("persona", ["owner", "member"])
def test_owner_and_member_create_projects(client, personas, persona):
    client.force_login(getattr(personas, persona))
    response = client.post(
        personas.alpha.url_prefix + "projects/new/", {"name": f"Payments {persona}"}
    )
    assert response.status_code == 302
    assert response["Location"].endswith(f"/t/alpha/projects/payments-{persona}/")
    with tenant_context(personas.alpha):
        assert Project.objects.filter(slug=f"payments-{persona}").exists()
    with tenant_context(personas.beta):
        assert not Project.objects.filter(slug=f"payments-{persona}").exists()


def test_duplicate_project_name_is_a_form_error(client, personas):
    client.force_login(personas.member)
    response = client.post(personas.alpha.url_prefix + "projects/new/", {"name": "Shared"})
    assert response.status_code == 200
    assert "already exists" in response.content.decode()


def test_login_lands_in_the_only_tenant(client, personas):
    response = client.post("/login/", {"username": "bob", "password": "correct-horse-battery"})
    assert response.status_code == 302
    follow = client.get(response["Location"])
    assert follow.status_code == 302
    assert follow["Location"] == "/t/alpha/"


def test_user_in_two_tenants_picks_one(client, personas):
    services.add_member(tenant=personas.beta, user=personas.member, role=Role.VIEWER)
    client.force_login(personas.member)
    body = client.get("/").content.decode()
    assert "/t/alpha/" in body and "/t/beta/" in body


def test_login_rejects_offsite_next(client, personas):
    response = client.post(
        "/login/?next=https://evil.example/",
        {"username": "bob", "password": "correct-horse-battery", "next": "https://evil.example/"},
    )
    assert response.status_code == 302
    assert "evil.example" not in response["Location"]


def test_platform_admin_only_on_public_host(client, personas, admin_user):
    client.force_login(admin_user)
    assert client.get("/admin/").status_code == 200
    assert client.get("/t/alpha/admin/").status_code == 404
    client.force_login(personas.owner)  # a tenant owner is not platform staff
    response = client.get("/admin/")
    assert response.status_code == 302
    assert "/admin/login/" in response["Location"]


def test_admin_creates_tenant_with_schema_owner_and_audit(client, admin_user):
    from django.db import connection
    from django_tenants.utils import schema_exists

    client.force_login(admin_user)
    response = client.post(
        "/admin/tenants/tenant/add/",
        {
            "name": "Gamma Team",
            "slug": "gamma",
            "owner_username": "gina",
            "owner_email": "gina@example.com",
            "owner_password": "a-long-password-1",
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    tenant = Tenant.objects.get(slug="gamma")
    assert schema_exists("t_gamma")
    assert Domain.objects.filter(tenant=tenant, domain="gamma").exists()
    membership = Membership.objects.get(tenant=tenant)
    assert (membership.user.username, membership.role) == ("gina", Role.OWNER)
    assert membership.user.check_password("a-long-password-1")
    event = AuditEvent.objects.get(action=AuditEvent.Action.TENANT_CREATED, tenant_slug="gamma")
    assert event.actor == admin_user
    # the new owner can work in the new tenant straight away
    client.force_login(membership.user)
    assert client.get("/t/gamma/").status_code == 200
    connection.set_schema_to_public()
    # deleting drops the schema and is audited too
    client.force_login(admin_user)
    response = client.post(f"/admin/tenants/tenant/{tenant.pk}/delete/", {"post": "yes"})
    assert response.status_code == 302
    assert not schema_exists("t_gamma")
    assert AuditEvent.objects.filter(
        action=AuditEvent.Action.TENANT_DELETED, tenant_slug="gamma"
    ).exists()


def test_admin_makes_existing_user_owner(personas):
    tenant = services.create_tenant(name="Delta", slug="delta", owner_username="bob")
    membership = Membership.objects.get(tenant=tenant)
    assert membership.user == personas.member
    assert membership.role == Role.OWNER


def test_admin_deactivates_and_changes_roles_with_audit(client, personas, admin_user):
    client.force_login(admin_user)
    response = client.post(
        "/admin/tenants/tenant/",
        {"action": "deactivate", "_selected_action": [personas.beta.pk]},
    )
    assert response.status_code == 302
    assert not Tenant.objects.get(pk=personas.beta.pk).is_active
    assert AuditEvent.objects.filter(action="tenant.deactivated", tenant_slug="beta").exists()
    membership = Membership.objects.get(tenant=personas.alpha, user=personas.viewer)
    services.change_role(membership=membership, role=Role.MEMBER, actor=admin_user)
    assert AuditEvent.objects.filter(action="member.role_changed", tenant_slug="alpha").exists()
    services.remove_member(membership=membership, actor=admin_user)
    assert not Membership.objects.filter(pk=membership.pk).exists()
    assert AuditEvent.objects.filter(action="member.removed", tenant_slug="alpha").exists()


def test_reserved_and_invalid_slugs_are_refused(client, admin_user):
    client.force_login(admin_user)
    for slug in ("public", "UPPER", "../x", "a"):
        response = client.post(
            "/admin/tenants/tenant/add/",
            {"name": "X", "slug": slug, "owner_username": "x"},
        )
        assert response.status_code == 200, slug
    assert not Tenant.objects.filter(name="X").exists()
