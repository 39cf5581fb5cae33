"""Loki push (`POST /loki/api/v1/push`): protobuf+snappy, JSON, and the legacy JSON shape.

- protobuf: `logproto.PushRequest` (Loki's pkg/push/push.proto); the message classes are built
  here from a `FileDescriptorProto`, so no protoc runs, ever. Its `labels` are a Prometheus
  selector string, `{job="api", level="error"}`.
- JSON: `{"streams": [{"stream": {labels}, "values": [["<unix ns>", "line", {metadata}?]]}]}`;
  pino-loki sends the third element (structured metadata).
- legacy JSON (python-logging-loki's default): `{"streams": [{"labels": "{…}", "entries":
  [{"ts": "<RFC 3339>", "line": "…"}]}]}`.

Stream labels become the record's `resource`, structured metadata its `attributes`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

from google.protobuf import descriptor_pb2, descriptor_pool, message_factory, timestamp_pb2
from google.protobuf.message import DecodeError

from apps.core.logparse.levels import normalize_level

from .bodies import loads
from .fields import parse_time
from .record import (
    LabelTooLong,
    Limits,
    Malformed,
    StreamRecord,
    Unsupported,
    clean_value,
    from_unix_nanos,
    make_record,
)

SERVICE_LABELS = ("service_name", "service", "app", "application", "job", "container", "logger")
LEVEL_LABELS = ("level", "severity", "detected_level", "lvl", "loglevel")
TRACE_KEYS = ("trace_id", "traceID", "traceId", "traceid")
SPAN_KEYS = ("span_id", "spanID", "spanId", "spanid")


def _build_messages():
    """PushRequest / PushResponse classes from push.proto's shape, in a pool of our own."""
    pool = descriptor_pool.DescriptorPool()
    timestamp_file = descriptor_pb2.FileDescriptorProto()
    timestamp_pb2.DESCRIPTOR.CopyToProto(timestamp_file)
    pool.Add(timestamp_file)

    push = descriptor_pb2.FileDescriptorProto(
        name="pkg/push/push.proto",
        package="logproto",
        syntax="proto3",
        dependency=["google/protobuf/timestamp.proto"],
    )
    F = descriptor_pb2.FieldDescriptorProto
    optional, repeated = F.LABEL_OPTIONAL, F.LABEL_REPEATED

    def message(name, *fields):
        msg = push.message_type.add(name=name)
        for number, (field_name, kind, label, type_name) in enumerate(fields, start=1):
            msg.field.add(
                name=field_name, number=number, type=kind, label=label, type_name=type_name
            )

    message("PushRequest", ("streams", F.TYPE_MESSAGE, repeated, ".logproto.StreamAdapter"))
    message("PushResponse")
    message(
        "StreamAdapter",
        ("labels", F.TYPE_STRING, optional, None),
        ("entries", F.TYPE_MESSAGE, repeated, ".logproto.EntryAdapter"),
        ("hash", F.TYPE_UINT64, optional, None),
    )
    message(
        "LabelPairAdapter",
        ("name", F.TYPE_STRING, optional, None),
        ("value", F.TYPE_STRING, optional, None),
    )
    message(
        "EntryAdapter",
        ("timestamp", F.TYPE_MESSAGE, optional, ".google.protobuf.Timestamp"),
        ("line", F.TYPE_STRING, optional, None),
        ("structuredMetadata", F.TYPE_MESSAGE, repeated, ".logproto.LabelPairAdapter"),
    )
    pool.Add(push)
    return tuple(
        message_factory.GetMessageClass(pool.FindMessageTypeByName(f"logproto.{name}"))
        for name in ("PushRequest", "PushResponse", "StreamAdapter", "EntryAdapter")
    )


PushRequest, PushResponse, StreamAdapter, EntryAdapter = _build_messages()


def decode(
    body: bytes, *, content_type: str, received_at: datetime, limits: Limits
) -> list[StreamRecord]:
    """`body` is already decompressed (snappy for protobuf, gzip when Content-Encoding says)."""
    kind = (content_type or "").split(";")[0].strip().lower()
    if kind in ("application/x-protobuf", "application/protobuf"):
        return _from_protobuf(body, received_at, limits)
    if kind in ("application/json", ""):
        return _from_json(body, received_at, limits)
    raise Unsupported(f"Content-Type {kind!r} is not a Loki push: send protobuf or JSON")


def _from_protobuf(body: bytes, received_at: datetime, limits: Limits) -> list[StreamRecord]:
    request = PushRequest()
    try:
        request.ParseFromString(body)
    except (DecodeError, RuntimeError, ValueError) as exc:
        raise Malformed(f"invalid Loki protobuf: {exc}") from None
    out: list[StreamRecord] = []
    for stream in request.streams:
        labels = _Labels.of(parse_labels(stream.labels, limits), limits)
        for entry in stream.entries:
            nanos = entry.timestamp.seconds * 1_000_000_000 + entry.timestamp.nanos
            metadata = {pair.name: pair.value for pair in entry.structuredMetadata}
            check_metadata(metadata, limits)
            out.append(
                _record(labels, from_unix_nanos(nanos), entry.line, metadata, received_at, limits)
            )
    return out


def _from_json(body: bytes, received_at: datetime, limits: Limits) -> list[StreamRecord]:
    document = loads(body, limits)
    streams = document.get("streams") if isinstance(document, dict) else None
    if not isinstance(streams, list):
        raise Malformed("a Loki push is an object with a `streams` list")
    out: list[StreamRecord] = []
    for n, stream in enumerate(streams, start=1):
        if not isinstance(stream, dict):
            raise Malformed(f"stream {n} is not an object")
        if "values" in stream or "stream" in stream:
            out.extend(_json_stream(stream, n, received_at, limits))
        elif "entries" in stream or "labels" in stream:
            out.extend(_legacy_stream(stream, n, received_at, limits))
        else:
            raise Malformed(f"stream {n} has neither `stream`/`values` nor `labels`/`entries`")
    return out


def _json_stream(stream: dict, n: int, received_at, limits) -> list[StreamRecord]:
    labels = stream.get("stream") or {}
    values = stream.get("values")
    if not isinstance(labels, dict) or not isinstance(values, list):
        raise Malformed(f"stream {n}: `stream` must be an object and `values` a list")
    labels = {str(k): v if isinstance(v, str) else str(v) for k, v in labels.items()}
    check_labels(labels, limits, what="label")
    prepared = _Labels.of(labels, limits)
    out = []
    for i, value in enumerate(values, start=1):
        if not isinstance(value, list) or len(value) not in (2, 3):
            raise Malformed(f"stream {n}, value {i}: expected [timestamp, line(, metadata)]")
        ts, line = value[0], value[1]
        metadata = value[2] if len(value) == 3 else {}
        if not isinstance(line, str) or not isinstance(metadata, dict):
            raise Malformed(f"stream {n}, value {i}: the line must be a string")
        time = _unix_nanos(ts)
        if time is None:
            raise Malformed(f"stream {n}, value {i}: {ts!r} is not a Unix time in nanoseconds")
        if metadata:
            metadata = {str(k): v if isinstance(v, str) else str(v) for k, v in metadata.items()}
            check_metadata(metadata, limits)
        out.append(_record(prepared, time, line, metadata, received_at, limits))
    return out


def _legacy_stream(stream: dict, n: int, received_at, limits) -> list[StreamRecord]:
    labels_text, entries = stream.get("labels", ""), stream.get("entries")
    if not isinstance(labels_text, str) or not isinstance(entries, list):
        raise Malformed(f"stream {n}: `labels` must be a string and `entries` a list")
    labels = _Labels.of(parse_labels(labels_text, limits), limits)
    out = []
    for i, entry in enumerate(entries, start=1):
        if not isinstance(entry, dict) or not isinstance(entry.get("line"), str):
            raise Malformed(f"stream {n}, entry {i}: expected {{'ts': …, 'line': …}}")
        ts = entry.get("ts", entry.get("timestamp"))
        time = parse_time(ts)
        if time is None:
            raise Malformed(f"stream {n}, entry {i}: {ts!r} is not an RFC 3339 time")
        out.append(_record(labels, time, entry["line"], {}, received_at, limits))
    return out


def _unix_nanos(value: object) -> datetime | None:
    if isinstance(value, str) and value.isdigit():
        return from_unix_nanos(int(value))
    if isinstance(value, int) and not isinstance(value, bool):
        return from_unix_nanos(value)
    return None


@dataclass(frozen=True, slots=True)
class _Labels:
    """A stream's labels and what its records take from them, worked out once per stream."""

    resource: dict  # cleaned (make_record's clean_value)
    service: str
    level: str | None  # the labels' level word, not yet normalised
    trace_id: str
    span_id: str

    @classmethod
    def of(cls, labels: dict, limits: Limits) -> _Labels:
        return cls(
            resource=clean_value(labels, limits),  # type: ignore[arg-type]
            service=_first(labels, SERVICE_LABELS) or "",
            level=_first(labels, LEVEL_LABELS),
            trace_id=_first(labels, TRACE_KEYS) or "",
            span_id=_first(labels, SPAN_KEYS) or "",
        )


def _record(labels: _Labels, time, line, metadata, received_at, limits) -> StreamRecord:
    level, trace_id, span_id = labels.level, labels.trace_id, labels.span_id
    if metadata:  # the entry's own fields come first
        level = level or _first(metadata, LEVEL_LABELS)
        trace_id = _first(metadata, TRACE_KEYS) or trace_id
        span_id = _first(metadata, SPAN_KEYS) or span_id
    return make_record(
        time=time,
        observed_time=received_at,
        service=labels.service,
        level=normalize_level(level) if level else None,
        message=line,
        attributes=metadata,
        resource=labels.resource,
        trace_id=trace_id,
        span_id=span_id,
        limits=limits,
        resource_clean=True,
    )


def _first(mapping: dict, keys: tuple[str, ...]) -> str | None:
    for key in keys:
        value = mapping.get(key)
        if value:
            return value
    return None


# --- labels ---------------------------------------------------------------------------------------

_LABEL = re.compile(r'\s*([a-zA-Z_][a-zA-Z0-9_.]*)\s*=\s*"((?:[^"\\]|\\.)*)"\s*(,|$)', re.DOTALL)
_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", '"': '"', "\\": "\\"}


def parse_labels(text: str, limits: Limits) -> dict[str, str]:
    """`{job="api", msg="say \\"hi\\""}` → {"job": "api", "msg": 'say "hi"'}."""
    inner = text.strip()
    if not (inner.startswith("{") and inner.endswith("}")):
        raise Malformed(f'labels {text[:80]!r} are not of the form {{name="value", …}}')
    inner = inner[1:-1].strip()
    labels: dict[str, str] = {}
    pos = 0
    while pos < len(inner):
        match = _LABEL.match(inner, pos)
        if match is None or match.end() == pos:
            raise Malformed(f"labels {text[:80]!r}: cannot read past position {pos + 1}")
        labels[match.group(1)] = re.sub(
            r"\\(.)", lambda m: _ESCAPES.get(m.group(1), m.group(1)), match.group(2)
        )
        pos = match.end()
        if len(labels) > limits.max_labels:
            break
    check_labels(labels, limits, what="label")
    return labels


def check_labels(labels: dict, limits: Limits, *, what: str) -> None:
    if len(labels) > limits.max_labels:
        raise LabelTooLong(f"more than {limits.max_labels} {what}s in one stream or entry")
    for name, value in labels.items():
        if len(name.encode("utf-8")) > limits.max_label_name_bytes:
            raise LabelTooLong(
                f"{what} name {name[:40]!r}… is longer than {limits.max_label_name_bytes} bytes"
            )
        if len(str(value).encode("utf-8")) > limits.max_label_value_bytes:
            raise LabelTooLong(
                f"{what} {name[:40]!r} has a value longer than {limits.max_label_value_bytes} bytes"
            )


def check_metadata(metadata: dict, limits: Limits) -> None:
    """Structured metadata: bounded in total, as Loki's `max_structured_metadata_size`."""
    size = sum(len(str(k)) + len(str(v)) for k, v in metadata.items())
    if size > limits.max_metadata_bytes:
        raise LabelTooLong(
            f"structured metadata of {size} bytes is over {limits.max_metadata_bytes} bytes"
        )
