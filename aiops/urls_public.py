"""URLs on the public root: landing, sign-in, tenant picker, platform admin, health."""

from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

from apps.tenants import team_views, views

urlpatterns = [
    path("", views.home, name="home"),
    path("login/", views.LoginView.as_view(), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("tenants/", views.tenant_picker, name="tenant-picker"),
    path("invite/<str:token>/", team_views.accept, name="invite-accept"),
    path("healthz", views.healthz, name="healthz"),
    path("admin/", admin.site.urls),
    path("ingest/deploys", include("apps.deploys.urls")),
    path("ingest/alerts/", include("apps.alerts.inbound.urls")),
    path("ingest/", include("apps.streams.urls")),
]

handler403 = "aiops.errors.forbidden"
handler404 = "aiops.errors.not_found"
handler500 = "aiops.errors.server_error"
