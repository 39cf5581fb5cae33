"""Error pages in the app's layout: 403, 404, 500 and the CSRF failure page.

403 and 404 are rendered with the request (the database is fine when a view refuses), in
base.html. A 404 shows no tenant in its header unless the user is a member of it, so a
non-member's 404 on a real tenant is the same page as a 404 on a tenant that does not exist.
The 500 page is rendered by a template engine of its own with an empty context: no context
processors, no session, no database, nothing that may be what just failed.
"""

from __future__ import annotations

from functools import cache

from django.conf import settings
from django.http import HttpRequest, HttpResponse, HttpResponseServerError
from django.shortcuts import render
from django.template import Context, Engine

_HIDE_TENANT = {"current_tenant": None, "membership": None, "can_write": False, "is_owner": False}


def _is_htmx(request: HttpRequest) -> bool:
    return request.headers.get("HX-Request") == "true"


def _tenant_context(request: HttpRequest) -> dict:
    """Show the tenant in the header only to its members."""
    return {} if getattr(request, "membership", None) is not None else dict(_HIDE_TENANT)


def not_found(request: HttpRequest, exception=None) -> HttpResponse:
    name = "404.html#htmx" if _is_htmx(request) else "404.html"
    return render(request, name, _tenant_context(request), status=404)


def forbidden(request: HttpRequest, exception=None) -> HttpResponse:
    message = str(exception or "") if isinstance(exception, Exception) else ""
    context = {**_tenant_context(request), "reason": message}
    name = "403.html#htmx" if _is_htmx(request) else "403.html"
    return render(request, name, context, status=403)


def csrf_failure(request: HttpRequest, reason: str = "") -> HttpResponse:
    """CSRF_FAILURE_VIEW: usually a form left open across a sign-out, or cookies blocked."""
    context = {
        **_tenant_context(request),
        "csrf_failure": True,
        "reason": "The form had expired or your browser did not send its security cookie. "
        "Go back, reload the page and try again.",
    }
    name = "403.html#htmx" if _is_htmx(request) else "403.html"
    return render(request, name, context, status=403)


@cache
def _plain_engine() -> Engine:
    return Engine(
        dirs=[settings.BASE_DIR / "templates"],
        libraries={"static": "django.templatetags.static"},
        debug=False,
    )


def server_error(request: HttpRequest | None = None) -> HttpResponse:
    body = _plain_engine().get_template("500.html").render(Context({}))
    return HttpResponseServerError(body, content_type="text/html; charset=utf-8")
