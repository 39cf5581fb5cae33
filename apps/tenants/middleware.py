"""Deny by default: every tenant URL needs a signed-in member of that tenant.

`TenantSubfolderMiddleware` selects the schema from /t/<slug>/; `TenantAccessMiddleware` runs
after authentication and decides. Anonymous users are sent to the login page for every
/t/<slug>/ — whether the tenant exists, is inactive or is missing — so the redirect tells
nothing. Signed-in non-members, and everyone on an inactive or missing tenant, get the same
404, so tenant names cannot be probed.
"""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth.views import redirect_to_login
from django.db import connection
from django.http import Http404
from django_tenants.middleware import TenantSubfolderMiddleware as _SubfolderMiddleware
from django_tenants.utils import get_public_schema_name

from apps.tenants.models import Membership

MISSING_TENANT = "_aiops_missing_tenant"


class TenantSubfolderMiddleware(_SubfolderMiddleware):
    """django-tenants' subfolder routing, but an unknown slug is decided later, not here.

    django-tenants raises 404 for an unknown slug before the session is even read, which told
    anonymous visitors which tenants exist (302 for a real one, 404 for a made-up one). Here
    the request is only marked, stays on the public schema with no tenant URLconf, and
    `TenantAccessMiddleware` answers it exactly as it answers a tenant one cannot enter.
    """

    def no_tenant_found(self, request, hostname):
        connection.set_schema_to_public()
        setattr(request, MISSING_TENANT, True)


class TenantAccessMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        missing = getattr(request, MISSING_TENANT, False)
        tenant = getattr(request, "tenant", None)
        if not missing and (tenant is None or tenant.schema_name == get_public_schema_name()):
            return self.get_response(request)
        if not request.user.is_authenticated:
            return redirect_to_login(request.get_full_path(), settings.LOGIN_URL)
        if missing or not tenant.is_active:
            raise Http404("No such tenant")
        membership = (
            Membership.objects.filter(tenant_id=tenant.pk, user_id=request.user.pk)
            .select_related("tenant")
            .first()
        )
        if membership is None:
            raise Http404("No such tenant")
        request.membership = membership
        return self.get_response(request)
