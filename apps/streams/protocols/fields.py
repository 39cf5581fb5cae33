"""Reading the usual fields out of a JSON log object: time, level, service, message, ids.

Shippers disagree on names (`@timestamp` vs `timestamp` vs Fluent Bit's `date`, `log.level` as a
dotted key or nested, `service.name` vs `service`), so each field is a list of candidate paths,
tried in order. A dotted path matches a flat key first, then the nested object.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime

from apps.core.logparse.levels import Scheme, level_from_message, normalize_level

from .record import Limits, StreamRecord, from_unix_seconds, make_record

TIME_FIELDS = ("@timestamp", "timestamp", "time", "ts", "date", "datetime", "@t", "eventTime")
LEVEL_FIELDS = (
    "log.level",
    "level",
    "severity",
    "severity_text",
    "lvl",
    "loglevel",
    "levelname",
    "@l",
)
SERVICE_FIELDS = ("service.name", "service", "app", "application", "logger", "container_name")
MESSAGE_FIELDS = ("message", "msg", "log", "text", "@m", "@mt", "body", "event")
TRACE_FIELDS = ("trace.id", "trace_id", "traceId", "traceid", "trace")
SPAN_FIELDS = ("span.id", "span_id", "spanId", "spanid")

_MISSING = object()


def lookup(obj: dict, path: str) -> object:
    """`obj[path]`, else `obj["a"]["b"]` for `path` "a.b"; `_MISSING` when neither exists."""
    if path in obj:
        return obj[path]
    if "." not in path:
        return _MISSING
    head, _, rest = path.partition(".")
    inner = obj.get(head)
    if isinstance(inner, dict):
        return lookup(inner, rest)
    return _MISSING


def first(obj: dict, paths: tuple[str, ...]) -> tuple[str | None, object]:
    """(the path that matched, its value) for the first present, non-empty candidate."""
    for path in paths:
        value = lookup(obj, path)
        if value is not _MISSING and value is not None and value != "":
            return path, value
    return None, None


def parse_time(value: object) -> datetime | None:
    """ISO-8601 / RFC 3339 strings (any fraction, `Z`), or epoch s/ms/µs/ns as a number."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return from_epoch(float(value))
    if not isinstance(value, str):
        return None
    text = value.strip()
    if not text:
        return None
    if _NUMBER.fullmatch(text):
        return from_epoch(float(text))
    text = _LONG_FRACTION.sub(lambda m: m.group(1)[:7], text)  # keep µs: ".123456789" → ".123456"
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)  # no zone stated: UTC, as Loki and ES assume
    return parsed.astimezone(UTC)


_NUMBER = re.compile(r"\d{9,20}(?:\.\d+)?")
_LONG_FRACTION = re.compile(r"(\.\d{7,})")


def from_epoch(number: float) -> datetime | None:
    """Epoch seconds, milliseconds, microseconds or nanoseconds, told apart by magnitude."""
    if number > 1e17:
        number /= 1e9
    elif number > 1e14:
        number /= 1e6
    elif number > 1e11:
        number /= 1e3
    return from_unix_seconds(number)


def level_of(value: object) -> str | None:
    """A level word or number (pino/bunyan numbers for JSON objects) → LEVELS name or None."""
    if isinstance(value, dict):
        return None
    return normalize_level(value, Scheme.BUNYAN if isinstance(value, int | float) else None)


def as_text(value: object) -> str:
    return value if isinstance(value, str) else str(value)


def record_from_object(
    obj: dict,
    *,
    received_at: datetime,
    default_service: str,
    limits: Limits,
    resource: dict | None = None,
) -> StreamRecord:
    """A JSON log object → a record. The fields read for time, level, message and ids leave
    `attributes`; everything else stays there as it came (structured, not flattened)."""
    attributes = dict(obj)
    time_path, time_value = first(obj, TIME_FIELDS)
    level_path, level_value = first(obj, LEVEL_FIELDS)
    _, service_value = first(obj, SERVICE_FIELDS)
    message_path, message_value = first(obj, MESSAGE_FIELDS)
    trace_path, trace_value = first(obj, TRACE_FIELDS)
    span_path, span_value = first(obj, SPAN_FIELDS)
    for path in (time_path, level_path, message_path, trace_path, span_path):
        _drop(attributes, path)
    if message_value is None:
        message = json.dumps(obj, ensure_ascii=False, separators=(",", ":"), default=str)
    elif isinstance(message_value, str):
        message = message_value
    else:
        message = json.dumps(message_value, ensure_ascii=False, separators=(",", ":"), default=str)
    service = service_value if isinstance(service_value, str) else default_service
    if isinstance(service_value, dict):  # ECS `service: {name: …}` without a name
        service = default_service
    return make_record(
        time=parse_time(time_value),
        observed_time=received_at,
        service=service,
        level=level_of(level_value) if level_value is not None else level_from_message(message),
        message=message,
        attributes=attributes,
        resource=resource,
        trace_id=as_text(trace_value) if isinstance(trace_value, str) else "",
        span_id=as_text(span_value) if isinstance(span_value, str) else "",
        limits=limits,
    )


def _drop(obj: dict, path: str | None) -> None:
    """Remove `path` (flat key, else nested) from `obj`, leaving an emptied parent out too."""
    if path is None:
        return
    if path in obj:
        del obj[path]
        return
    head, _, rest = path.partition(".")
    inner = obj.get(head)
    if isinstance(inner, dict):
        inner = dict(inner)  # never modify the caller's nested objects
        _drop(inner, rest)
        if inner:
            obj[head] = inner
        else:
            del obj[head]
