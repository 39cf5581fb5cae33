"""The postmortem flow in a real browser: draft, edit a section (autosave + live preview),
download Markdown and PDF."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from django.contrib.auth import get_user_model
from django_tenants.utils import tenant_context
from playwright.sync_api import expect

from apps.tenants.models import Membership, Role
from conftest import PASSWORD, ensure_tenant, screenshot

from .conftest import PROJECT, SAMPLES, ingest_paths

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def browser_incident():
    """Its own incident (tenant data survives transactional tests): removed afterwards."""
    from apps.incidents.models import Project

    tenant = ensure_tenant("alpha")
    with tenant_context(tenant):
        project, _ = Project.objects.get_or_create(slug=PROJECT, defaults={"name": "Reports"})
        incident = ingest_paths(
            project, SAMPLES / "worker-oom-crashloop.zip", title="browser postmortem"
        )
    yield tenant, incident
    with tenant_context(tenant):
        incident.delete()


def sign_in(page, live_server, tenant, username="pia"):
    user, created = get_user_model().objects.get_or_create(username=username)
    if created:
        user.set_password(PASSWORD)
        user.save()
    Membership.objects.get_or_create(tenant=tenant, user=user, defaults={"role": Role.MEMBER})
    page.goto(live_server.url + "/login/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(re.compile(r".*/t/alpha/$"))


def test_draft_edit_and_download_both_formats(live_server, page, browser_incident, tmp_path):
    tenant, incident = browser_incident
    sign_in(page, live_server, tenant)
    page.goto(f"{live_server.url}/t/alpha/incidents/{incident.pk}/postmortem/")
    page.get_by_test_id("draft-postmortem").click()
    page.get_by_test_id("section-root_cause").wait_for()
    preview = page.get_by_test_id("preview-summary")
    expect(preview).not_to_contain_text("Loading preview", timeout=10_000)
    assert preview.locator("a.cite").count() > 0  # citations link to the evidence view
    assert page.get_by_test_id("evidence").locator("pre").count() > 0

    # edit a section: the preview follows as you type, autosave shows its state
    editor = page.get_by_test_id("body-summary")
    editor.fill("Edited in the browser: **pool exhausted** <img src=x onerror=alert(1)>")
    page.get_by_test_id("preview-summary").locator("strong").wait_for()
    assert page.get_by_test_id("preview-summary").locator("img").count() == 0
    status = page.get_by_test_id("status-summary")
    expect(status).to_contain_text("Saved", timeout=10_000)
    screenshot(page, "postmortem-editor")

    page.reload()
    assert "Edited in the browser" in page.get_by_test_id("body-summary").input_value()

    with page.expect_download() as markdown:
        page.get_by_test_id("download-md").click()
    md_path = Path(tmp_path / "postmortem.md")
    markdown.value.save_as(md_path)
    text = md_path.read_text()
    assert "Edited in the browser: **pool exhausted**" in text and "## Evidence appendix" in text

    page.get_by_test_id("make-pdf").click()
    link = page.get_by_test_id("download-pdf")
    link.wait_for(timeout=90_000)
    with page.expect_download() as pdf:
        link.click()
    pdf_path = Path(tmp_path / "postmortem.pdf")
    pdf.value.save_as(pdf_path)
    assert pdf_path.read_bytes().startswith(b"%PDF")
    screenshot(page, "postmortem-downloads")
    assert page.js_errors == []


def test_two_members_editing_one_section_see_the_conflict(
    live_server, page, browser, browser_incident
):
    from apps.reports import services

    tenant, incident = browser_incident
    with tenant_context(tenant):
        services.create_draft(incident=incident)
    sign_in(page, live_server, tenant, username="pia")
    other = browser.new_context(viewport={"width": 1280, "height": 800}).new_page()
    sign_in(other, live_server, tenant, username="quinn")
    address = f"{live_server.url}/t/alpha/incidents/{incident.pk}/postmortem/"
    page.goto(address)
    other.goto(address)

    page.get_by_test_id("body-detection").fill("Pia's detection notes")
    expect(page.get_by_test_id("status-detection")).to_contain_text("Saved", timeout=10_000)
    other.get_by_test_id("body-detection").fill("Quinn's detection notes")
    status = other.get_by_test_id("status-detection")
    expect(status).to_contain_text("Not saved", timeout=10_000)
    expect(status).to_contain_text("pia saved this section")
    screenshot(other, "postmortem-conflict")
    with tenant_context(tenant):
        section = incident.report.sections.get(key="detection")
        assert section.body == "Pia's detection notes"
        assert section.versions.filter(kind="conflict", body="Quinn's detection notes").exists()

    other.get_by_test_id("overwrite-detection").click()  # an explicit choice, on top of v2
    expect(other.get_by_test_id("status-detection")).to_contain_text("Saved", timeout=10_000)
    with tenant_context(tenant):
        section.refresh_from_db()
        assert section.body == "Quinn's detection notes"
    assert page.js_errors == [] and other.context.pages
    other.context.close()
