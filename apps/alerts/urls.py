from django.urls import path

from apps.alerts import views

app_name = "alerts"

urlpatterns = [
    path("projects/<slug:slug>/alerts/", views.alert_settings, name="alert-settings"),
    path("projects/<slug:slug>/alerts/channels/", views.channel_add, name="channel-add"),
    path(
        "projects/<slug:slug>/alerts/channels/action/",
        views.channel_action,
        name="channel-action",
    ),
    path("projects/<slug:slug>/alerts/rules/", views.rule_add, name="rule-add"),
    path("projects/<slug:slug>/alerts/rules/action/", views.rule_action, name="rule-action"),
]
