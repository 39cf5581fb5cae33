"""The one record every stream protocol decodes to, the errors a decoder raises, its limits.

Framework-free: no Django. A receiver maps `ProtocolError.status` to the HTTP answer a shipper
understands (400 is dropped, 413 split or dropped; neither is retried forever by sane clients).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import UTC, datetime

MiB = 1024 * 1024


@dataclass(frozen=True, slots=True)
class Limits:
    """Hard bounds on one request; the defaults follow Loki's and Elasticsearch's."""

    max_body_bytes: int = 20 * MiB  # after decompression
    max_json_depth: int = 64
    max_label_name_bytes: int = 1024  # Loki: max_label_name_length
    max_label_value_bytes: int = 2048  # Loki: max_label_value_length
    max_labels: int = 30  # labels per stream (Loki's default is 15; shippers add a few)
    max_metadata_bytes: int = 64 * 1024  # Loki: max_structured_metadata_size
    max_line_bytes: int = 256 * 1024  # longer messages are cut and flagged `truncated`


DEFAULT_LIMITS = Limits()


class ProtocolError(Exception):
    """The request cannot be taken; `message` is for the sender, `status` the HTTP answer."""

    status = 400

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class Malformed(ProtocolError):
    """Not valid for its protocol (bad JSON, bad protobuf, a missing field): 400."""


class TooDeep(Malformed):
    """JSON or a structured value nested deeper than `Limits.max_json_depth`: 400."""


class LabelTooLong(Malformed):
    """A stream label (name, value or count) over its limit: 400, as Loki answers."""


class TooLarge(ProtocolError):
    """The body, after decompression, is over `Limits.max_body_bytes`: 413."""

    status = 413


class Unsupported(ProtocolError):
    """A content type or encoding this receiver does not speak: 415."""

    status = 415


@dataclass(slots=True)
class StreamRecord:
    """One log record as received, before parsing and grouping.

    `time` is when it happened (None when the sender did not say), `observed_time` when a
    collector or this receiver first saw it. `level` is one of `apps.core.vocabulary.LEVELS` or
    None. `attributes` are the record's own fields, `resource` describes the sender (OTel
    resource attributes, Loki stream labels). Ids are lower-case hex, "" when absent.
    """

    time: datetime | None
    observed_time: datetime
    service: str
    level: str | None
    message: str
    attributes: dict = field(default_factory=dict)
    resource: dict = field(default_factory=dict)
    trace_id: str = ""
    span_id: str = ""
    truncated: bool = False


# --- helpers shared by the decoders -------------------------------------------------------------


def from_unix_nanos(nanos: int) -> datetime | None:
    """Nanoseconds since the epoch → aware UTC datetime; 0 or out of range → None."""
    if nanos <= 0:
        return None
    try:
        return datetime.fromtimestamp(nanos / 1e9, tz=UTC)
    except (OverflowError, OSError, ValueError):
        return None


def from_unix_seconds(value: float) -> datetime | None:
    if not math.isfinite(value) or value <= 0:
        return None
    try:
        return datetime.fromtimestamp(value, tz=UTC)
    except (OverflowError, OSError, ValueError):
        return None


def clean_text(value: str) -> str:
    """A string PostgreSQL can store: NUL bytes dropped, lone surrogates replaced."""
    if "\x00" in value:
        value = value.replace("\x00", "")
    if value.isascii():  # O(1) in CPython: most strings need no encoding check
        return value
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        value = value.encode("utf-8", "replace").decode("utf-8")
    return value


def clean_value(value: object, limits: Limits, depth: int = 0) -> object:
    """A JSON value PostgreSQL's jsonb accepts: clean strings (keys too), finite numbers only.

    Nesting past `limits.max_json_depth` raises `TooDeep`.
    """
    if depth > limits.max_json_depth:
        raise TooDeep(f"a structured value is nested deeper than {limits.max_json_depth} levels")
    kind = type(value)
    if kind is str:
        return clean_text(value)  # type: ignore[arg-type]
    if kind is int or kind is bool or value is None:
        return value
    if kind is dict:  # the common case first, without the generic checks below
        return {
            clean_text(k if type(k) is str else str(k)): (
                v if type(v) is int or type(v) is bool or v is None
                else clean_text(v) if type(v) is str
                else clean_value(v, limits, depth + 1)
            )
            for k, v in value.items()  # type: ignore[attr-defined]
        }  # fmt: skip
    if isinstance(value, str):
        return clean_text(value)
    if isinstance(value, bool | int):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    if isinstance(value, dict):
        return {clean_text(str(k)): clean_value(v, limits, depth + 1) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [clean_value(v, limits, depth + 1) for v in value]
    return clean_text(str(value))


def bounded_message(message: str, limits: Limits) -> tuple[str, bool]:
    """Cut a message to `limits.max_line_bytes` of UTF-8 (on a character boundary)."""
    message = clean_text(message)
    if len(message) * 4 <= limits.max_line_bytes:
        return message, False
    raw = message.encode("utf-8")
    if len(raw) <= limits.max_line_bytes:
        return message, False
    return raw[: limits.max_line_bytes].decode("utf-8", "ignore"), True


def make_record(
    *,
    time: datetime | None,
    observed_time: datetime,
    service: str,
    level: str | None,
    message: str,
    attributes: dict | None = None,
    resource: dict | None = None,
    trace_id: str = "",
    span_id: str = "",
    limits: Limits,
    resource_clean: bool = False,
) -> StreamRecord:
    """Build a record with every string made storable and the message bounded.

    `resource_clean`: the caller passed a resource `clean_value` already made storable (one
    resource is shared by every record of an OTLP batch: cleaned once, not per record)."""
    text, truncated = bounded_message(message, limits)
    return StreamRecord(
        time=time,
        observed_time=observed_time,
        service=clean_text(service)[:200],
        level=level,
        message=text,
        attributes=clean_value(attributes or {}, limits),  # type: ignore[arg-type]
        resource=(resource or {}) if resource_clean else clean_value(resource or {}, limits),  # type: ignore[arg-type]
        trace_id=_hex_id(trace_id, 32),
        span_id=_hex_id(span_id, 16),
        truncated=truncated,
    )


def _hex_id(value: str, width: int) -> str:
    """A trace/span id as lower-case hex of `width` digits; anything else (or all zero) → ""."""
    value = (value or "").strip().lower().replace("-", "")
    if len(value) != width or value.strip("0") == "":
        return ""
    try:
        int(value, 16)
    except ValueError:
        return ""
    return value
