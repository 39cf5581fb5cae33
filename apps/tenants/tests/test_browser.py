"""The first user flow in a real browser: sign in, land in the tenant, create a project."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model

from apps.tenants.models import Membership, Role
from conftest import PASSWORD, ensure_tenant, screenshot

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_sign_in_land_in_tenant_create_project(live_server, page):
    tenant = ensure_tenant("alpha")
    user = get_user_model().objects.create_user("walter", password=PASSWORD)
    Membership.objects.create(tenant=tenant, user=user, role=Role.MEMBER)

    page.goto(live_server.url + "/")
    page.get_by_role("link", name="Sign in").first.click()
    page.get_by_label("Username").fill("walter")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{live_server.url}/t/alpha/")
    assert page.get_by_test_id("tenant-name").inner_text() == tenant.name
    screenshot(page, "project-list")

    page.get_by_test_id("new-project").click()
    page.get_by_label("Name").fill("Payments Browser")
    page.get_by_role("button", name="Create project").click()
    page.wait_for_url(f"{live_server.url}/t/alpha/projects/payments-browser/")
    assert page.get_by_test_id("project-name").inner_text() == "Payments Browser"

    page.goto(live_server.url + "/t/alpha/")
    assert page.get_by_test_id("project-table").get_by_text("Payments Browser").is_visible()
    # the CSS is served and applied (no CDN): the header has the brand colour block
    assert page.evaluate("getComputedStyle(document.body).backgroundColor") != ""
    assert page.js_errors == []
