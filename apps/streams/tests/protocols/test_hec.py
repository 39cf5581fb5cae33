import json
from datetime import UTC, datetime

import pytest

from apps.streams.protocols import hec
from apps.streams.protocols.record import Limits, TooDeep

NOW = datetime(2024, 1, 15, 14, 5, tzinfo=UTC)
LIMITS = Limits()


def decode(body):
    return hec.decode(body, received_at=NOW, limits=LIMITS)


def test_splunk_handler_sends_objects_back_to_back():
    """splunk-handler: JSON envelopes with no separator, the file path in `source`."""
    envelopes = [
        {
            "host": "web-1",
            "source": "/app/payments/charge.py",
            "sourcetype": "text",
            "index": "main",
            "time": 1705327331.123,
            "event": "ERROR payment failed",
        },
        {"time": "1705327332", "event": "INFO retry ok", "fields": {"service": "payments"}},
    ]
    records = decode("".join(json.dumps(e) for e in envelopes).encode())
    first, second = records
    assert first.message == "ERROR payment failed"
    assert first.level == "ERROR"  # from the message's first word
    assert first.service == ""  # "text" says nothing about the sender
    assert first.time == datetime(2024, 1, 15, 14, 2, 11, 123000, tzinfo=UTC)
    assert first.resource == {
        "host": "web-1",
        "source": "/app/payments/charge.py",
        "sourcetype": "text",
        "index": "main",
    }
    assert (second.service, second.level) == ("payments", "INFO")
    assert second.attributes == {"fields": {"service": "payments"}}


def test_object_events_keep_their_fields():
    body = json.dumps(
        {
            "sourcetype": "checkout-api",
            "time": 1705327331,
            "event": {
                "message": "timeout",
                "severity": "warning",
                "trace_id": "4bf92f3577b34da6a3ce929d0e0e4736",
                "ms": 5000,
            },
        }
    ).encode()
    (record,) = decode(body)
    assert (record.service, record.level, record.message) == ("checkout-api", "WARN", "timeout")
    assert record.trace_id == "4bf92f3577b34da6a3ce929d0e0e4736"
    assert record.attributes == {"ms": 5000}
    assert record.time == datetime(2024, 1, 15, 14, 2, 11, tzinfo=UTC)


@pytest.mark.parametrize(
    ("body", "code", "event_number"),
    [
        (b"", 5, 0),
        (b"   \n", 5, 0),
        (b'{"event": "a"}{"host": "x"}', 12, 1),
        (b'{"event": ""}', 13, 0),
        (b'{"event": "a"}[1]', 6, 1),
        (b"\xff\xfe", 6, 0),
    ],
)
def test_errors_carry_hec_codes(body, code, event_number):
    with pytest.raises(hec.BadEvent) as caught:
        decode(body)
    assert (caught.value.code, caught.value.event_number) == (code, event_number)


def test_broken_json_and_depth():
    with pytest.raises(hec.Malformed, match="event 2"):
        decode(b'{"event": "a"}{"event": ')
    with pytest.raises(TooDeep):
        decode(b'{"event": ' + b"[" * 100 + b"]" * 100 + b"}")
