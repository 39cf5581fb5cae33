"""A project's stream settings (owners): ingest tokens — create with a name and scopes, see
each one's last use, revoke — and how many days of the stream are kept.

A new token is shown once, in the answer to the request that made it: only its hash is
stored. Tokens live in the public schema, so every lookup is by this tenant and project too.
One view serves the page and each section as an htmx partial."""

from __future__ import annotations

from django.http import Http404
from django.shortcuts import render
from django.views.decorators.http import require_GET, require_POST

from apps.incidents.selectors import get_project_for_request
from apps.ingestion.tokens import services as tokens
from apps.ingestion.tokens.models import IngestToken
from apps.streams import services
from apps.tenants.access import TenantHttpRequest, require_role
from apps.tenants.models import Role
from apps.workspace.stream_forms import RetentionForm, TokenForm

TEMPLATE = "streams/stream_settings.html"


def _context(request: TenantHttpRequest, project, **extra) -> dict:
    context = {
        "project": project,
        "tokens": tokens.project_tokens(tenant=request.tenant, project=project),
        "token_form": TokenForm(),
        "retention_form": RetentionForm(initial={"days": services.retention_days(project)}),
    }
    context.update(extra)
    return context


def _section(request: TenantHttpRequest, project, part: str, status=200, **extra):
    name = f"{TEMPLATE}#{part}" if request.htmx else TEMPLATE
    return render(request, name, _context(request, project, **extra), status=status)


@require_role(Role.OWNER)
@require_GET
def stream_settings(request: TenantHttpRequest, slug: str):
    project = get_project_for_request(request, slug)
    return render(request, TEMPLATE, _context(request, project))


@require_role(Role.OWNER)
@require_POST
def token_create(request: TenantHttpRequest, slug: str):
    project = get_project_for_request(request, slug)
    form = TokenForm(request.POST)
    if not form.is_valid():
        return _section(request, project, "tokens", status=422, token_form=form)
    row, text = tokens.create_token(
        tenant=request.tenant, project=project, name=form.cleaned_data["name"],
        scopes=form.cleaned_data["scopes"], created_by=request.user,
    )  # fmt: skip
    return _section(request, project, "tokens", created=row, new_token=text)


@require_role(Role.OWNER)
@require_POST
def token_revoke(request: TenantHttpRequest, slug: str):
    project = get_project_for_request(request, slug)
    token_id = request.POST.get("token", "")
    row = (
        IngestToken.objects.filter(
            tenant=request.tenant, project_id=project.pk, pk=token_id
        ).first()
        if token_id.isdigit()
        else None
    )
    if row is None:
        raise Http404("no such token in this project")
    tokens.revoke_token(token=row)
    return _section(request, project, "tokens", revoked=row)


@require_role(Role.OWNER)
@require_POST
def retention_update(request: TenantHttpRequest, slug: str):
    project = get_project_for_request(request, slug)
    form = RetentionForm(request.POST)
    if not form.is_valid():
        return _section(request, project, "retention", status=422, retention_form=form)
    services.set_retention(project=project, days=form.cleaned_data["days"])
    return _section(request, project, "retention", retention_saved=True)
