"""The friendly 503 while PostgreSQL is unreachable (aiops/outage.py), against real PostgreSQL.

Requests go through Django's real WSGI handler in this thread, the way gunicorn calls it
(the test client skips the connection housekeeping that recovery depends on). Two real
outages: a closed port (connection refused) and this request's backend terminated by an
administrator (`pg_terminate_backend`, what `pg_ctl stop -m fast` does to every backend).
A restart of a whole cluster, "starting up" and "shutting down" included, is attacked by
prove/jobs_faults.py on a private cluster.
"""

from __future__ import annotations

import logging
import socket
import time
from functools import cache
from wsgiref.util import setup_testing_defaults

import psycopg
import pytest
from django.core.handlers.wsgi import WSGIHandler
from django.db import DataError, OperationalError, connection, transaction

from aiops.outage import RETRY_AFTER_SECONDS, is_outage, retry_transient
from conftest import MARKERS


@cache
def _app() -> WSGIHandler:
    return WSGIHandler()


def wsgi_get(path: str, *, htmx: bool = False, cookie: str = "", method: str = "GET"):
    """(status, headers, body) of one request through the WSGI handler."""
    environ: dict = {}
    setup_testing_defaults(environ)
    environ.update(PATH_INFO=path, REQUEST_METHOD=method, HTTP_HOST="testserver")
    if htmx:
        environ["HTTP_HX_REQUEST"] = "true"
    if cookie:
        environ["HTTP_COOKIE"] = cookie
    started: list = []
    result = _app()(
        environ, lambda status, headers, exc_info=None: started.append((status, headers))
    )
    try:
        body = b"".join(result)
    finally:
        result.close()  # request_finished: Django drops unusable connections here
    status, headers = started[0]
    return int(status.split()[0]), dict(headers), body.decode()


def assert_friendly_503(status: int, headers: dict, body: str, *, htmx: bool = False) -> None:
    assert status == 503, body[:500]
    assert headers["Retry-After"] == str(RETRY_AFTER_SECONDS)
    assert "default-src 'none'" in headers["Content-Security-Policy"]
    assert headers["Cache-Control"] == "no-store"
    for leak in ("Traceback", "OperationalError", "psycopg", "127.0.0.1", "Server Error"):
        assert leak not in body
    assert 'data-testid="outage-message"' in body
    if htmx:  # a fragment for the target, never a whole page inside a partial
        assert "<html" not in body and 'role="alert"' in body
    else:
        assert "<title>Back in a moment" in body and "database is not reachable" in body


PAGES = [
    ("/t/alpha/", False),  # tenant page: the domain lookup is the first query
    ("/t/alpha/incidents/1/", True),  # an HTMX request on a tenant page
    ("/t/nosuchteam/", False),  # an unknown tenant cannot be told apart while down
    ("/login/", False),  # public host
    ("/", True),
    ("/healthz", False),  # load balancers see 503 too
]


@pytest.fixture
def closed_port():
    """A port bound by this test and never listening: connecting to it is refused."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    yield sock.getsockname()[1]
    sock.close()


def test_connection_refused_gives_a_friendly_503(
    closed_port, django_db_blocker, monkeypatch, caplog
):
    with django_db_blocker.unblock():
        connection.close()
        monkeypatch.setitem(connection.settings_dict, "HOST", "127.0.0.1")
        monkeypatch.setitem(connection.settings_dict, "PORT", str(closed_port))
        try:
            with caplog.at_level(logging.INFO):
                for path, htmx in PAGES:
                    assert_friendly_503(*wsgi_get(path, htmx=htmx), htmx=htmx)
                assert_friendly_503(*wsgi_get("/login/", method="POST"))
        finally:
            connection.close()
    # one WARNING per request, no ERROR and no traceback: an outage is not a bug
    outage = [r for r in caplog.records if r.name in ("aiops.outage", "django.request")]
    assert [(r.name, r.levelname) for r in outage] == [("aiops.outage", "WARNING")] * (
        len(PAGES) + 1
    )
    assert not any(r.exc_info for r in outage)


def _admin() -> psycopg.Connection:
    db = connection.settings_dict
    return psycopg.connect(
        host=db["HOST"],
        port=db["PORT"] or None,
        user=db["USER"],
        password=db["PASSWORD"] or None,
        dbname=db["NAME"],
        autocommit=True,
    )


def terminate_backend(pid: int) -> None:
    """What an administrator (or a fast shutdown) does to one server process."""
    with _admin() as admin:
        assert admin.execute("SELECT pg_terminate_backend(%s)", [pid]).fetchone()[0]
        for _ in range(200):
            alive = admin.execute("SELECT 1 FROM pg_stat_activity WHERE pid = %s", [pid])
            if alive.fetchone() is None:
                return
            time.sleep(0.01)
    raise AssertionError(f"backend {pid} still alive")


@pytest.fixture
def member_cookie(client, personas) -> str:
    client.force_login(personas.member)
    return f"sessionid={client.cookies['sessionid'].value}"


@pytest.mark.django_db(transaction=True)
def test_backend_terminated_mid_request_gives_503_then_recovers(member_cookie, monkeypatch):
    marker = MARKERS["alpha"]
    status, _, body = wsgi_get("/t/alpha/", cookie=member_cookie)
    assert status == 200 and marker in body
    pid = connection.connection.info.backend_pid  # the persistent connection (CONN_MAX_AGE)

    # between requests, the connection health check heals a killed connection unseen
    terminate_backend(pid)
    status, _, body = wsgi_get("/t/alpha/", cookie=member_cookie)
    assert status == 200 and marker in body
    assert connection.connection.info.backend_pid != pid

    # killed after the check, while the request works: the friendly 503, not a 500
    monkeypatch.setitem(connection.settings_dict, "CONN_HEALTH_CHECKS", False)
    connection.close()
    assert wsgi_get("/t/alpha/", cookie=member_cookie)[0] == 200
    terminate_backend(connection.connection.info.backend_pid)
    assert_friendly_503(*wsgi_get("/t/alpha/", cookie=member_cookie))
    # the dead connection was dropped when that request finished: the next one is served
    status, _, body = wsgi_get("/t/alpha/", cookie=member_cookie)
    assert status == 200 and marker in body
    terminate_backend(connection.connection.info.backend_pid)
    assert_friendly_503(
        *wsgi_get("/t/alpha/incidents/1/", htmx=True, cookie=member_cookie), htmx=True
    )
    assert wsgi_get("/healthz")[0] == 200


@pytest.mark.django_db
def test_only_an_unreachable_database_is_an_outage():
    """Real errors from real queries: a wrong query stays a 500 (and is not retried)."""
    with connection.cursor() as cursor:
        with pytest.raises(DataError) as division, transaction.atomic():
            cursor.execute("SELECT 1 / 0")
        with pytest.raises(OperationalError) as timeout, transaction.atomic():
            cursor.execute("SET LOCAL statement_timeout = '20ms'")
            cursor.execute("SELECT pg_sleep(2)")
    assert timeout.value.__cause__.sqlstate == "57014"  # an OperationalError, not an outage
    assert not is_outage(division.value) and not is_outage(timeout.value)
    tries = []

    def wrong() -> None:
        tries.append(1)
        with connection.cursor() as cursor, transaction.atomic():
            cursor.execute("SELECT 1 / 0")

    with pytest.raises(DataError):
        retry_transient(wrong, what="test")
    assert len(tries) == 1


@pytest.mark.django_db(transaction=True)
def test_a_job_step_rides_out_a_terminated_connection(monkeypatch):
    from apps.tenants.models import Tenant

    monkeypatch.setitem(connection.settings_dict, "CONN_HEALTH_CHECKS", False)
    connection.close()
    connection.ensure_connection()
    first = connection.connection.info.backend_pid
    terminate_backend(first)
    with pytest.raises(OperationalError) as killed:
        Tenant.objects.count()
    assert is_outage(killed.value)
    connection.close()
    connection.ensure_connection()
    terminate_backend(connection.connection.info.backend_pid)
    tries = []

    def step() -> int:
        tries.append(connection.connection.info.backend_pid if connection.connection else None)
        with connection.cursor() as cursor:
            cursor.execute("SELECT 42")
            return cursor.fetchone()[0]

    assert retry_transient(step, what="test") == 42
    assert len(tries) == 2  # killed once, reconnected, done
