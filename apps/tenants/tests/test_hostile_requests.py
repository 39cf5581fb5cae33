"""Hostile request details on every tenant page: control characters in query parameters.

The URL list is enumerated from the tenant resolver (as in test_isolation), so a new view is
attacked by default.
"""

from __future__ import annotations

import pytest

from apps.tenants.tests.test_isolation import ROUTES, build_url, object_kwargs

PARAMS = ("q", "service", "group")
CONTROL = ["\x00", "\x01", "\x1b", "\x7f"]


@pytest.mark.parametrize("route", ROUTES)
def test_nul_in_query_parameters_is_never_a_500(client, personas, route):
    client.force_login(personas.owner)
    url = build_url(personas.alpha, route, object_kwargs(personas.alpha))
    for param in PARAMS:
        response = client.get(url, {param: "db\x00timeout"})
        assert response.status_code == 400, (route, param, response.status_code)
        assert b"control character" in response.content


@pytest.mark.parametrize("char", CONTROL)
def test_control_characters_are_refused_anywhere_in_the_query(client, personas, char):
    client.force_login(personas.owner)
    url = personas.alpha.url_prefix
    assert client.get(url, {"q": f"a{char}b"}).status_code == 400
    assert client.get(url, {f"k{char}": "v"}).status_code == 400  # in a name too


def test_tab_and_newline_are_allowed(client, personas):
    client.force_login(personas.owner)
    response = client.get(personas.alpha.url_prefix, {"q": "a\tb\nc"})
    assert response.status_code == 200


def test_nul_in_the_path_is_400_not_500(client, personas):
    for user in (None, personas.owner):
        if user:
            client.force_login(user)
        assert client.get("/t/al%00pha/").status_code == 400
        assert client.get("/login/?next=%00").status_code == 400
