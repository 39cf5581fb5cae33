"""The always-on slice of `prove/isolation.py`: interleaved requests from two tenants' sessions
against a real gunicorn (gthread workers and threads), every tenant object URL with own,
foreign and unknown ids, with and without `HX-Request`, and each session on the other tenant.
No response may carry another tenant's marker, none may be a 5xx."""

from __future__ import annotations

import pytest

from conftest import MARKERS
from prove.isolation import fire, foreign_markers, gunicorn, id_sets, login, probes

REQUESTS = 1000


def test_marker_check_sees_a_foreign_marker():
    page = f"<p>incident {MARKERS['beta']}</p>".encode()
    assert foreign_markers(page, "text/html", MARKERS["alpha"]) == [MARKERS["beta"]]
    assert foreign_markers(page, "text/html", MARKERS["beta"]) == []
    assert foreign_markers(page, "text/html", None) == [MARKERS["beta"]]


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_interleaved_requests_on_gunicorn_never_cross_tenants(personas):
    tenants = {"alpha": personas.alpha, "beta": personas.beta}
    users = {"alice": "alpha", "charlie": "beta"}
    plan = probes(tenants, users, id_sets(tenants))
    with gunicorn(workers=2, threads=4) as port:
        cookies = {user: login(port, user) for user in users}
        result = fire(port, plan, cookies, total=REQUESTS, threads=8)
    assert result.requests == REQUESTS, result.transport_errors[:5]
    assert result.leaks == []
    assert result.server_errors == []
    # the check can see markers: members' own pages show theirs
    assert result.own_marker["alpha"] > 0
    assert result.own_marker["beta"] > 0
    assert result.statuses[404] > 0  # foreign sessions and unknown ids were refused
