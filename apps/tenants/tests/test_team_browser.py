"""Team management in a real browser: the platform admin's tenant page (it answered 500 on
every save) and an owner's whole invitation flow, with a newcomer in a fresh browser."""

from __future__ import annotations

import re

import pytest
from django.contrib.auth import get_user_model
from django.core import mail

from apps.tenants.models import AuditEvent, Membership, Role, Tenant
from conftest import PASSWORD, screenshot

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _sign_in(page, base, username, path="/login/"):
    page.goto(base + path)
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.locator("form [type=submit]").click()


def _save(page):
    page.locator("input[name=_continue]").click()
    page.wait_for_load_state()


def test_superuser_manages_a_tenant_in_the_admin(live_server, page, personas):
    get_user_model().objects.create_superuser("root", "root@example.com", PASSWORD)
    get_user_model().objects.create_user("walter", password=PASSWORD)
    alpha = personas.alpha
    base = live_server.url
    _sign_in(page, base, "root", "/admin/login/")
    page.wait_for_url(base + "/admin/")
    page.goto(f"{base}/admin/tenants/tenant/{alpha.pk}/change/")
    # inline rows: alice (owner), bob (member), vera (viewer), then the empty one
    assert page.locator("select[name='memberships-0-role']").input_value() == "owner"

    # add a member through the autocomplete
    page.locator("#memberships-3 .select2-selection").click()
    page.locator(".select2-search__field").fill("walt")
    page.locator(".select2-results__option", has_text="walter").click()
    page.select_option("select[name='memberships-3-role']", "viewer")
    _save(page)
    assert page.locator(".errornote").count() == 0, page.content()[:3000]
    assert Membership.objects.get(tenant=alpha, user__username="walter").role == Role.VIEWER

    # the last owner cannot be demoted: a form error, nothing saved
    page.select_option("select[name='memberships-0-role']", "member")
    _save(page)
    assert "at least one owner" in page.locator(".errorlist").first.inner_text()
    assert Membership.objects.get(tenant=alpha, user=personas.owner).role == Role.OWNER
    page.goto(f"{base}/admin/tenants/tenant/{alpha.pk}/change/")

    # change a role, remove a member (rows sorted by username: alice, bob, vera, walter)
    page.select_option("select[name='memberships-1-role']", "viewer")
    page.check("input[name='memberships-2-DELETE']")
    _save(page)
    assert Membership.objects.get(tenant=alpha, user=personas.member).role == Role.VIEWER
    assert not Membership.objects.filter(tenant=alpha, user=personas.viewer).exists()

    # rename and deactivate
    page.fill("#id_name", "Alpha Renamed")
    page.uncheck("#id_is_active")
    _save(page)
    tenant = Tenant.objects.get(pk=alpha.pk)
    assert (tenant.name, tenant.is_active) == ("Alpha Renamed", False)
    screenshot(page, "admin-tenant-saved")

    # the audit log shows each change, by root
    events = AuditEvent.objects.filter(tenant_slug="alpha", actor__username="root")
    assert {(e.action, e.subject, e.change) for e in events} == {
        (AuditEvent.Action.MEMBER_ADDED, "walter", "viewer"),
        (AuditEvent.Action.ROLE_CHANGED, "bob", "member → viewer"),
        (AuditEvent.Action.MEMBER_REMOVED, "vera", "viewer"),
        (AuditEvent.Action.TENANT_RENAMED, "", "Alpha → Alpha Renamed"),
        (AuditEvent.Action.TENANT_DEACTIVATED, "", ""),
    }
    page.goto(f"{base}/admin/tenants/auditevent/")
    listing = page.locator("#result_list").inner_text()
    for label in ("Member added", "Role changed", "Member removed", "Tenant renamed"):
        assert label in listing
    assert "Tenant deactivated" in listing
    assert page.js_errors == []


def test_owner_invites_a_newcomer_then_changes_and_removes_them(live_server, page, personas):
    base = live_server.url
    _sign_in(page, base, "alice")
    page.wait_for_url(base + "/t/alpha/")
    page.get_by_test_id("nav-team").click()
    page.wait_for_url(base + "/t/alpha/team/")

    page.get_by_label("E-mail address").fill("nora@example.com")
    page.locator("[data-testid=invite-form] select[name=role]").select_option("member")
    page.get_by_role("button", name="Send invitation").click()
    page.wait_for_url(base + "/t/alpha/team/")
    assert "Invitation sent to nora@example.com" in page.content()
    assert page.get_by_test_id("invitation-nora@example.com").is_visible()

    (message,) = mail.outbox
    link = re.search(r"http://\S+/invite/\S+/", message.body).group(0)
    assert link.startswith(base)

    # the newcomer, in a browser of their own, signs up through the link
    context = page.context.browser.new_context(viewport={"width": 1280, "height": 800})
    newcomer = context.new_page()
    try:
        newcomer.goto(link)
        assert newcomer.get_by_test_id("invite-title").inner_text() == "Join Alpha"
        newcomer.get_by_label("Username").fill("nora")
        newcomer.get_by_label("Password", exact=True).fill("nora-secret-pass-9")
        newcomer.get_by_label("Password confirmation").fill("nora-secret-pass-9")
        newcomer.get_by_role("button", name="Create account and join").click()
        newcomer.wait_for_url(base + "/t/alpha/")
        assert newcomer.get_by_test_id("tenant-name").inner_text() == "Alpha"
        screenshot(newcomer, "team-newcomer-landed")
        # the link worked once
        newcomer.goto(link)
        assert "already been used" in newcomer.get_by_test_id("invite-problem").inner_text()
    finally:
        context.close()

    # the owner changes nora's role, then removes her
    page.reload()
    row = page.get_by_test_id("member-nora")
    assert row.get_by_test_id("role").inner_text() == "Member"
    row.get_by_label("Role of nora").select_option("viewer")
    row.get_by_role("button", name="Change role").click()
    page.wait_for_load_state()
    assert page.get_by_test_id("member-nora").get_by_test_id("role").inner_text() == "Viewer"
    screenshot(page, "team-page")
    page.get_by_test_id("member-nora").get_by_role("button", name="Remove").click()
    page.wait_for_load_state()
    assert "nora was removed" in page.content()
    assert page.get_by_test_id("member-nora").count() == 0

    page.get_by_test_id("audit-link").click()
    page.wait_for_url(base + "/t/alpha/team/audit/")
    table = page.get_by_test_id("audit-table").inner_text()
    for text in (
        "Invitation sent",
        "Invitation accepted",
        "Member added",
        "Role changed",
        "Member removed",
        "nora@example.com",
        "member → viewer",
    ):
        assert text in table, text
    screenshot(page, "team-audit")
    assert page.js_errors == []
