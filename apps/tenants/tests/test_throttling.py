"""Login throttling (django-axes) on /login/ and /admin/login/: per username and per address,
our sign-in page as the lockout answer, a lockout that ends by itself."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model

from conftest import PASSWORD

LOGIN_PAGES = ["/login/", "/admin/login/"]


@pytest.fixture
def staff(db):
    user = get_user_model().objects.create_user(
        "ops-admin", password=PASSWORD, is_staff=True, is_superuser=True
    )
    return user


def _post(client, page, username, password, address="127.0.0.1", **extra):
    return client.post(
        page, {"username": username, "password": password}, REMOTE_ADDR=address, **extra
    )


def _signed_in(client) -> bool:
    return "_auth_user_id" in client.session


def _fail(client, page, username, times, address="127.0.0.1", **extra):
    for _ in range(times):
        response = _post(client, page, username, "wrong-password", address, **extra)
        assert not _signed_in(client)
    return response


@pytest.mark.parametrize("page", LOGIN_PAGES)
def test_wrong_passwords_then_the_right_one_is_refused(client, staff, page, settings):
    limit = settings.AXES_FAILURE_LIMIT
    assert limit == 5  # the default, LOGIN_FAILURE_LIMIT
    _fail(client, page, "ops-admin", limit - 1)
    response = _post(client, page, "ops-admin", "wrong-password")  # the limit-th failure
    assert response.status_code == 429
    response = _post(client, page, "ops-admin", PASSWORD)
    assert response.status_code == 429
    assert not _signed_in(client)
    body = response.content.decode()
    assert 'data-testid="lockout"' in body and "paused for 15 minutes" in body
    assert "<form" in body  # our sign-in page, not a bare text
    assert response["Retry-After"] == "900"


@pytest.mark.parametrize("page", LOGIN_PAGES)
def test_below_the_limit_the_right_password_works(client, staff, page, settings):
    _fail(client, page, "ops-admin", settings.AXES_FAILURE_LIMIT - 1)
    response = _post(client, page, "ops-admin", PASSWORD)
    assert response.status_code == 302
    assert _signed_in(client)


def test_another_username_from_the_same_address_is_refused(client, personas, settings):
    _fail(client, "/login/", "nobody-here", settings.AXES_FAILURE_LIMIT)
    response = _post(client, "/login/", "bob", PASSWORD)
    assert response.status_code == 429
    assert not _signed_in(client)
    # the admin's sign-in shares the count: the address is locked there too
    assert _post(client, "/admin/login/", "bob", PASSWORD).status_code == 429


def test_the_same_username_from_another_address_is_refused(client, personas, settings):
    _fail(client, "/login/", "bob", settings.AXES_FAILURE_LIMIT, address="192.0.2.10")
    assert _post(client, "/login/", "bob", PASSWORD, address="198.51.100.7").status_code == 429
    # another user from another address is not affected
    response = _post(client, "/login/", "vera", PASSWORD, address="198.51.100.7")
    assert response.status_code == 302


def test_forwarded_for_is_ignored_unless_behind_the_proxy(client, personas, settings):
    """A client cannot dodge the per-address limit by sending its own X-Forwarded-For."""
    settings.BEHIND_TLS_PROXY = False
    for i in range(settings.AXES_FAILURE_LIMIT):
        _post(client, "/login/", f"guess-{i}", "x", HTTP_X_FORWARDED_FOR=f"203.0.113.{i}")
    response = _post(client, "/login/", "bob", PASSWORD, HTTP_X_FORWARDED_FOR="203.0.113.99")
    assert response.status_code == 429


def test_behind_the_proxy_the_address_it_appended_counts(client, personas, settings):
    settings.BEHIND_TLS_PROXY = True
    # the proxy (REMOTE_ADDR 10.0.0.2) appends the real client on the right; a spoofed
    # left-hand entry changes nothing
    for i in range(settings.AXES_FAILURE_LIMIT):
        _post(
            client,
            "/login/",
            f"guess-{i}",
            "x",
            address="10.0.0.2",
            HTTP_X_FORWARDED_FOR=f"198.18.0.{i}, 203.0.113.5",
        )
    locked = _post(
        client, "/login/", "bob", PASSWORD, address="10.0.0.2", HTTP_X_FORWARDED_FOR="203.0.113.5"
    )
    assert locked.status_code == 429
    other = _post(
        client, "/login/", "bob", PASSWORD, address="10.0.0.2", HTTP_X_FORWARDED_FOR="203.0.113.6"
    )
    assert other.status_code == 302  # another client behind the same proxy is not locked


@pytest.mark.parametrize("page", LOGIN_PAGES)
def test_the_lockout_ends_after_the_cooloff(client, staff, page, settings):
    settings.AXES_COOLOFF_TIME = timedelta(seconds=1)
    _fail(client, page, "ops-admin", settings.AXES_FAILURE_LIMIT)
    assert _post(client, page, "ops-admin", PASSWORD).status_code == 429
    time.sleep(1.2)
    response = _post(client, page, "ops-admin", PASSWORD)
    assert response.status_code == 302
    assert _signed_in(client)
