from __future__ import annotations

from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.db import connection
from django.http import HttpResponseRedirect, JsonResponse
from django.shortcuts import render
from django.utils.http import url_has_allowed_host_and_scheme

from apps.tenants.models import Membership


def _active_memberships(user):
    return (
        Membership.objects.filter(user=user, tenant__is_active=True)
        .select_related("tenant")
        .order_by("tenant__name")
    )


def home(request):
    if not request.user.is_authenticated:
        return render(request, "tenants/landing.html")
    memberships = list(_active_memberships(request.user))
    if len(memberships) == 1:
        return HttpResponseRedirect(memberships[0].tenant.url_prefix)
    return render(request, "tenants/picker.html", {"memberships": memberships})


@login_required
def tenant_picker(request):
    memberships = list(_active_memberships(request.user))
    return render(request, "tenants/picker.html", {"memberships": memberships})


class LoginView(auth_views.LoginView):
    template_name = "tenants/login.html"
    redirect_authenticated_user = True

    def get_success_url(self):
        target = self.get_redirect_url()
        if target and url_has_allowed_host_and_scheme(
            target, allowed_hosts={self.request.get_host()}
        ):
            return target
        return "/"


def healthz(request):
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    return JsonResponse({"status": "ok"})


def not_found(request, exception=None):
    return render(request, "404.html", status=404)
