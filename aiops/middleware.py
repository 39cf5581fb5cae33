"""Refuse control characters in the address before any view or query sees them.

PostgreSQL cannot store or compare a NUL byte (psycopg raises before the query is sent), so a
`?q=%00` reached five pages as an HTTP 500. Other C0 controls (and DEL) have no business in a
search term, a service name or a slug either. Tab, newline and carriage return are allowed in
parameter values: a pasted multi-line query is legitimate. Checked in one place, ahead of
django-tenants (whose domain lookup queries the path's slug), for every view.
"""

from __future__ import annotations

import re

from django.http import HttpRequest, HttpResponse

# C0 controls and DEL, but not tab (09), newline (0a) or carriage return (0d)
_IN_VALUES = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
# parameter names and the path get no whitespace controls at all
_IN_NAMES = re.compile(r"[\x00-\x1f\x7f]")


def control_character_in(request: HttpRequest) -> str | None:
    """Where a refused control character is (for the message), or None."""
    if _IN_NAMES.search(request.path):
        return "the path"
    for name, values in request.GET.lists():
        if _IN_NAMES.search(name):
            return "a parameter name"
        if any(_IN_VALUES.search(value) for value in values):
            return f"parameter {name!r}"
    return None


class RejectControlCharactersMiddleware:
    """A 400 for a request whose path or query string holds a control character."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        where = control_character_in(request)
        if where is None:
            return self.get_response(request)
        response = HttpResponse(
            f"Bad request: control characters are not allowed in {where}.\n",
            status=400,
            content_type="text/plain; charset=utf-8",
        )
        response["X-Content-Type-Options"] = "nosniff"
        response["Cache-Control"] = "no-store"
        return response
