"""A partial that answers 503 (database outage, aiops/outage.py) in a real browser: the page
keeps what it shows, says why it is not updating, and recovers on the next good response.

The 503 itself comes from a request the browser makes while the test answers it with the
outage fragment (Playwright routing): the server-side 503 is tested against a real outage in
apps/tenants/tests/test_outage.py; this checks what the page does with it.
"""

from __future__ import annotations

import re

import pytest

from .test_browser import sign_in, workspace_incident

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

FRAGMENT = '<div role="alert" data-testid="outage-message">The database is not reachable</div>'


def test_outage_banner_appears_and_clears(live_server, page):
    tenant = sign_in(page, live_server)
    incident = workspace_incident(tenant)
    page.goto(f"{live_server.url}/t/alpha/incidents/{incident.pk}/")
    before = page.get_by_test_id("event").count()
    assert before > 0
    outage = {"on": True}

    def answer(route):
        if outage["on"] and route.request.headers.get("hx-request"):
            route.fulfill(status=503, body=FRAGMENT, headers={"Retry-After": "15"})
        else:
            route.continue_()

    page.route(re.compile(r".*/t/alpha/.*"), answer)
    page.get_by_test_id("filter-level").select_option("ERROR")
    banner = page.get_by_test_id("outage-banner")
    banner.wait_for()
    assert "not reachable" in banner.inner_text()
    assert page.get_by_test_id("event").count() == before  # nothing was swapped away
    assert page.get_by_test_id("outage-message").count() == 0  # the fragment is not injected

    outage["on"] = False
    page.get_by_test_id("filter-level").select_option("WARN")
    page.wait_for_url(re.compile(r".*level=WARN.*"))
    banner.wait_for(state="detached")
    assert page.js_errors == []
