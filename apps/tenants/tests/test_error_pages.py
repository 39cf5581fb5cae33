"""Unknown, inactive and foreign tenants look alike; error pages come in the app's layout."""

from __future__ import annotations

import re

import pytest
from django.test import Client
from django.urls import get_resolver, path

from apps.tenants.services import set_tenant_active

LAYOUT = 'href="/static/css/app.css"'


def _without_csrf(body: str) -> str:
    """The page without what changes on every request (CSRF token, CSP nonce)."""
    return re.sub(
        r'"X-CSRFToken": "[^"]*"|nonce="[^"]*"|name="csrfmiddlewaretoken" value="[^"]*"', "", body
    )


@pytest.mark.parametrize(
    "path",
    ["/t/alpha/", "/t/does-not-exist/", "/t/alpha/incidents/1/", "/t/nope/incidents/1/", "/t/"],
)
def test_anonymous_is_sent_to_login_whether_or_not_the_tenant_exists(client, personas, path):
    response = client.get(path)
    assert response.status_code == 302, path
    assert response["Location"] == f"/login/?next={path}"


def test_anonymous_on_an_inactive_tenant_is_sent_to_login(client, personas):
    set_tenant_active(tenant=personas.alpha, active=False)
    response = client.get(personas.alpha.url_prefix + "incidents/1/")
    assert response.status_code == 302
    assert response["Location"].startswith("/login/")
    response = client.post(personas.alpha.url_prefix + "projects/new/", {"name": "x"})
    assert response.status_code in (302, 403)  # never a 404 that tells it apart


@pytest.mark.parametrize("hx", [False, True], ids=["page", "htmx"])
def test_non_member_404_is_the_same_page_as_a_missing_tenant(client, personas, hx):
    client.force_login(personas.outsider)  # owner of beta only
    headers = {"HTTP_HX_REQUEST": "true"} if hx else {}
    real = client.get("/t/alpha/incidents/1/", **headers)
    missing = client.get("/t/does-not-exist/incidents/1/", **headers)
    assert real.status_code == missing.status_code == 404
    assert _without_csrf(real.content.decode()) == _without_csrf(missing.content.decode())
    assert "Alpha" not in real.content.decode()
    assert real.headers.get("Content-Type") == missing.headers.get("Content-Type")


def test_inactive_tenant_404_is_the_same_page_for_its_member(client, personas):
    client.force_login(personas.owner)
    missing = client.get("/t/does-not-exist/")
    set_tenant_active(tenant=personas.alpha, active=False)
    inactive = client.get("/t/alpha/")
    assert inactive.status_code == missing.status_code == 404
    assert _without_csrf(inactive.content.decode()) == _without_csrf(missing.content.decode())


def test_404_is_in_the_layout(client, personas):
    client.force_login(personas.owner)
    for url in ("/t/alpha/incidents/987654/", "/no-such-page/"):
        response = client.get(url)
        body = response.content.decode()
        assert response.status_code == 404
        assert LAYOUT in body and 'data-testid="error-404"' in body
        assert "Sign out" in body  # the header of a signed-in page
    # a member's own tenant stays in the header
    assert 'data-testid="tenant-name"' in client.get("/t/alpha/incidents/987654/").content.decode()


def test_403_is_friendly_and_in_the_layout(client, personas):
    client.force_login(personas.viewer)
    response = client.get(personas.alpha.url_prefix + "projects/new/")
    body = response.content.decode()
    assert response.status_code == 403
    assert LAYOUT in body and 'data-testid="error-403"' in body
    assert "This needs the Member role." in body
    assert 'data-testid="tenant-name"' in body  # the viewer is a member: the team stays shown
    hx = client.post(personas.alpha.url_prefix + "projects/new/", HTTP_HX_REQUEST="true")
    assert hx.status_code == 403
    assert hx.content.decode().startswith('<div role="alert"')  # a fragment, not a page


def test_csrf_failure_is_friendly(personas):
    client = Client(enforce_csrf_checks=True)
    response = client.post("/login/", {"username": "alice", "password": "x"})
    body = response.content.decode()
    assert response.status_code == 403
    assert LAYOUT in body and "This form has expired" in body
    client.force_login(personas.owner)
    response = client.post(personas.alpha.url_prefix + "projects/new/", {"name": "csrf"})
    assert response.status_code == 403
    assert "This form has expired" in response.content.decode()


def test_500_handlers_are_wired_and_need_no_database(db, django_assert_num_queries):
    from aiops.errors import server_error

    for urlconf in ("aiops.urls_public", "aiops.urls_tenant"):
        resolver = get_resolver(urlconf)
        assert resolver.resolve_error_handler(500) is server_error
        assert resolver.resolve_error_handler(403).__name__ == "forbidden"
        assert resolver.resolve_error_handler(404).__name__ == "not_found"
    with django_assert_num_queries(0):
        response = server_error(None)
    assert response.status_code == 500
    assert LAYOUT in response.content.decode()
    assert 'data-testid="error-500"' in response.content.decode()


def _boom(request):
    raise RuntimeError("boom")


urlpatterns = [path("boom/", _boom)]
handler500 = "aiops.errors.server_error"


def test_a_crashing_view_gets_the_500_page(client, personas, settings):
    settings.PUBLIC_SCHEMA_URLCONF = __name__  # this module: one crashing view
    client.raise_request_exception = False
    client.force_login(personas.owner)
    response = client.get("/boom/")
    assert response.status_code == 500
    assert 'data-testid="error-500"' in response.content.decode()
    assert "boom" not in response.content.decode()
