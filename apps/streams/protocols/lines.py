"""`POST /ingest/http`: NDJSON, a JSON array, or plain text lines (curl, Vector, Fluent Bit).

The Content-Type decides when it is specific (`application/json` is an array or one object,
`application/x-ndjson` one object per line); otherwise the body is sniffed: `[` → a JSON array,
else each line is a JSON object if it parses as one and a text line if not. Fluent Bit's `http`
output sends a JSON array with the time as `date` (epoch seconds).
"""

from __future__ import annotations

from datetime import datetime

from apps.core.logparse.levels import level_from_message

from .bodies import iter_lines, loads
from .fields import record_from_object
from .record import Limits, Malformed, StreamRecord, make_record

NDJSON_TYPES = {
    "application/x-ndjson",
    "application/ndjson",
    "application/jsonl",
    "application/x-jsonlines",
}


def decode(
    body: bytes,
    *,
    content_type: str,
    default_service: str,
    received_at: datetime,
    limits: Limits,
) -> list[StreamRecord]:
    kind = (content_type or "").split(";")[0].strip().lower()

    def from_value(value: object, where: str) -> StreamRecord:
        if isinstance(value, dict):
            return record_from_object(
                value, received_at=received_at, default_service=default_service, limits=limits
            )
        if isinstance(value, str):
            return text_record(value, default_service, received_at, limits)
        raise Malformed(f"{where} is neither a JSON object nor a string")

    if kind == "application/json":
        document = loads(body, limits)
        if isinstance(document, list):
            return [from_value(v, f"item {i}") for i, v in enumerate(document, start=1)]
        return [from_value(document, "the body")]
    if kind in NDJSON_TYPES:
        out = []
        for number, line in iter_lines(body):
            try:
                value = loads(line, limits)
            except Malformed as exc:
                raise Malformed(f"line {number}: {exc.message}") from None
            out.append(from_value(value, f"line {number}"))
        return out
    if body.lstrip()[:1] == b"[":
        document = loads(body, limits)
        if isinstance(document, list):
            return [from_value(v, f"item {i}") for i, v in enumerate(document, start=1)]
    out = []
    for _, line in iter_lines(body):
        value = None
        if line.lstrip()[:1] == b"{":
            try:
                value = loads(line, limits)
            except Malformed:
                value = None
        if isinstance(value, dict):
            out.append(from_value(value, ""))
        else:
            out.append(
                text_record(line.decode("utf-8", "replace"), default_service, received_at, limits)
            )
    return out


def text_record(line: str, service: str, received_at: datetime, limits: Limits) -> StreamRecord:
    """A plain line: no time of its own; the parse step later reads what the line holds."""
    return make_record(
        time=None,
        observed_time=received_at,
        service=service,
        level=level_from_message(line),
        message=line,
        limits=limits,
    )
