from django.urls import path

from apps.rules import views

app_name = "rules"

urlpatterns = [
    path("rules/", views.rule_list, name="rule-list"),
    path("rules/catalogue/<str:rule_id>/", views.rule_detail, name="rule-detail"),
    path("rules/catalogue/<str:rule_id>/toggle/", views.rule_toggle, name="rule-toggle"),
    path("rules/catalogue/<str:rule_id>/tune/", views.rule_tune, name="rule-tune"),
    path("rules/custom/new/", views.custom_create, name="custom-create"),
    path("rules/custom/<int:custom_id>/", views.custom_detail, name="custom-detail"),
    path("rules/custom/<int:custom_id>/edit/", views.custom_update, name="custom-update"),
    path("rules/custom/<int:custom_id>/toggle/", views.custom_toggle, name="custom-toggle"),
    path("rules/custom/<int:custom_id>/delete/", views.custom_delete, name="custom-delete"),
]
