"""`manage.py bootstrap --admin`: the first platform admin of a compose deployment, from the
environment (ADMIN_USERNAME, ADMIN_EMAIL, ADMIN_PASSWORD or ADMIN_PASSWORD_FILE)."""

from __future__ import annotations

from io import StringIO

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import CommandError

pytestmark = pytest.mark.django_db

SECRET = "Plat-form-admin-8c1f"


@pytest.fixture
def admin_env(monkeypatch):
    for name in ("ADMIN_USERNAME", "ADMIN_EMAIL", "ADMIN_PASSWORD", "ADMIN_PASSWORD_FILE"):
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


def bootstrap(*args) -> str:
    out, err = StringIO(), StringIO()
    call_command("bootstrap", *args, stdout=out, stderr=err)
    return out.getvalue() + err.getvalue()


def test_creates_a_superuser_from_the_environment_without_printing_the_password(admin_env):
    admin_env.setenv("ADMIN_USERNAME", "root-ops")
    admin_env.setenv("ADMIN_EMAIL", "ops@example.com")
    admin_env.setenv("ADMIN_PASSWORD", SECRET)
    output = bootstrap("--admin")
    user = get_user_model().objects.get(username="root-ops")
    assert user.is_superuser and user.is_staff and user.email == "ops@example.com"
    assert user.check_password(SECRET)
    assert "root-ops" in output
    assert SECRET not in output


def test_is_idempotent_and_never_resets_an_existing_admin(admin_env):
    admin_env.setenv("ADMIN_PASSWORD", SECRET)
    bootstrap("--admin")
    admin_env.setenv("ADMIN_PASSWORD", "another-password-entirely")
    output = bootstrap("--admin")
    assert "already exists" in output
    assert get_user_model().objects.filter(username="admin").count() == 1
    assert get_user_model().objects.get(username="admin").check_password(SECRET)
    # once the admin exists, a restart of the migrate service needs no password at all
    admin_env.delenv("ADMIN_PASSWORD")
    bootstrap("--admin")


def test_reads_the_password_from_a_file(admin_env, tmp_path):
    secret = tmp_path / "admin_password"
    secret.write_text(SECRET + "\n")
    admin_env.setenv("ADMIN_PASSWORD_FILE", str(secret))
    assert SECRET not in bootstrap("--admin")
    assert get_user_model().objects.get(username="admin").check_password(SECRET)


@pytest.mark.parametrize(
    ("variables", "message"),
    [
        ({}, "set ADMIN_PASSWORD, or ADMIN_PASSWORD_FILE"),
        ({"ADMIN_PASSWORD": ""}, "set ADMIN_PASSWORD, or ADMIN_PASSWORD_FILE"),
        ({"ADMIN_PASSWORD_FILE": "/nonexistent/admin_password"}, "cannot be read"),
        ({"ADMIN_PASSWORD": "zq7"}, "too weak: This password is too short"),
    ],
)
def test_fails_loudly_without_a_usable_password(admin_env, variables, message):
    for name, value in variables.items():
        admin_env.setenv(name, value)
    with pytest.raises(CommandError, match=message) as failure:
        bootstrap("--admin")
    assert "zq7" not in str(failure.value)
    assert not get_user_model().objects.filter(username="admin").exists()


def test_without_admin_flag_no_user_is_created(admin_env):
    admin_env.setenv("ADMIN_PASSWORD", SECRET)
    bootstrap()
    assert not get_user_model().objects.filter(username="admin").exists()
