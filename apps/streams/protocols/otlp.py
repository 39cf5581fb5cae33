"""OTLP/HTTP logs: `ExportLogsServiceRequest` as protobuf or as OTLP/JSON.

OTLP/JSON differs from protobuf's canonical JSON mapping in one way that matters here: trace and
span ids are hex strings, not base64. They are re-encoded before `json_format` reads the rest,
so both encodings go through one decoder. `service.name` comes from the resource; the level from
`severity_number` (OTel's 1–24 scale), else `severity_text`.
"""

from __future__ import annotations

import base64
import json
import math
from datetime import datetime

from google.protobuf import json_format
from google.protobuf.message import DecodeError
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import (
    ExportLogsServiceRequest,
    ExportLogsServiceResponse,
)
from opentelemetry.proto.common.v1.common_pb2 import AnyValue

from apps.core.logparse.levels import Scheme, normalize_level

from .bodies import loads
from .record import (
    Limits,
    Malformed,
    StreamRecord,
    TooDeep,
    Unsupported,
    bounded_message,
    clean_text,
    from_unix_nanos,
)

PROTOBUF = "application/x-protobuf"
JSON = "application/json"


def media_type(content_type: str) -> str:
    return (content_type or "").split(";")[0].strip().lower()


def decode(
    body: bytes, *, content_type: str, received_at: datetime, limits: Limits
) -> list[StreamRecord]:
    kind = media_type(content_type)
    if kind in (PROTOBUF, "application/protobuf"):
        request = ExportLogsServiceRequest()
        try:
            request.ParseFromString(body)
        except (DecodeError, RuntimeError, ValueError) as exc:
            raise Malformed(f"invalid OTLP protobuf: {exc}") from None
    elif kind == JSON:
        request = parse_json(body, limits)
    else:
        raise Unsupported(
            f"Content-Type {kind or '(none)'!r} is not OTLP: send {PROTOBUF} or {JSON}"
        )
    return list(records(request, received_at=received_at, limits=limits))


def parse_json(body: bytes, limits: Limits) -> ExportLogsServiceRequest:
    document = loads(body, limits)
    if not isinstance(document, dict):
        raise Malformed("OTLP/JSON must be an object with `resourceLogs`")
    for resource_logs in _items(document, "resourceLogs", "resource_logs"):
        for scope_logs in _items(resource_logs, "scopeLogs", "scope_logs"):
            for log_record in _items(scope_logs, "logRecords", "log_records"):
                for key in ("traceId", "trace_id", "spanId", "span_id"):
                    if key in log_record:
                        log_record[key] = _hex_to_base64(log_record[key])
    request = ExportLogsServiceRequest()
    try:
        json_format.ParseDict(document, request, ignore_unknown_fields=True)
    except (json_format.ParseError, RecursionError) as exc:
        raise Malformed(f"invalid OTLP/JSON: {exc}") from None
    return request


def _items(obj: object, *keys: str) -> list:
    if not isinstance(obj, dict):
        return []
    for key in keys:
        value = obj.get(key)
        if isinstance(value, list):
            return [item for item in value if isinstance(item, dict)]
    return []


def _hex_to_base64(value: object) -> str:
    if not isinstance(value, str) or not value:
        return ""
    try:
        return base64.b64encode(bytes.fromhex(value)).decode("ascii")
    except ValueError:
        return ""  # not hex: no id rather than a rejected batch


def records(request: ExportLogsServiceRequest, *, received_at: datetime, limits: Limits):
    for resource_logs in request.resource_logs:
        resource = _attributes(resource_logs.resource.attributes, limits)  # cleaned
        service = resource.get("service.name")
        service = service[:200] if isinstance(service, str) else ""
        for scope_logs in resource_logs.scope_logs:
            scope = {}
            if scope_logs.scope.name:
                scope["otel.scope.name"] = clean_text(scope_logs.scope.name)
            if scope_logs.scope.version:
                scope["otel.scope.version"] = clean_text(scope_logs.scope.version)
            for log in scope_logs.log_records:
                yield _record(log, resource, service, scope, received_at, limits)


def _record(log, resource, service, scope, received_at, limits) -> StreamRecord:
    """One record; every value is made storable here (`make_record`'s work, done in one walk:
    `any_value` cleans as it converts), the resource and service once per resource."""
    attributes = _attributes(log.attributes, limits)
    if scope:
        attributes = {**scope, **attributes}
    if log.event_name:
        attributes["event.name"] = clean_text(log.event_name)
    severity_text = log.severity_text
    if severity_text:
        attributes.setdefault("otel.severity_text", clean_text(severity_text))
    number = log.severity_number
    level = _otel_level(number) if number else None
    if level is None and severity_text:
        level = normalize_level(severity_text)
    message = ""
    if log.HasField("body"):
        body = any_value(log.body, limits)
        if isinstance(body, str):
            message = body
        else:
            attributes["body"] = body
            inner = body.get("message") if isinstance(body, dict) else None
            message = (
                inner
                if isinstance(inner, str)
                else json.dumps(body, ensure_ascii=False, separators=(",", ":"))
            )
    message, truncated = bounded_message(message, limits)
    return StreamRecord(
        time=from_unix_nanos(log.time_unix_nano),
        observed_time=from_unix_nanos(log.observed_time_unix_nano) or received_at,
        service=service,
        level=level,
        message=message,
        attributes=attributes,
        resource=resource,
        trace_id=_id(log.trace_id, 16),
        span_id=_id(log.span_id, 8),
        truncated=truncated,
    )


_LEVELS: dict[int, str | None] = {}  # OTel severity number (1-24) → level


def _otel_level(number: int) -> str | None:
    level = _LEVELS.get(number, "")
    if level == "":
        level = normalize_level(number, Scheme.OTEL)
        if 0 < number <= 24:
            _LEVELS[number] = level
    return level


def _id(raw: bytes, size: int) -> str:
    """A trace/span id as lower-case hex; "" unless `size` bytes, not all zero."""
    return raw.hex() if len(raw) == size and raw.strip(b"\0") else ""


def _attributes(key_values, limits: Limits, depth: int = 0) -> dict:
    return {clean_text(kv.key): any_value(kv.value, limits, depth + 1) for kv in key_values}


def any_value(value: AnyValue, limits: Limits, depth: int = 0) -> object:
    """An OTLP AnyValue → plain JSON-able Python that PostgreSQL can store (strings cleaned,
    non-finite doubles as text, bytes as base64)."""
    if depth > limits.max_json_depth:
        raise TooDeep(f"an attribute is nested deeper than {limits.max_json_depth} levels")
    kind = value.WhichOneof("value")
    if kind == "string_value":
        return clean_text(value.string_value)
    if kind is None:
        return None
    if kind == "kvlist_value":
        return _attributes(value.kvlist_value.values, limits, depth)
    if kind == "array_value":
        return [any_value(item, limits, depth + 1) for item in value.array_value.values]
    if kind == "bytes_value":
        return base64.b64encode(value.bytes_value).decode("ascii")
    if kind == "double_value":
        number = value.double_value
        return number if math.isfinite(number) else str(number)
    return getattr(value, kind)


def response(*, json_body: bool) -> tuple[bytes, str]:
    """The success answer: an empty `ExportLogsServiceResponse` in the request's encoding."""
    if json_body:
        return b"{}", JSON
    return ExportLogsServiceResponse().SerializeToString(), PROTOBUF


def error_status(message: str, *, json_body: bool, code: int = 3) -> tuple[bytes, str]:
    """A `google.rpc.Status` (code 3 INVALID_ARGUMENT by default), as OTLP asks for errors."""
    if json_body:
        return json.dumps({"code": code, "message": message}).encode(), JSON
    text = message.encode("utf-8")
    return b"\x08" + _varint(code) + b"\x12" + _varint(len(text)) + text, PROTOBUF


def _varint(number: int) -> bytes:
    out = bytearray()
    while True:
        byte = number & 0x7F
        number >>= 7
        if number:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)
