"""Deploy receivers under /ingest/deploys on the public URLconf (no tenant prefix).

- `POST /ingest/deploys`: a generic marker (ours, Sentry, Grafana, Honeycomb shapes) with an
  ingest token (`Authorization: Bearer <token>` or Basic with the token as password);
- `POST /ingest/deploys/github`: GitHub `deployment_status` (and `deployment`) webhooks, signed
  with `X-Hub-Signature-256` by a per-project secret (`manage.py deploy-hook create`);
- `POST /ingest/deploys/gitlab`: GitLab deployment events, `X-Gitlab-Token` = the secret;
- `POST /ingest/deploys/argocd`: Argo CD notifications, with the hook's secret in an
  `X-Deploy-Token` header (Argo CD's webhook service `headers`), or an ingest token as Bearer.

Answers: 201 stored, 200 a replay or retry (nothing new), 202 an event that is not a deploy,
400 malformed, 401 bad token or signature (logged), 413 too large.
"""

from __future__ import annotations

import json
import logging
from urllib.parse import parse_qs

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods
from django_tenants.utils import schema_context

from apps.core.correlate.markers import (
    Marker,
    MarkerError,
    from_argocd,
    from_generic,
    from_github,
    from_gitlab,
    github_signature_ok,
    gitlab_project_of,
    repository_of,
    token_ok,
)
from apps.deploys import services
from apps.deploys.models import Deploy
from apps.incidents.models import Project
from apps.ingestion.tokens import authorization
from apps.ingestion.tokens import services as tokens
from apps.ingestion.tokens.models import Scope

log = logging.getLogger(__name__)

MAX_MARKER_BYTES = 64 * 1024
MAX_WEBHOOK_BYTES = 1024 * 1024  # GitHub caps payloads at 25 MB; deployment events are small


class _Refused(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def _body(request: HttpRequest, limit: int) -> bytes:
    try:
        size = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        raise _Refused(400, "Content-Length is not a number") from None
    if size > limit:
        raise _Refused(413, f"a deploy event is at most {limit} bytes")
    return request.read(size) if size else b""


def _json_body(raw: bytes, content_type: str) -> object:
    if content_type.startswith("application/x-www-form-urlencoded"):
        payload = parse_qs(raw.decode("utf-8", "replace")).get("payload", [""])[0]
        raw = payload.encode("utf-8")
    try:
        return json.loads(raw)
    except (ValueError, RecursionError):
        raise _Refused(400, "the body is not JSON") from None


def _store(schema: str, project_id: int, marker: Marker, source: str) -> HttpResponse:
    received = timezone.now()
    with schema_context(schema):
        project = Project.objects.filter(pk=project_id).first()
        if project is None:
            raise _Refused(401, "the token's project no longer exists")
        done = services.record_deploy(
            project=project, marker=marker, source=source, received_at=received
        )
    status = 201 if done.created else 200
    return JsonResponse(
        {"id": done.deploy.pk, "duplicate": not done.changed, "service": marker.service},
        status=status,
    )


def _refusal(exc: _Refused) -> HttpResponse:
    return JsonResponse({"error": str(exc)}, status=exc.status)


@csrf_exempt
@require_http_methods(["POST"])
def marker(request: HttpRequest) -> HttpResponse:
    try:
        token_text = authorization.token_from_authorization(
            request.headers.get("Authorization"), schemes=authorization.BEARER_OR_BASIC
        )
        token = tokens.authenticate(token_text, scope=Scope.DEPLOYS)
        if token is None:
            log.warning("deploy marker refused: no valid ingest token")
            raise _Refused(401, "a valid ingest token is required")
        obj = _json_body(_body(request, MAX_MARKER_BYTES), request.content_type or "")
        try:
            parsed = from_generic(obj, service=request.GET.get("service"))
        except MarkerError as exc:
            raise _Refused(400, str(exc)) from None
        return _store(token.tenant.schema_name, token.project_id, parsed, Deploy.Source.API)
    except _Refused as exc:
        return _refusal(exc)


@csrf_exempt
@require_http_methods(["POST"])
def gitlab(request: HttpRequest) -> HttpResponse:
    try:
        raw = _body(request, MAX_WEBHOOK_BYTES)
        payload = _json_body(raw, request.content_type or "")
        project = gitlab_project_of(payload)
        sent = request.headers.get("X-Gitlab-Token")
        hook = next(
            (
                h
                for h, secret in services.hook_candidates("gitlab", project)
                if token_ok(secret, sent)
            ),
            None,
        )
        if hook is None:
            log.warning(
                "deploy webhook refused: bad token (gitlab, project %r, event %s)",
                project[:200],
                (request.headers.get("X-Gitlab-Event-UUID") or "-")[:100],
            )
            raise _Refused(401, "X-Gitlab-Token does not match a webhook of this project")
        try:
            parsed = from_gitlab(request.headers.get("X-Gitlab-Event") or "", payload)
        except MarkerError as exc:
            raise _Refused(400, str(exc)) from None
        if parsed is None:
            return JsonResponse({"ignored": "not a deployment event"}, status=202)
        return _store(hook.tenant.schema_name, hook.project_id, parsed, Deploy.Source.GITLAB)
    except _Refused as exc:
        return _refusal(exc)


@csrf_exempt
@require_http_methods(["POST"])
def argocd(request: HttpRequest) -> HttpResponse:
    try:
        sent = request.headers.get("X-Deploy-Token")
        if sent:
            key = sent.strip().split(".", 1)[0]
            hook = next(
                (
                    h
                    for h, secret in services.hook_candidates("argocd", key)
                    if token_ok(secret, sent)
                ),
                None,
            )
            target = (hook.tenant.schema_name, hook.project_id) if hook else None
        else:
            token_text = authorization.token_from_authorization(
                request.headers.get("Authorization"), schemes=authorization.BEARER_OR_BASIC
            )
            token = tokens.authenticate(token_text, scope=Scope.DEPLOYS)
            target = (token.tenant.schema_name, token.project_id) if token else None
        if target is None:
            log.warning("deploy webhook refused: bad token (argocd)")
            raise _Refused(401, "an X-Deploy-Token secret or an ingest token is required")
        obj = _json_body(_body(request, MAX_WEBHOOK_BYTES), request.content_type or "")
        try:
            parsed = from_argocd(obj)
        except MarkerError as exc:
            raise _Refused(400, str(exc)) from None
        return _store(*target, parsed, Deploy.Source.ARGOCD)
    except _Refused as exc:
        return _refusal(exc)


@csrf_exempt
@require_http_methods(["POST"])
def github(request: HttpRequest) -> HttpResponse:
    try:
        raw = _body(request, MAX_WEBHOOK_BYTES)
        payload = _json_body(raw, request.content_type or "")
        signature = request.headers.get("X-Hub-Signature-256")
        repository = repository_of(payload)
        hook = next(
            (
                h
                for h, secret in services.hook_candidates("github", repository)
                if github_signature_ok(secret, raw, signature)
            ),
            None,
        )
        if hook is None:
            log.warning(
                "deploy webhook refused: bad signature (github, repository %r, delivery %s)",
                repository[:200],
                (request.headers.get("X-GitHub-Delivery") or "-")[:100],
            )
            raise _Refused(401, "signature does not match a webhook of this repository")
        event = (request.headers.get("X-GitHub-Event") or "")[:50]
        try:
            parsed = from_github(event, payload)
        except MarkerError as exc:
            raise _Refused(400, str(exc)) from None
        if parsed is None:
            return JsonResponse({"ignored": event or "unknown event"}, status=202)
        return _store(hook.tenant.schema_name, hook.project_id, parsed, Deploy.Source.GITHUB)
    except _Refused as exc:
        return _refusal(exc)
