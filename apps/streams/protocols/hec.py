"""Splunk HTTP Event Collector (`/services/collector/event`): JSON event envelopes.

Envelopes come back to back, separated by whitespace or by nothing at all (splunk-handler
sends `{…}{…}` with no Content-Type). Each has `event` (a string or an object) and optionally
`time` (epoch seconds), `host`, `source`, `sourcetype`, `index` and indexed `fields`. Errors
carry HEC's numeric codes, which Splunk clients log.
"""

from __future__ import annotations

from datetime import datetime

from apps.core.logparse.levels import level_from_message

from .bodies import concatenated_json
from .fields import LEVEL_FIELDS, SERVICE_FIELDS, first, level_of, parse_time, record_from_object
from .record import Limits, Malformed, StreamRecord, clean_value, make_record

# Sourcetypes that say how the data is shaped, not what sent it.
GENERIC_SOURCETYPES = {"", "_json", "json", "text", "httpevent", "generic_single_line", "syslog"}
ENVELOPE_KEYS = ("host", "source", "sourcetype", "index")


class BadEvent(Malformed):
    """One event of the batch is unusable: HEC answers 400 with its code and number."""

    def __init__(self, message: str, *, code: int, event_number: int) -> None:
        super().__init__(message)
        self.code = code
        self.event_number = event_number


def decode(body: bytes, *, received_at: datetime, limits: Limits) -> list[StreamRecord]:
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise BadEvent("Invalid data format", code=6, event_number=0) from None
    out: list[StreamRecord] = []
    for number, envelope in enumerate(concatenated_json(text, limits)):
        if not isinstance(envelope, dict):
            raise BadEvent("Invalid data format", code=6, event_number=number)
        if "event" not in envelope:
            raise BadEvent("Event field is required", code=12, event_number=number)
        event = envelope["event"]
        if event is None or event == "" or event == {}:
            raise BadEvent("Event field cannot be blank", code=13, event_number=number)
        out.append(_record(envelope, event, received_at, limits))
    if not out:
        raise BadEvent("No data", code=5, event_number=0)
    return out


def _record(envelope: dict, event: object, received_at: datetime, limits: Limits):
    fields = envelope.get("fields") if isinstance(envelope.get("fields"), dict) else {}
    resource = {key: envelope[key] for key in ENVELOPE_KEYS if envelope.get(key) is not None}
    sourcetype = envelope.get("sourcetype")
    _, service = first(fields, SERVICE_FIELDS)
    if not isinstance(service, str):
        service = sourcetype if isinstance(sourcetype, str) else ""
        if service.lower() in GENERIC_SOURCETYPES:
            service = ""
    time = parse_time(envelope.get("time")) if envelope.get("time") is not None else None
    _, field_level = first(fields, LEVEL_FIELDS)
    if isinstance(event, dict):
        record = record_from_object(
            event,
            received_at=received_at,
            default_service=service,
            limits=limits,
            resource=resource,
        )
        if time is not None:
            record.time = time
        if fields:
            record.attributes = {**record.attributes, "fields": clean_value(fields, limits)}
        if record.level is None and field_level is not None:
            record.level = level_of(field_level)
        return record
    message = event if isinstance(event, str) else str(event)
    return make_record(
        time=time,
        observed_time=received_at,
        service=service,
        level=level_of(field_level) if field_level is not None else level_from_message(message),
        message=message,
        attributes={"fields": fields} if fields else {},
        resource=resource,
        limits=limits,
    )
