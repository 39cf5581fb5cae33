"""Deny by default: every tenant URL needs a signed-in member of that tenant.

Runs after django-tenants has selected the schema from /t/<slug>/ and after authentication.
Anonymous users are sent to the login page; signed-in non-members, and everyone on an
inactive tenant, get a 404 — the same answer as for a tenant that does not exist, so tenant
names cannot be probed.
"""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth.views import redirect_to_login
from django.http import Http404
from django_tenants.utils import get_public_schema_name

from apps.tenants.models import Membership


class TenantAccessMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        tenant = getattr(request, "tenant", None)
        if tenant is None or tenant.schema_name == get_public_schema_name():
            return self.get_response(request)
        if not tenant.is_active:
            raise Http404("No such tenant")
        if not request.user.is_authenticated:
            return redirect_to_login(request.get_full_path(), settings.LOGIN_URL)
        membership = (
            Membership.objects.filter(tenant_id=tenant.pk, user_id=request.user.pk)
            .select_related("tenant")
            .first()
        )
        if membership is None:
            raise Http404("No such tenant")
        request.membership = membership
        return self.get_response(request)
