"""Alert receivers under /ingest/alerts/ on the public URLconf (no tenant prefix)."""

from django.urls import path

from apps.alerts.inbound import views

app_name = "alerts_in"

urlpatterns = [
    path("alertmanager", views.alertmanager, name="alertmanager"),
    path("grafana", views.grafana, name="grafana"),
]
