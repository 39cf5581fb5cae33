"""Login throttling hooks for django-axes (settings AXES_*): the client address and the page
a locked-out sign-in gets (our sign-in page with a clear message, HTTP 429)."""

from __future__ import annotations

import ipaddress
import math

from django.conf import settings
from django.contrib.auth.forms import AuthenticationForm
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.http import url_has_allowed_host_and_scheme


def _valid_ip(value: str) -> str | None:
    try:
        return str(ipaddress.ip_address(value.strip()))
    except ValueError:
        return None


def client_ip(request: HttpRequest) -> str | None:
    """REMOTE_ADDR; behind our TLS proxy (BEHIND_TLS_PROXY) the right-most X-Forwarded-For
    entry, which is the one the proxy itself appended. Entries to its left came from the
    client and are never trusted (else anyone could rotate addresses to dodge the limit)."""
    if settings.BEHIND_TLS_PROXY:
        forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "")
        entries = [entry for entry in forwarded.split(",") if entry.strip()]
        if entries and (address := _valid_ip(entries[-1])):
            return address
    return _valid_ip(request.META.get("REMOTE_ADDR", "")) or request.META.get("REMOTE_ADDR")


def cooloff_minutes() -> int:
    return max(1, math.ceil(settings.AXES_COOLOFF_TIME.total_seconds() / 60))


def lockout_response(request: HttpRequest, original_response=None, credentials=None):
    """The sign-in page again, with the lockout explained, as 429 with Retry-After."""
    minutes = cooloff_minutes()
    form = AuthenticationForm(request)
    target = request.POST.get("next") or request.GET.get("next") or ""
    if not url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}):
        target = ""
    if not target and request.path.startswith("/admin/"):
        target = "/admin/"
    response: HttpResponse = render(
        request,
        "tenants/login.html",
        {
            "form": form,
            "next": target,
            "locked_out": True,
            "lockout_message": (
                "Too many failed sign-in attempts for this account or from your network. "
                f"Sign-in is paused for {minutes} minute{'s' if minutes != 1 else ''}; "
                "try again after that. Nothing you type until then is checked."
            ),
        },
        status=settings.AXES_HTTP_RESPONSE_CODE,
    )
    response["Retry-After"] = str(minutes * 60)
    return response
