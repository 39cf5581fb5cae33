from django.urls import path

from apps.workspace.views import groups as views

app_name = "groups"

urlpatterns = [
    path("projects/<slug:slug>/groups/", views.group_list, name="group-list"),
    path("projects/<slug:slug>/groups/<str:group_id>/", views.group_detail, name="group-detail"),
    path(
        "projects/<slug:slug>/groups/<str:group_id>/merge/", views.group_merge, name="group-merge"
    ),
    path(
        "projects/<slug:slug>/groups/<str:group_id>/split/", views.group_split, name="group-split"
    ),
    path(
        "incidents/<int:incident_id>/groups/<str:group_id>/",
        views.incident_group_detail,
        name="incident-group-detail",
    ),
]
