"""The workspace in a real browser (Debian Chromium via Playwright)."""

from __future__ import annotations

import re

import pytest
from django.contrib.auth import get_user_model
from django_tenants.utils import tenant_context

from apps.tenants.models import Membership, Role
from conftest import PASSWORD, ensure_tenant, screenshot

from .conftest import SAMPLES

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def sign_in(page, live_server, username="wanda", role=Role.MEMBER):
    tenant = ensure_tenant("alpha")
    user, created = get_user_model().objects.get_or_create(username=username)
    if created:
        user.set_password(PASSWORD)
        user.save()
    Membership.objects.get_or_create(tenant=tenant, user=user, defaults={"role": role})
    page.goto(live_server.url + "/login/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(re.compile(r".*/t/alpha/$"))
    return tenant


def workspace_incident(tenant, title="checkout-db-connections"):
    from apps.incidents.models import Incident

    with tenant_context(tenant):
        return Incident.objects.get(project__slug="workspace", title=title)


def test_workspace_layout_zoom_filter_and_evidence(live_server, page):
    tenant = sign_in(page, live_server)
    incident = workspace_incident(tenant)
    base = f"{live_server.url}/t/alpha/incidents/{incident.pk}/"
    page.goto(base)
    assert page.get_by_test_id("root-cause").is_visible()
    screenshot(page, "workspace-1280")

    # zoom: drag across the middle of the histogram (scrolled to, as a reader would: the
    # root-cause card above it grows with the cross-service path)
    svg = page.locator("svg[data-timeline]")
    svg.scroll_into_view_if_needed()
    box = svg.bounding_box()
    y = box["y"] + box["height"] * 0.15
    page.mouse.move(box["x"] + box["width"] * 0.4, y)
    page.mouse.down()
    page.mouse.move(box["x"] + box["width"] * 0.55, y, steps=5)
    page.mouse.up()
    page.wait_for_url(re.compile(r".*from=.*to=.*"))
    page.get_by_test_id("zoom-chip").wait_for()
    assert "zoomed" in page.get_by_test_id("timeline-summary").inner_text()
    zoomed_url = page.url
    screenshot(page, "workspace-zoomed")

    # filter by level and service
    page.get_by_test_id("filter-level").select_option("ERROR")
    page.wait_for_url(re.compile(r".*level=ERROR.*"))
    services = page.get_by_test_id("filter-service").locator("option").all_inner_texts()
    service = next(s for s in services if s != "all services")
    page.get_by_test_id("filter-service").select_option(label=service)
    page.wait_for_url(re.compile(r".*service=" + re.escape(service) + ".*"))
    rows = page.get_by_test_id("event")
    if rows.count():
        levels = page.locator("[data-testid=event] td:nth-child(2)").all_inner_texts()
        assert set(levels) <= {"ERROR", "FATAL"}

    # back button: the previous filter state comes back
    page.go_back()
    page.go_back()
    page.wait_for_url(zoomed_url)
    page.get_by_test_id("zoom-chip").wait_for()

    # a finding's trigger opens the raw line in the side panel, Esc closes it
    page.goto(base)
    page.get_by_test_id("finding-trigger").first.click()
    hit = page.get_by_test_id("side-panel").get_by_test_id("evidence-hit").first
    hit.wait_for()
    assert hit.is_visible()
    screenshot(page, "evidence-panel")
    page.keyboard.press("Escape")
    page.get_by_test_id("side-panel").get_by_test_id("evidence").wait_for(state="detached")
    assert page.js_errors == []


def test_keyboard_navigation(live_server, page):
    tenant = sign_in(page, live_server)
    incident = workspace_incident(tenant)
    page.goto(f"{live_server.url}/t/alpha/incidents/{incident.pk}/")
    page.keyboard.press("/")
    assert page.evaluate("document.activeElement.name") == "q"
    page.keyboard.press("Escape")
    page.keyboard.press("j")
    page.keyboard.press("j")
    page.keyboard.press("k")
    rows = page.locator("[data-event-row]")
    assert "is-current" in rows.nth(0).get_attribute("class")
    page.keyboard.press("j")
    assert "is-current" in rows.nth(1).get_attribute("class")
    page.keyboard.press("Enter")
    page.get_by_test_id("side-panel").get_by_test_id("evidence-hit").first.wait_for()
    page.keyboard.press("Escape")
    page.get_by_test_id("side-panel").get_by_test_id("evidence").wait_for(state="detached")
    assert page.js_errors == []


def test_narrow_window(live_server, page):
    tenant = sign_in(page, live_server)
    incident = workspace_incident(tenant, "worker-oom-crashloop")
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto(f"{live_server.url}/t/alpha/incidents/{incident.pk}/")
    screenshot(page, "workspace-narrow")
    page.goto(f"{live_server.url}/t/alpha/projects/workspace/")
    screenshot(page, "project-narrow")
    page.set_viewport_size({"width": 1280, "height": 800})
    page.goto(f"{live_server.url}/t/alpha/projects/workspace/")
    screenshot(page, "project-1280")
    assert page.js_errors == []


def test_upload_bundle_and_watch_progress_finish(live_server, page, qcluster):
    from apps.incidents.models import Incident

    tenant = sign_in(page, live_server)
    page.goto(f"{live_server.url}/t/alpha/projects/workspace/")
    page.get_by_test_id("new-incident").click()
    page.get_by_label("Title").fill("uploaded oom bundle")
    page.get_by_test_id("file-input").set_input_files(str(SAMPLES / "worker-oom-crashloop.zip"))
    page.get_by_role("button", name="Create and analyse").click()
    page.wait_for_url(re.compile(r".*/incidents/\d+/$"))
    page.get_by_test_id("ingest-status").wait_for()
    # the worker picks the job up; the progress partial polls until it is done, then the page
    # refreshes itself: findings and the root cause appear without a reload
    page.get_by_test_id("root-cause").wait_for(timeout=90_000)
    page.locator("[data-testid=job][data-status=done]").first.wait_for(state="attached")
    assert page.get_by_test_id("finding").count() > 0
    assert page.get_by_test_id("event").count() > 0
    screenshot(page, "upload-finished")
    with tenant_context(tenant):
        incident = Incident.objects.filter(title="uploaded oom bundle").latest("pk")
        assert incident.jobs.get().status == "done"
    assert page.js_errors == []


XSS_PAYLOADS = [
    "<script>alert(1)</script>",
    "<img src=x onerror=alert(1)>",
    '<div hx-get="/x" hx-trigger="load">hx</div>',
    '<a href="javascript:alert(1)">click me</a>',
    "<img src=http://evil.example/x.png>",
    "</textarea><svg onload=alert(1)>",
    '"><iframe src=https://evil.example/></iframe>',
]


def test_xss_payloads_in_logs_stay_text(live_server, page):
    from apps.incidents.models import Project

    from .conftest import ingest_text

    tenant = sign_in(page, live_server)
    lines = []
    for i, payload in enumerate(XSS_PAYLOADS):
        lines.append(f"2024-01-15T14:02:{10 + i:02d}Z ERROR svc{i}: request failed {payload}")
        lines.append(f"    at frame {payload}")  # continuation: a multi-line event
    with tenant_context(tenant):
        project, _ = Project.objects.get_or_create(slug="xss", defaults={"name": "XSS"})
        incident = ingest_text(project, "\n".join(lines) + "\n", title="<script>alert(2)</script>")
        source_id = incident.sources.get().pk
    foreign: list[str] = []
    page.on(
        "request",
        lambda request: (
            foreign.append(request.url)
            if not request.url.startswith(live_server.url) and not request.url.startswith("data:")
            else None
        ),
    )
    page.goto(f"{live_server.url}/t/alpha/incidents/{incident.pk}/")
    page.get_by_test_id("event").first.wait_for()
    for summary in page.locator("[data-testid=event] summary").all():
        summary.click()
    page.locator("[data-testid=raw-link]").first.click()
    page.get_by_test_id("side-panel").get_by_test_id("evidence-hit").first.wait_for()
    page.goto(
        f"{live_server.url}/t/alpha/incidents/{incident.pk}/evidence/{source_id}/1/?context=20"
    )
    page.goto(f"{live_server.url}/t/alpha/projects/xss/")
    page.wait_for_timeout(500)
    assert page.js_errors == []  # no alert() dialog, no script error
    assert foreign == []
    page.goto(f"{live_server.url}/t/alpha/incidents/{incident.pk}/")
    text = page.get_by_test_id("event-table").inner_text()
    assert "<script>alert(1)</script>" in text  # shown as text
    assert page.locator("#workspace script, #workspace iframe, #workspace img").count() == 0


def test_a_search_cut_short_carries_on_by_itself(live_server, page, monkeypatch):
    """A text search that stops at its time budget before finding anything fetches the next
    stretch by itself (htmx, hx-trigger=load) until matches show; the URL follows."""
    from django.db.models import F

    from apps.ingestion.models import Event
    from apps.workspace.selectors import search

    from .test_search import expected_ids

    monkeypatch.setattr(search, "SEARCH_BUDGET", -1.0)
    monkeypatch.setattr(search, "WORKSPACE_BUDGET", -1.0)
    monkeypatch.setattr(search, "INDEXED_MAX", -1)
    tenant = sign_in(page, live_server)
    incident = workspace_incident(tenant)
    term = "too many clients"
    with tenant_context(tenant):
        from apps.workspace.selectors.events import EventFilters

        first = expected_ids(incident, EventFilters(q=term))[0]
        ordered = list(
            Event.objects.filter(incident=incident)
            .order_by(F("ts").asc(nulls_last=True), "id")
            .values_list("pk", flat=True)
        )
    position = ordered.index(first)
    assert position >= 3
    stretch = position // 3  # three stretches without a match before the first one
    monkeypatch.setattr(search, "FIRST_CHUNK", stretch)
    monkeypatch.setattr(search, "MAX_CHUNK", stretch)
    page.goto(f"{live_server.url}/t/alpha/incidents/{incident.pk}/?q=too+many+clients")
    page.get_by_test_id("event").first.wait_for(timeout=30_000)
    assert term in page.get_by_test_id("event").first.inner_text().lower()
    assert "after=" in page.url  # where the search got to, for reload and back
    assert page.js_errors == []
