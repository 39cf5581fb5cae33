from django.urls import path

from apps.analysis import views

app_name = "analysis"

urlpatterns = [
    path("incidents/<int:incident_id>/analysis/", views.analysis_detail, name="analysis-detail"),
    path(
        "incidents/<int:incident_id>/analysis/start/", views.analysis_start, name="analysis-start"
    ),
    path(
        "incidents/<int:incident_id>/analysis/preview/",
        views.analysis_preview,
        name="analysis-preview",
    ),
    path("settings/ai/", views.settings_edit, name="settings-edit"),
    path("settings/ai/test/", views.settings_test, name="settings-test"),
]
