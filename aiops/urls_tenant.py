"""URLs inside a tenant, served under /t/<slug>/ (django-tenants adds the prefix)."""

from django.urls import include, path

urlpatterns = [
    path("", include("apps.workspace.urls.incidents")),
    path("", include("apps.workspace.urls.uploads")),
    path("", include("apps.workspace.urls.groups")),
    path("", include("apps.workspace.urls.streams")),
    path("", include("apps.rules.urls")),
    path("", include("apps.analysis.urls")),
    path("", include("apps.alerts.urls")),
    path("", include("apps.reports.urls")),
    path("", include("apps.tenants.team_urls")),
]

handler403 = "aiops.errors.forbidden"
handler404 = "aiops.errors.not_found"
handler500 = "aiops.errors.server_error"
