"""Login brute force against the running server: both sign-in pages, over real HTTP.

    python prove/bruteforce.py        (or `make prove`)

Four attacks, each from a fresh throttling state, each ending with the right password:
one account guessed 30 times on /login/ and 10 times on /admin/login/; one account guessed
with a new X-Forwarded-For on every try (the server trusts no proxy); and a password spray,
one guess at each of 30 accounts from one address. Pass: the right password never signs in
after the attack, and no more than LOGIN_FAILURE_LIMIT guesses per attack are even evaluated
(answered with the sign-in form instead of the 429 lock-out).
"""

from __future__ import annotations

import re
import sys
import urllib.error
import urllib.parse
import urllib.request
from http.cookiejar import CookieJar
from pathlib import Path

if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from prove.common import run_module

    sys.exit(run_module(__file__, "bruteforce"))

import pytest
from axes.utils import reset
from django.conf import settings
from django.contrib.auth import get_user_model

from prove.common import write_result

pytestmark = pytest.mark.django_db(transaction=True)
RIGHT = "the-right-password-42"
CSRF = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')


class Browser:
    """A cookie-keeping HTTP client that signs in the way a person's browser does."""

    def __init__(self, base: str) -> None:
        self.base = base
        self.opener = urllib.request.build_opener(
            urllib.request.HTTPCookieProcessor(CookieJar()), _NoRedirect()
        )

    def login(self, page: str, username: str, password: str, **headers: str) -> int:
        form = self.opener.open(self.base + page, timeout=10).read().decode()
        token = CSRF.search(form)
        assert token, f"no CSRF token on {page}"
        body = urllib.parse.urlencode(
            {"username": username, "password": password, "csrfmiddlewaretoken": token.group(1)}
        ).encode()
        # the live server's own http:// URL
        request = urllib.request.Request(self.base + page, data=body, headers=headers)  # noqa: S310
        try:
            return self.opener.open(request, timeout=10).status
        except urllib.error.HTTPError as exc:  # 302 (signed in), 429 (locked out), 403 …
            return exc.code


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None  # a 302 after a successful sign-in is the answer we want to see


def _attack(base: str, page: str, guesses: list[tuple[str, dict]], victim: str) -> dict:
    """Send the guesses (username, extra headers), then the victim's right password."""
    reset()
    evaluated = sum(
        Browser(base).login(page, user, "wrong-guess", **headers) == 200
        for user, headers in guesses
    )
    final = Browser(base).login(page, victim, RIGHT)
    return {"page": page, "guesses": len(guesses), "evaluated": evaluated, "final": final}


def test_bruteforce(live_server):
    users = get_user_model().objects
    users.create_user("victim", password=RIGHT)
    users.create_superuser("root-victim", "root@example.com", RIGHT)
    for i in range(30):
        users.create_user(f"spray-{i:02d}", password=RIGHT)
    base = live_server.url
    limit = settings.AXES_FAILURE_LIMIT
    attacks = {
        "30 guesses at one account on /login/": _attack(
            base, "/login/", [("victim", {})] * 30, "victim"
        ),
        "10 guesses at a superuser on /admin/login/": _attack(
            base, "/admin/login/", [("root-victim", {})] * 10, "root-victim"
        ),
        "30 guesses, a new X-Forwarded-For each": _attack(
            base,
            "/login/",
            [("victim", {"X-Forwarded-For": f"203.0.113.{i}"}) for i in range(30)],
            "victim",
        ),
        "password spray: 30 accounts, one guess each": _attack(
            base, "/login/", [(f"spray-{i:02d}", {}) for i in range(30)], "spray-29"
        ),
    }
    broke = [
        f"{name}: the right password signed in ({row['final']})"
        for name, row in attacks.items()
        if row["final"] == 302
    ] + [
        f"{name}: {row['evaluated']} guesses evaluated (limit {limit})"
        for name, row in attacks.items()
        if row["evaluated"] > limit
    ]
    write_result(
        "bruteforce",
        what="Login brute force over HTTP: one account, superuser on the admin, "
        "spoofed X-Forwarded-For, password spray",
        how_many=f"{sum(r['guesses'] for r in attacks.values())} guesses in 4 attacks; "
        + "; ".join(f"{r['evaluated']} evaluated" for r in attacks.values()),
        broke="; ".join(broke)
        or "nothing: every attack locked out by the limit, the right password refused after it",
        ok=not broke,
        attacks=attacks,
    )
    assert not broke, broke
