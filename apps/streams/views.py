"""Receivers: shipper protocols in, records durably spooled, answers the clients understand.

Outside the tenant prefix (public URLconf): the ingest token selects tenant and project. Each
request is authenticated, its body read (bounded; chunked bodies from the WSGI server's
terminated input), decompressed (bounded), decoded, and stored in the tenant's spool in one
transaction; only then is it answered 2xx. Errors: 401 bad or revoked token, 400 malformed,
413 too large, 415 unsupported type or encoding, 411 a chunked body the server cannot end,
429 over the tenant's quota and 503 a spool backed up past its bound, both with Retry-After
(quotas.py). After a new batch commits, the tenant's drain is kicked (draining.py).
"""

from __future__ import annotations

import json
import logging
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods
from django_tenants.utils import schema_context

from apps.ingestion.tokens import authorization as auth
from apps.ingestion.tokens import services as tokens
from apps.ingestion.tokens.models import IngestToken, Scope
from apps.streams import draining, quotas, services
from apps.streams.models import Protocol
from apps.streams.protocols import (
    Limits,
    ProtocolError,
    StreamRecord,
    bodies,
    elastic,
    hec,
    lines,
    loki,
    otlp,
)

log = logging.getLogger(__name__)

READ_CHUNK = 64 * 1024


class LengthRequired(ProtocolError):
    status = 411


class Unauthorized(ProtocolError):
    status = 401


class Throttled(ProtocolError):
    """Over the tenant's quota (429) or the spool's backlog bound (503): retry after a while."""

    def __init__(self, refusal: quotas.Refusal) -> None:
        super().__init__(refusal.reason)
        self.status = refusal.status
        self.retry_after = refusal.retry_after


def limits() -> Limits:
    """Read per request: `STREAM_LIMITS` (a dict of `Limits` fields) overrides the defaults."""
    return Limits(**getattr(settings, "STREAM_LIMITS", {}))


@dataclass(slots=True)
class Received:
    token: IngestToken
    body: bytes  # decompressed
    received_at: object


def _receive(request: HttpRequest, schemes: frozenset[str], bounds: Limits) -> Received:
    token_text = auth.token_from_authorization(
        request.headers.get("Authorization"), schemes=schemes
    )
    token = tokens.authenticate(token_text, Scope.LOGS)
    if token is None:
        raise Unauthorized("a valid ingest token is required")
    if (refusal := quotas.refused_recently(token.tenant_id)) is not None:
        raise Throttled(refusal)
    with schema_context(token.tenant.schema_name):
        refusal = quotas.overloaded()
    if refusal is not None:
        raise Throttled(refusal)
    received_at = timezone.now()
    raw = read_body(request, bounds)
    body = bodies.decode_content_encoding(raw, request.headers.get("Content-Encoding", ""), bounds)
    return Received(token=token, body=body, received_at=received_at)


def read_body(request: HttpRequest, bounds: Limits) -> bytes:
    """The request body, at most `max_body_bytes` (else `TooLarge`).

    Without a Content-Length (a chunked body, as the OTel JS exporter sends) Django sees an
    empty body; a server that ends the input stream itself (gunicorn sets
    `wsgi.input_terminated`) lets us read it to its end.
    """
    length = request.META.get("CONTENT_LENGTH")
    if length:
        try:
            size = int(length)
        except ValueError:
            raise LengthRequired("Content-Length is not a number") from None
        if size > bounds.max_body_bytes:
            raise bodies.too_large(bounds)
        body = request.read(size)
        if len(body) < size:  # the connection ended early: a retry will bring the whole body
            raise ProtocolError(f"the body ended after {len(body)} of {size} bytes")
        return body
    if "chunked" not in request.META.get("HTTP_TRANSFER_ENCODING", "").lower():
        return b""
    if not request.META.get("wsgi.input_terminated"):
        raise LengthRequired("this server cannot read a chunked body: send a Content-Length")
    stream = request.META["wsgi.input"]
    out = bytearray()
    while chunk := stream.read(READ_CHUNK):
        out += chunk
        if len(out) > bounds.max_body_bytes:
            raise bodies.too_large(bounds)
    return bytes(out)


def _spool(
    received: Received, protocol: Protocol, scope: str, records: list[StreamRecord]
) -> services.Spooled:
    token = received.token
    if records and (refusal := quotas.take(token.tenant_id, len(records))) is not None:
        raise Throttled(refusal)
    with schema_context(token.tenant.schema_name):
        try:
            spooled = services.spool_batch(
                project_id=token.project_id,
                token_id=token.pk,
                protocol=protocol,
                digest=services.batch_digest(protocol, scope, received.body),
                body_bytes=len(received.body),
                records=records,
                received_at=received.received_at,
            )
        except services.ProjectGone:
            raise Unauthorized("the token's project no longer exists") from None
    if not spooled.duplicate:
        try:
            draining.kick(token.tenant_id, token.tenant.schema_name)
        except Exception:  # stored: the once-a-minute sweep sends the drain instead
            log.exception("could not send the stream drain of %s", token.tenant.schema_name)
    return spooled


def _answer(
    request: HttpRequest,
    work: Callable[[Limits], HttpResponse],
    error: Callable[[ProtocolError], HttpResponse],
) -> HttpResponse:
    try:
        return work(limits())
    except ProtocolError as exc:
        response = error(exc)
        if isinstance(exc, Throttled):
            response["Retry-After"] = str(exc.retry_after)
        return response


def _plain_error(exc: ProtocolError) -> HttpResponse:
    response = HttpResponse(
        exc.message + "\n", status=exc.status, content_type="text/plain; charset=utf-8"
    )
    if exc.status == 401:
        response["WWW-Authenticate"] = 'Basic realm="ingest", charset="UTF-8"'
    return response


def _json(value: object, status: int = 200, **headers: str) -> HttpResponse:
    response = HttpResponse(
        json.dumps(value, separators=(",", ":")), status=status, content_type="application/json"
    )
    for name, header in headers.items():
        response[name.replace("_", "-")] = header
    return response


# --- OTLP/HTTP ------------------------------------------------------------------------------------


@csrf_exempt
@require_http_methods(["POST"])
def otlp_logs(request: HttpRequest) -> HttpResponse:
    json_body = otlp.media_type(request.content_type or "") == otlp.JSON

    def work(bounds: Limits) -> HttpResponse:
        received = _receive(request, auth.BEARER_OR_BASIC, bounds)
        records = otlp.decode(
            received.body,
            content_type=request.META.get("CONTENT_TYPE", ""),
            received_at=received.received_at,
            limits=bounds,
        )
        _spool(received, Protocol.OTLP, "", records)
        body, content_type = otlp.response(json_body=json_body)
        return HttpResponse(body, content_type=content_type)

    def error(exc: ProtocolError) -> HttpResponse:
        # UNAUTHENTICATED, RESOURCE_EXHAUSTED, UNAVAILABLE; else INVALID_ARGUMENT
        code = {401: 16, 413: 8, 429: 8, 503: 14}.get(exc.status, 3)
        body, content_type = otlp.error_status(exc.message, json_body=json_body, code=code)
        return HttpResponse(body, status=exc.status, content_type=content_type)

    return _answer(request, work, error)


# --- Loki -------------------------------------------------------------------------------------------


@csrf_exempt
@require_http_methods(["POST"])
def loki_push(request: HttpRequest) -> HttpResponse:
    def work(bounds: Limits) -> HttpResponse:
        received = _receive(request, auth.BEARER_OR_BASIC, bounds)
        content_type = request.META.get("CONTENT_TYPE", "")
        body = received.body
        is_protobuf = otlp.media_type(content_type) in (
            "application/x-protobuf",
            "application/protobuf",
        )
        if is_protobuf and not request.headers.get("Content-Encoding"):
            body = bodies.unsnappy(body, bounds)  # Loki's protobuf is always snappy-framed
        records = loki.decode(
            body, content_type=content_type, received_at=received.received_at, limits=bounds
        )
        _spool(received, Protocol.LOKI, "", records)
        return HttpResponse(status=204)  # python-logging-loki accepts 204 only

    return _answer(request, work, _plain_error)


# --- Elasticsearch ------------------------------------------------------------------------------------

ELASTIC_HEADERS = {"X_Elastic_Product": "Elasticsearch"}


def _elastic_error(exc: ProtocolError) -> HttpResponse:
    kinds = {
        401: "security_exception",
        411: "illegal_argument_exception",
        413: "content_too_long_exception",
        415: "media_type_header_exception",
        429: "es_rejected_execution_exception",
        503: "unavailable_shards_exception",
    }
    kind = kinds.get(exc.status, "parse_exception")
    response = _json(
        elastic.error_body(kind, exc.message, exc.status), exc.status, **ELASTIC_HEADERS
    )
    if exc.status == 401:
        response["WWW-Authenticate"] = 'Basic realm="security", charset="UTF-8"'
    return response


@csrf_exempt
@require_http_methods(["GET", "HEAD"])
def elastic_info(request: HttpRequest) -> HttpResponse:
    def work(bounds: Limits) -> HttpResponse:
        token_text = auth.token_from_authorization(
            request.headers.get("Authorization"), schemes=auth.ELASTIC
        )
        token = tokens.authenticate(token_text, Scope.LOGS)
        if token is None:
            raise Unauthorized("missing authentication credentials for REST request [/]")
        cluster = uuid.uuid5(uuid.NAMESPACE_URL, f"aiops:{token.tenant.schema_name}")
        return _json(elastic.info(name="aiops", cluster_uuid=str(cluster)), **ELASTIC_HEADERS)

    return _answer(request, work, _elastic_error)


@csrf_exempt
@require_http_methods(["POST", "PUT"])
def elastic_bulk(request: HttpRequest, index: str = "") -> HttpResponse:
    def work(bounds: Limits) -> HttpResponse:
        started = time.monotonic()
        received = _receive(request, auth.ELASTIC, bounds)
        bulk = elastic.decode(
            received.body, default_index=index, received_at=received.received_at, limits=bounds
        )
        spooled = _spool(received, Protocol.ELASTIC, index, bulk.records)
        took = int((time.monotonic() - started) * 1000)
        answer = elastic.response(bulk, took_ms=took, id_prefix=f"aiops-{spooled.batch_id}-")
        return _json(answer, **ELASTIC_HEADERS)

    return _answer(request, work, _elastic_error)


# --- Splunk HEC ---------------------------------------------------------------------------------------


def _hec_error(exc: ProtocolError) -> HttpResponse:
    if isinstance(exc, hec.BadEvent):
        body = {"text": exc.message, "code": exc.code, "invalid-event-number": exc.event_number}
        return _json(body, 400)
    if exc.status == 401:
        return _json({"text": "Invalid token", "code": 4}, 401)
    if exc.status == 413:
        return _json({"text": "Content too large", "code": 27, "detail": exc.message}, 413)
    if exc.status in (429, 503):
        return _json({"text": "Server is busy", "code": 9, "detail": exc.message}, exc.status)
    return _json({"text": "Invalid data format", "code": 6, "detail": exc.message}, exc.status)


@csrf_exempt
@require_http_methods(["POST"])
def hec_event(request: HttpRequest) -> HttpResponse:
    def work(bounds: Limits) -> HttpResponse:
        if not request.headers.get("Authorization"):
            return _json({"text": "Token is required", "code": 2}, 401)
        received = _receive(request, auth.SPLUNK, bounds)
        records = hec.decode(received.body, received_at=received.received_at, limits=bounds)
        _spool(received, Protocol.HEC, "", records)
        return _json({"text": "Success", "code": 0})

    return _answer(request, work, _hec_error)


@require_http_methods(["GET"])
def hec_health(request: HttpRequest) -> HttpResponse:
    return _json({"text": "HEC is healthy", "code": 17})


# --- generic HTTP ------------------------------------------------------------------------------------


@csrf_exempt
@require_http_methods(["POST"])
def http_lines(request: HttpRequest) -> HttpResponse:
    """NDJSON, a JSON array or text lines; `?service=NAME` names the sender of plain lines."""

    def work(bounds: Limits) -> HttpResponse:
        received = _receive(request, auth.BEARER_OR_BASIC, bounds)
        service = request.GET.get("service", "")[:200]
        records = lines.decode(
            received.body,
            content_type=request.META.get("CONTENT_TYPE", ""),
            default_service=service,
            received_at=received.received_at,
            limits=bounds,
        )
        spooled = _spool(received, Protocol.HTTP, service, records)
        return _json({"records": spooled.records, "duplicate": spooled.duplicate})

    def error(exc: ProtocolError) -> HttpResponse:
        response = _json({"error": exc.message}, exc.status)
        if exc.status == 401:
            response["WWW-Authenticate"] = 'Bearer realm="ingest"'
        return response

    return _answer(request, work, error)
