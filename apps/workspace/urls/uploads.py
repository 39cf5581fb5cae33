from django.urls import path

from apps.workspace.views import uploads as views

app_name = "ingestion"

urlpatterns = [
    path("projects/<slug:slug>/incidents/new/", views.incident_create, name="incident-create"),
    path("incidents/<int:incident_id>/files/", views.files_add, name="files-add"),
    path(
        "incidents/<int:incident_id>/progress/", views.incident_progress, name="incident-progress"
    ),
    path("sources/<int:source_id>/delete/", views.source_delete, name="source-delete"),
    path("sources/<int:source_id>/header/", views.source_header, name="source-header"),
]
