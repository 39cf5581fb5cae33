"""The stream page's histogram in a real browser (Debian Chromium via Playwright): drag across
it to select a range, or pick a bar from the keyboard, then open an incident from it."""

from __future__ import annotations

import re

import pytest
from django_tenants.utils import tenant_context

from apps.incidents.models import Incident
from apps.tenants.models import Role

from .test_browser import sign_in
from .test_stream_views import stream_into

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def range_values(page) -> tuple[str, str]:
    """The form's range, with seconds (a datetime-local input drops `:00`)."""
    values = (page.locator(f"#range-{end}").input_value() for end in ("start", "end"))
    return tuple(v if v.count(":") == 2 else f"{v}:00" for v in values)


def test_drag_across_the_histogram_then_open_an_incident(live_server, page):
    tenant = sign_in(page, live_server, username="streamer", role=Role.MEMBER)
    stream_into(tenant, "shared", [("api", "ERROR", "dragged range marker")])
    page.goto(f"{live_server.url}/t/alpha/projects/shared/stream/")
    svg = page.locator("svg[data-stream-histogram]")
    box = svg.bounding_box()
    bars = page.get_by_test_id("histogram-bar")
    assert bars.count() == 60
    y = box["y"] + box["height"] / 2
    # from the middle of bar 50 to the middle of the last bar
    page.mouse.move(box["x"] + box["width"] * 50.5 / 60, y)
    page.mouse.down()
    page.mouse.move(box["x"] + box["width"] * 55 / 60, y, steps=4)
    page.mouse.move(box["x"] + box["width"] * 59.5 / 60, y, steps=4)
    page.mouse.up()
    start, end = range_values(page)
    assert start == bars.nth(50).get_attribute("data-range-start")
    assert end == bars.nth(59).get_attribute("data-range-end")
    assert page.locator("[data-range-selection]").get_attribute("visibility") == "visible"
    page.locator("#range-title").fill("Dragged from the stream")
    page.get_by_test_id("open-incident").click()
    page.wait_for_url(re.compile(r".*/t/alpha/incidents/\d+/$"))
    with tenant_context(tenant):
        assert Incident.objects.filter(title="Dragged from the stream").count() == 1
    assert page.js_errors == []


def test_keyboard_picks_a_bar_and_submits(live_server, page):
    tenant = sign_in(page, live_server, username="keyboarder", role=Role.MEMBER)
    stream_into(tenant, "shared", [("api", "WARN", "keyboard range marker")])
    page.goto(f"{live_server.url}/t/alpha/projects/shared/stream/")
    last = page.get_by_test_id("histogram-bar").last
    last.focus()
    page.keyboard.press("Enter")  # selects the bar's range, stays on the page
    start, end = range_values(page)
    assert (start, end) == (
        last.get_attribute("data-range-start"),
        last.get_attribute("data-range-end"),
    )
    page.locator("#range-title").focus()
    page.keyboard.type("Opened from the keyboard")
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r".*/t/alpha/incidents/\d+/$"))
    with tenant_context(tenant):
        assert Incident.objects.filter(title="Opened from the keyboard").count() == 1
    assert page.js_errors == []
