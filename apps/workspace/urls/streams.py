from django.urls import path

from apps.workspace.views import streams as views

app_name = "stream"

urlpatterns = [
    path("projects/<slug:slug>/stream/", views.stream_detail, name="stream-detail"),
]
