"""The production path, as the compose stack runs it: `aiops.settings` with DEBUG off, static
files collected by `collectstatic` (hashed and compressed) and served by WhiteNoise, a real
gunicorn on the test database. A member signs in through the form and opens a tenant page;
every stylesheet, script and icon both pages link must arrive with the right type, a hashed
name and a year-long cache header.
"""

from __future__ import annotations

import http.client
import os
import re
import socket
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlencode

import pytest
import yaml
from django.conf import settings
from django.contrib.auth.hashers import PBKDF2PasswordHasher
from django.utils.crypto import get_random_string

from apps.tenants.tests.processes import running
from conftest import PASSWORD, test_database_url

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

COMPOSE = yaml.safe_load((Path(settings.BASE_DIR) / "docker-compose.yml").read_text())
PRODUCTION = {
    "DJANGO_SETTINGS_MODULE": "aiops.settings",
    "DJANGO_DEBUG": "false",
    "SECRET_KEY": "production-test-" + "k" * 50,
    "ALLOWED_HOSTS": "127.0.0.1",
    "SECURE_COOKIES": "false",  # plain HTTP on loopback; TLS deployments set it true
}
HASHED = re.compile(r"\.[0-9a-f]{12}\.(css|js|svg)$")
TYPES = {"css": "text/css", "js": "text/javascript", "svg": "image/svg+xml"}
STATIC_LINK = re.compile(r'<(?:link|script)\b[^>]*\b(?:href|src)="(/static/[^"]+)"')


def production_env(static_root: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "AIOPS_TEST"))}
    return {
        **env,
        **PRODUCTION,
        "DATABASE_URL": test_database_url(),
        "STATIC_ROOT": str(static_root),
    }


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def gunicorn(tmp_path, personas):
    """collectstatic into a fresh STATIC_ROOT, then gunicorn as the Dockerfile starts it."""
    env = production_env(tmp_path / "staticfiles")
    collected = subprocess.run(
        [sys.executable, "manage.py", "collectstatic", "--noinput", "-v", "0"],
        cwd=settings.BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert collected.returncode == 0, collected.stderr
    port = free_port()
    argv = [
        *(sys.executable, "-m", "gunicorn", "aiops.wsgi:application"),
        *("--bind", f"127.0.0.1:{port}", "--workers", "1", "--threads", "4"),
    ]
    with running(
        argv,
        env=env,
        cwd=settings.BASE_DIR,
        log=tmp_path / "gunicorn.log",
        ready=lambda: get(port, "/healthz")[0] == 200,
    ):
        yield port


def get(port: int, path: str, headers: dict | None = None, method: str = "GET", body=None):
    """(status, headers, body bytes) of one request to 127.0.0.1:port."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        response = conn.getresponse()
        return response.status, response.headers, response.read()
    finally:
        conn.close()


def cookies(headers) -> dict[str, str]:
    jar = {}
    for header in headers.get_all("Set-Cookie") or []:
        name, _, rest = header.partition("=")
        jar[name.strip()] = rest.split(";", 1)[0]
    return jar


def production_password(user) -> None:
    """The test settings hash with MD5, which production settings do not accept: store a
    PBKDF2 hash (few iterations, for speed; production upgrades it at sign-in)."""
    user.password = PBKDF2PasswordHasher().encode(PASSWORD, get_random_string(16), 1000)
    user.save(update_fields=["password"])


def sign_in(port: int, username: str) -> tuple[str, str]:
    """(login page HTML, Cookie header of the new session), through the real form."""
    status, headers, body = get(port, "/login/")
    assert status == 200, body[:500]
    html = body.decode()
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', html).group(1)
    jar = cookies(headers)
    form = urlencode({"username": username, "password": PASSWORD, "csrfmiddlewaretoken": token})
    status, headers, body = get(
        port,
        "/login/",
        method="POST",
        body=form,
        headers={
            "Content-Type": "application/x-www-form-urlencoded",
            "Cookie": f"csrftoken={jar['csrftoken']}",
            "Referer": f"http://127.0.0.1:{port}/login/",
        },
    )
    jar.update(cookies(headers))
    assert status == 302 and "sessionid" in jar, (status, body[-3000:])
    return html, f"sessionid={jar['sessionid']}; csrftoken={jar['csrftoken']}"


def assert_served_like_production(port: int, path: str) -> None:
    extension = path.rsplit(".", 1)[-1]
    assert HASHED.search(path), f"{path} is not a hashed name (collectstatic's manifest)"
    status, headers, body = get(port, path)
    assert status == 200, path
    assert headers["Content-Type"].split(";")[0] == TYPES[extension], (path, headers)
    assert "max-age=315360000" in headers["Cache-Control"], (path, headers["Cache-Control"])
    assert "immutable" in headers["Cache-Control"]
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert body, path
    # the compressed copy collectstatic wrote is what a browser gets
    status, headers, gz = get(port, path, headers={"Accept-Encoding": "gzip"})
    assert status == 200 and headers["Content-Encoding"] == "gzip", path
    assert len(gz) < len(body)


def test_pages_and_every_linked_asset_under_gunicorn_with_debug_off(gunicorn, personas):
    port = gunicorn
    production_password(personas.member)
    login_html, session = sign_in(port, personas.member.username)
    status, _, body = get(port, f"/t/{personas.alpha.slug}/", headers={"Cookie": session})
    assert status == 200, body[:1000]
    tenant_html = body.decode()
    assert f"/t/{personas.alpha.slug}/" in tenant_html

    assets = set(STATIC_LINK.findall(login_html)) | set(STATIC_LINK.findall(tenant_html))
    for expected in ("css/app.", "js/app.", "django_htmx/htmx", "img/favicon."):
        assert any(path.startswith(f"/static/{expected}") for path in assets), (expected, assets)
    for path in sorted(assets):
        assert_served_like_production(port, path)

    assert get(port, "/static/no/such/file.css")[0] == 404
    # DEBUG is really off: an unknown page is the app's 404, not Django's technical page
    status, _, body = get(port, "/no-such-page/")
    assert status == 404 and b"URLconf" not in body and b"DEBUG = True" not in body

    # the web service's health check from docker-compose.yml, pointed at this server
    check = COMPOSE["services"]["web"]["healthcheck"]["test"][1:]
    check = [arg.replace("127.0.0.1:8000", f"127.0.0.1:{port}") for arg in check]
    env = {"PATH": os.environ["PATH"], "ALLOWED_HOSTS": PRODUCTION["ALLOWED_HOSTS"]}
    assert subprocess.run(check, env=env, capture_output=True, timeout=30).returncode == 0
    env["ALLOWED_HOSTS"] = "elsewhere.example.com"  # a host gunicorn does not answer to
    assert subprocess.run(check, env=env, capture_output=True, timeout=30).returncode != 0
