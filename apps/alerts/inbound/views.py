"""Alert receivers under /ingest/alerts/ on the public URLconf (the ingest token decides the
tenant and the project): `alertmanager` (Prometheus Alertmanager's webhook, version 4) and
`grafana` (Grafana alerting's webhook contact point, unified or legacy).

Authentication: `Authorization: Bearer <token>` (Alertmanager `http_config.authorization`,
Grafana's "Authorization header") or HTTP Basic with the token as password (both senders'
`basic_auth`); the token must allow the `alerts` scope (a token without scopes allows all).
Answers: 200 with what happened (`opened`, `joined`, `resolved` incident ids,
`repeated`, `ignored`, `no_data`), 400 malformed, 401 bad or revoked token, 413 too large, 429
with Retry-After over the tenant's ingest quota (apps.streams.quotas: the same token bucket as
the log receivers, one token per alert; Alertmanager and Grafana retry). A 200 means the
alerts are stored; a resend is answered 200 again and changes nothing.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods
from django_tenants.utils import schema_context

from apps.alerts.inbound import payloads, services
from apps.alerts.inbound.payloads import InAlert, PayloadError
from apps.alerts.models import InboundAlert
from apps.incidents.models import Project
from apps.ingestion.tokens import authorization
from apps.ingestion.tokens import services as tokens
from apps.ingestion.tokens.models import Scope
from apps.streams import quotas

log = logging.getLogger(__name__)

MAX_BODY_BYTES = 1024 * 1024  # Alertmanager's max_alerts bounds a group; 1 MiB holds ~1000


def _error(status: int, message: str) -> JsonResponse:
    response = JsonResponse({"error": message}, status=status)
    if status == 401:
        response["WWW-Authenticate"] = 'Basic realm="ingest", charset="UTF-8"'
    return response


def _receive(
    request: HttpRequest, sender: str, parse: Callable[[bytes], list[InAlert]]
) -> HttpResponse:
    token_text = authorization.token_from_authorization(
        request.headers.get("Authorization"), schemes=authorization.BEARER_OR_BASIC
    )
    token = tokens.authenticate(token_text, Scope.ALERTS)
    if token is None:
        return _error(401, "a valid ingest token allowed to send alerts is required")
    try:
        size = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return _error(400, "Content-Length is not a number")
    if size > MAX_BODY_BYTES:
        return _error(413, f"an alert webhook is at most {MAX_BODY_BYTES} bytes")
    try:
        alerts = parse(request.read(size) if size else b"")
    except PayloadError as exc:
        return _error(400, str(exc))
    if alerts and (refusal := quotas.take(token.tenant_id, len(alerts))) is not None:
        response = _error(refusal.status, refusal.reason)
        response["Retry-After"] = str(refusal.retry_after)
        return response
    with schema_context(token.tenant.schema_name):
        project = Project.objects.filter(pk=token.project_id).first()
        if project is None:
            return _error(401, "the token's project no longer exists")
        result = services.receive(project=project, sender=sender, alerts=alerts)
    log.info(
        "alerts in (%s, %s): %d alerts, %s",
        sender,
        token.tenant.schema_name,
        len(alerts),
        result.as_dict(),
    )
    return JsonResponse({"alerts": len(alerts), **result.as_dict()})


@csrf_exempt
@require_http_methods(["POST"])
def alertmanager(request: HttpRequest) -> HttpResponse:
    return _receive(request, InboundAlert.Sender.ALERTMANAGER, payloads.alertmanager)


@csrf_exempt
@require_http_methods(["POST"])
def grafana(request: HttpRequest) -> HttpResponse:
    return _receive(request, InboundAlert.Sender.GRAFANA, payloads.grafana)
