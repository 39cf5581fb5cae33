"""Riding out a database outage: a friendly 503 for web requests, bounded retries for jobs.

PostgreSQL goes away for a moment on every restart, failover or `pg_ctl stop`: connections are
refused, new ones hear "the database system is starting up / shutting down", and open ones are
terminated by an administrator command. None of that is a bug in the request, so nobody should
see a 500 or a traceback for it.

- `DatabaseOutageMiddleware` (first in MIDDLEWARE, outside django-tenants, whose domain lookup
  is the first query of every request) turns a response that failed because the database was
  unreachable into a 503 with `Retry-After`: the page from templates/503.html, or for an HTMX
  request its `htmx` partial. Django converts exceptions to 500 responses inside every
  middleware layer, so the exception is noted from the `got_request_exception` signal and the
  500 is replaced on its way out. The page is rendered by a template engine of its own, without
  context processors: nothing on the way out touches the database.
- `retry_transient()` runs one database step of a background job again after a reconnect, so a
  restart mid-job costs a pause instead of a job stuck `running`.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from functools import cache

import psycopg
from django.conf import settings
from django.core.signals import got_request_exception
from django.db import DatabaseError, InterfaceError, OperationalError, connection
from django.http import HttpRequest, HttpResponse
from django.template import Context, Engine

log = logging.getLogger(__name__)

RETRY_AFTER_SECONDS = 15
# SQLSTATEs meaning "the server is not there for us right now" (not "this query is wrong"):
# 08 connection exceptions, 57P01-03 admin/crash shutdown and cannot-connect-now, 53300 too
# many connections. Errors without a SQLSTATE never reached the server (refused, reset).
OUTAGE_SQLSTATE_PREFIXES = ("08", "57P01", "57P02", "57P03", "53300")
_MARK = "_aiops_database_outage"


def is_outage(exc: BaseException) -> bool:
    """True when ``exc`` says the database is unreachable, not that a query went wrong."""
    if isinstance(exc, InterfaceError):  # the connection is closed or lost
        return True
    if not isinstance(exc, DatabaseError):
        return False
    cause = exc.__cause__
    sqlstate = getattr(cause, "sqlstate", None)
    if sqlstate:
        return sqlstate.startswith(OUTAGE_SQLSTATE_PREFIXES)
    # no answer from a server: connection refused, reset, or closed while connecting
    return isinstance(exc, OperationalError) or isinstance(
        cause, psycopg.OperationalError | psycopg.InterfaceError
    )


def _note_exception(sender, request=None, **kwargs) -> None:
    import sys

    exc = sys.exc_info()[1]
    if request is not None and exc is not None and is_outage(exc):
        setattr(request, _MARK, exc)


def _not_an_outage_traceback(record: logging.LogRecord) -> bool:
    exc = record.exc_info[1] if record.exc_info else None
    return exc is None or not is_outage(exc)


@cache
def _engine() -> Engine:
    """templates/ only, `static` loaded, no context processors: renders with the database down."""
    return Engine(
        dirs=[settings.BASE_DIR / "templates"],
        libraries={"static": "django.templatetags.static"},
        debug=False,
    )


def _is_htmx(request: HttpRequest) -> bool:
    return request.headers.get("HX-Request") == "true"


def outage_response(request: HttpRequest) -> HttpResponse:
    """The 503 a user gets while the database is unreachable (page, or partial for HTMX)."""
    name = "503.html#htmx" if _is_htmx(request) else "503.html"
    body = _engine().get_template(name).render(Context({"retry_after": RETRY_AFTER_SECONDS}))
    response = HttpResponse(body, status=503, content_type="text/html; charset=utf-8")
    response["Retry-After"] = str(RETRY_AFTER_SECONDS)
    response["Cache-Control"] = "no-store"
    # the inner middleware (CSP, nosniff, framing) did not see this response
    response["Content-Security-Policy"] = (
        "default-src 'none'; style-src 'self'; img-src 'self'; base-uri 'none'; "
        "form-action 'self'; frame-ancestors 'none'"
    )
    response["X-Content-Type-Options"] = "nosniff"
    response["X-Frame-Options"] = "DENY"
    response["Referrer-Policy"] = "same-origin"
    # Django logs every 5xx as an ERROR ("Service Unavailable: /path"); the middleware's one
    # WARNING says it better, so an outage does not flood the error log
    response._has_been_logged = True
    return response


class DatabaseOutageMiddleware:
    """First in MIDDLEWARE: a request that failed because PostgreSQL was unreachable gets a 503."""

    sync_capable = True
    async_capable = False

    def __init__(self, get_response):
        self.get_response = get_response
        got_request_exception.connect(_note_exception, dispatch_uid="aiops-database-outage")
        # one warning line per request (below) instead of a traceback per request
        logging.getLogger("django.request").addFilter(_not_an_outage_traceback)

    def __call__(self, request: HttpRequest) -> HttpResponse:
        try:
            response = self.get_response(request)
        except Exception as exc:  # only with DEBUG_PROPAGATE_EXCEPTIONS
            if not is_outage(exc):
                raise
            setattr(request, _MARK, exc)
            response = None
        exc = getattr(request, _MARK, None)
        if exc is None or (response is not None and response.status_code < 500):
            return response
        log.warning(
            "database unavailable, 503 for %s %s (%s: %s)",
            request.method,
            request.path,
            type(exc).__name__,
            str(exc).strip().splitlines()[0][:200] if str(exc).strip() else "",
        )
        return outage_response(request)


def retry_transient[T](
    step: Callable[[], T], *, what: str, attempts: int = 8, max_wait: float = 10.0
) -> T:
    """Run one database step of a job; after an outage error, reconnect and run it again.

    Waits 0.5 s, 1 s, 2 s … (at most ``max_wait``) between tries, about 40 s in all with the
    defaults: a restart or failover, not a long outage. The last error is raised. Each step
    must be safe to run twice (a compare-and-set, or a read): the first try may have committed
    before its connection died. Never call this inside `transaction.atomic`.
    """
    for attempt in range(attempts):
        try:
            return step()
        except DatabaseError as exc:
            if not is_outage(exc) or attempt == attempts - 1:
                raise
            log.warning("%s: database unavailable (%s), retrying", what, type(exc).__name__)
            connection.close()
            time.sleep(min(0.5 * 2**attempt, max_wait))
    raise AssertionError("unreachable")
