"""Receivers under /ingest/ on the public URLconf (no tenant prefix: the token decides)."""

from django.urls import path, re_path

from apps.streams import views

app_name = "streams"

urlpatterns = [
    path("otlp/v1/logs", views.otlp_logs, name="otlp-logs"),
    path("loki/api/v1/push", views.loki_push, name="loki-push"),
    path("es", views.elastic_info),
    path("es/", views.elastic_info, name="es-info"),
    path("es/_bulk", views.elastic_bulk, name="es-bulk"),
    re_path(r"^es/(?P<index>[^/_][^/]{0,254})/_bulk$", views.elastic_bulk, name="es-index-bulk"),
    path("hec/services/collector", views.hec_event),
    path("hec/services/collector/event", views.hec_event, name="hec-event"),
    path("hec/services/collector/event/1.0", views.hec_event),
    path("hec/services/collector/health", views.hec_health, name="hec-health"),
    path("http", views.http_lines, name="http"),
]
