"""Trace and request ids in text and fields: one table of real header shapes."""

from __future__ import annotations

import pytest

from apps.core.correlate.traceids import ids_in_text, normalise, trace_id_of

W3C = "4bf92f3577b34da6a3ce929d0e0e4736"

standard_cases = [
    # (text, kind, id)
    (f"traceparent: 00-{W3C}-00f067aa0ba902b7-01", "w3c", W3C),
    (f'"GET / HTTP/1.1" 502 "00-{W3C.upper()}-00f067aa0ba902b7-01"', "w3c", W3C),
    (
        "X-Amzn-Trace-Id: Root=1-5759e988-bd862e3fe1be46a994272793;Sampled=1",
        "aws",
        "1-5759e988-bd862e3fe1be46a994272793",
    ),
    (
        "'x-b3-traceid', '80f198ee56343ba864fe8b2a57d3eff7'",
        "b3",
        "80f198ee56343ba864fe8b2a57d3eff7",
    ),
    ("X-B3-TraceId: 463ac35c9f6413ad", "b3", "463ac35c9f6413ad"),
    (
        "b3: 80f198ee56343ba864fe8b2a57d3eff7-e457b5a2e4d86bd1-1",
        "b3",
        "80f198ee56343ba864fe8b2a57d3eff7",
    ),
    (f"charge failed trace_id={W3C} span_id=00f067aa0ba902b7", "otel", W3C),
    (f'{{"msg": "boom", "traceId": "{W3C}"}}', "otel", W3C),
    ("dd.trace_id=1234567890123456789 dd.span_id=1", "otel", "1234567890123456789"),
    (
        "request_id=7f3c2a9e-51b0-4c1e-9d2f-0a4b5c6d7e8f done",
        "request-id",
        "7f3c2a9e-51b0-4c1e-9d2f-0a4b5c6d7e8f",
    ),
    ("X-Request-ID: abc123DEF456", "request-id", "abc123def456"),
    ("req_id=REQ-2024-000123 failed", "request-id", "req-2024-000123"),
]

negative_cases = [
    "GET /api/orders 200 in 38ms",
    "request took 1234ms",  # "request" but no id
    "trace_id=xyz",  # not hex
    "request_id=abc",  # too short to be an id
    "",
]


@pytest.mark.parametrize(("text", "kind", "value"), standard_cases)
def test_ids_in_text(text, kind, value):
    assert ids_in_text(text) == (kind, value)


@pytest.mark.parametrize("text", negative_cases)
def test_no_id(text):
    assert ids_in_text(text) is None


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (f"00-{W3C}-00f067aa0ba902b7-01", W3C),
        (
            "Root=1-5759e988-bd862e3fe1be46a994272793;Sampled=1",
            "1-5759e988-bd862e3fe1be46a994272793",
        ),
        ("80F198EE56343BA864FE8B2A57D3EFF7-e457b5a2e4d86bd1-1", "80f198ee56343ba864fe8b2a57d3eff7"),
        (W3C.upper(), W3C),
        ("Req-42-abcdef", "req-42-abcdef"),
    ],
)
def test_normalise_field_values(value, expected):
    assert normalise(value) == expected


def test_parsed_id_then_fields_then_text():
    assert trace_id_of("ABCDEF0123456789", {"trace_id": "x" * 16}, "") == "abcdef0123456789"
    assert trace_id_of(None, {"X-Request-ID": "Req-1234-5678"}, "") == "req-1234-5678"
    assert trace_id_of(None, {}, f"trace_id={W3C}") == W3C
    assert trace_id_of(None, {"trace_id": 42}, "nothing here") is None
