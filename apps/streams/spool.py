"""The spool's encoding of one accepted request: its decoded records in one compact value.

Framework-free (no Django). A receiver decodes and validates a request, then `pack`s its
records into one `SpoolBatch.payload`: one row per request instead of one per record (the
per-record COPY cost the receiver ~10 ms and PostgreSQL ~17 ms per 1,000 records; packing
costs ~3 ms and one INSERT). The drain `unpack`s it.

Format 1: the byte 0x01, then zlib (level 1) of UTF-8 JSON

    {"resources": [{...}, ...],
     "records": [[ts_us, observed_us, service, level, message, attributes, resource,
                  trace_id, span_id, truncated], ...]}

`ts_us`/`observed_us`: microseconds since the Unix epoch (UTC; `ts_us` null when the sender
gave no time); `level`: index into LEVELS or null; `resource`: index into `resources` (the
records of a request usually share one). Everything in it was made storable by the decoders
(`protocols.record.make_record`), so what packs here also goes into PostgreSQL (text, jsonb)
when drained: the drain cannot fail on a payload the receiver accepted.
"""

from __future__ import annotations

import json
import zlib
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from apps.core.vocabulary import LEVEL_NUMBER, LEVELS

from .protocols import Malformed, StreamRecord

FORMAT = 1
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
MICROSECOND = timedelta(microseconds=1)
# positions in a packed record
TS, OBSERVED, SERVICE, LEVEL, MESSAGE, ATTRIBUTES, RESOURCE, TRACE_ID, SPAN_ID, TRUNCATED = range(
    10
)
HOST_KEYS = ("host.name", "host", "hostname", "host_name")  # the sender's host, from its resource

_dumps = json.JSONEncoder(ensure_ascii=False, allow_nan=False, separators=(",", ":")).encode
_loads = json.JSONDecoder().decode


class Unreadable(ValueError):
    """A payload this code did not write (another format, or damaged)."""


def pack(records: list[StreamRecord]) -> bytes:
    """The payload of `records`; `Malformed` if something in them cannot be stored."""
    resources: list[dict] = []
    rows = []
    level_number = LEVEL_NUMBER.get
    last: dict | None = None
    position = -1
    for record in records:
        resource = record.resource
        if resource is not last and (last is None or resource != last):
            position = len(resources)  # a new resource (consecutive records share one)
            resources.append(resource)
        last = resource
        level = record.level
        rows.append(
            [
                None if record.time is None else _micros(record.time),
                _micros(record.observed_time),
                record.service,
                level_number(level) if level else None,
                record.message,
                record.attributes,
                position,
                record.trace_id,
                record.span_id,
                record.truncated,
            ]
        )
    try:
        text = _dumps({"resources": resources, "records": rows})
        data = text.encode("utf-8")
    except (TypeError, ValueError, RecursionError) as exc:  # UnicodeEncodeError is a ValueError
        raise Malformed(f"a record cannot be stored: {exc}") from None
    return bytes((FORMAT,)) + zlib.compress(data, 1)


def _micros(moment: datetime) -> int:
    try:
        return (moment - EPOCH) // MICROSECOND
    except TypeError:  # naive: UTC, as PostgreSQL's timestamptz would have read it
        return (moment.replace(tzinfo=UTC) - EPOCH) // MICROSECOND


def unpack(payload: bytes | memoryview) -> tuple[list[dict], list[list]]:
    """The resources and the packed records (lists, positions above) of a payload."""
    return parse(text_of(payload))


def text_of(payload: bytes | memoryview) -> str:
    """A payload's JSON document, as text."""
    if not payload or payload[0] != FORMAT:
        raise Unreadable("not a spool payload of format 1")
    try:
        return zlib.decompress(payload[1:]).decode("utf-8")
    except (zlib.error, UnicodeDecodeError) as exc:
        raise Unreadable(f"damaged spool payload: {exc}") from None


def parse(text: str) -> tuple[list[dict], list[list]]:
    """The resources and the packed records of a payload's JSON document."""
    try:
        document = _loads(text)
        return document["resources"], document["records"]
    except (ValueError, KeyError, TypeError) as exc:
        raise Unreadable(f"damaged spool payload: {exc}") from None


def moment(micros: int) -> datetime:
    return EPOCH + micros * MICROSECOND


def host_of(resource: dict) -> str:
    """The sender's host named by its resource, "" if none (as text, cut to 200)."""
    for key in HOST_KEYS:
        value = resource.get(key)
        if value is not None:
            return (value if isinstance(value, str) else _dumps(value))[:200]
    return ""


def dumps(value: object) -> str:
    """JSON text as the spool writes it (what the drain hands PostgreSQL for jsonb)."""
    return _dumps(value)


@dataclass(slots=True)
class SpooledRecord:
    """One record read back from a payload (tools and tests; the drain reads `unpack`)."""

    seq: int
    ts: datetime | None
    observed_ts: datetime
    service: str
    level: int | None
    message: str
    attributes: dict = field(default_factory=dict)
    resource: dict = field(default_factory=dict)
    trace_id: str = ""
    span_id: str = ""
    truncated: bool = False

    @property
    def level_name(self) -> str:
        return LEVELS[self.level] if self.level is not None else ""


def read(payload: bytes | memoryview) -> list[SpooledRecord]:
    resources, rows = unpack(payload)
    return [
        SpooledRecord(
            seq=seq,
            ts=None if row[TS] is None else moment(row[TS]),
            observed_ts=moment(row[OBSERVED]),
            service=row[SERVICE],
            level=row[LEVEL],
            message=row[MESSAGE],
            attributes=row[ATTRIBUTES],
            resource=resources[row[RESOURCE]],
            trace_id=row[TRACE_ID],
            span_id=row[SPAN_ID],
            truncated=row[TRUNCATED],
        )
        for seq, row in enumerate(rows)
    ]
