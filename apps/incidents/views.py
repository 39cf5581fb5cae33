from __future__ import annotations

from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods

from apps.incidents import selectors, services
from apps.incidents.forms import ProjectForm
from apps.tenants.access import TenantHttpRequest, require_role
from apps.tenants.models import Role


def project_list(request: TenantHttpRequest):
    projects = list(selectors.projects_with_stats())
    return render(request, "incidents/project_list.html", {"projects": projects})


@require_role(Role.MEMBER)
@require_http_methods(["GET", "POST"])
def project_create(request: TenantHttpRequest):
    form = ProjectForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        project = services.create_project(
            name=form.cleaned_data["name"],
            description=form.cleaned_data["description"],
            created_by=request.user,
        )
        return redirect("incidents:project-detail", slug=project.slug)
    return render(request, "incidents/project_form.html", {"form": form})


def project_detail(request: TenantHttpRequest, slug: str):
    project = selectors.get_project_for_request(request, slug)
    incidents = list(project.incidents.all()[:50])
    return render(
        request, "incidents/project_detail.html", {"project": project, "incidents": incidents}
    )
