"""Deploy receivers under /ingest/deploys on the public URLconf (the token or signature decides
the tenant and the project)."""

from django.urls import path

from apps.deploys import views

app_name = "deploys"

urlpatterns = [
    path("", views.marker, name="marker"),
    path("/github", views.github, name="github"),
    path("/gitlab", views.gitlab, name="gitlab"),
    path("/argocd", views.argocd, name="argocd"),
]
