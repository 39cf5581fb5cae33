from django.urls import path

from apps.workspace.views import incidents as views

app_name = "incidents"

urlpatterns = [
    path("", views.project_list, name="project-list"),
    path("projects/new/", views.project_create, name="project-create"),
    path("projects/<slug:slug>/", views.project_detail, name="project-detail"),
    path("incidents/<int:incident_id>/", views.incident_detail, name="incident-detail"),
    path("incidents/<int:incident_id>/triage/", views.incident_update, name="incident-update"),
    path(
        "incidents/<int:incident_id>/timeline/", views.incident_timeline, name="incident-timeline"
    ),
    path("incidents/<int:incident_id>/events/", views.event_list, name="event-list"),
    path(
        "incidents/<int:incident_id>/evidence/<int:source_id>/<int:line>/",
        views.evidence,
        name="evidence",
    ),
]
