from django.urls import path

from apps.workspace.views import stream_settings as settings_views
from apps.workspace.views import streams as views

app_name = "stream"

urlpatterns = [
    path("projects/<slug:slug>/stream/", views.stream_detail, name="stream-detail"),
    path("projects/<slug:slug>/stream/incident/", views.stream_incident, name="stream-incident"),
    path(
        "projects/<slug:slug>/stream/settings/",
        settings_views.stream_settings,
        name="stream-settings",
    ),
    path(
        "projects/<slug:slug>/stream/settings/tokens/",
        settings_views.token_create,
        name="token-create",
    ),
    path(
        "projects/<slug:slug>/stream/settings/tokens/revoke/",
        settings_views.token_revoke,
        name="token-revoke",
    ),
    path(
        "projects/<slug:slug>/stream/settings/retention/",
        settings_views.retention_update,
        name="retention-update",
    ),
]
