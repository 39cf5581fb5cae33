"""Trace and request ids, from a record's fields and from its text.

A catalogue of named patterns, each for one propagation format; the first that matches wins.
Ids are normalised to lower case so the same W3C trace id printed by a proxy (in a
traceparent) and by an OTel SDK (as trace_id) meet. B3 and W3C share the 128-bit trace id, so
a trace that crosses a Zipkin-instrumented service and an OTel one still joins up.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

# Bounded, linear patterns: every repetition has a fixed or small upper bound.
_PATTERNS: tuple[tuple[str, re.Pattern[str]], ...] = (
    # W3C Trace Context: traceparent: 00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01
    (
        "w3c",
        re.compile(r"\b[0-9a-f]{2}-([0-9a-f]{32})-[0-9a-f]{16}-[0-9a-f]{2}\b", re.IGNORECASE),
    ),
    # AWS X-Ray: X-Amzn-Trace-Id: Root=1-5759e988-bd862e3fe1be46a994272793;Sampled=1
    ("aws", re.compile(r"\bRoot=(1-[0-9a-f]{8}-[0-9a-f]{24})\b", re.IGNORECASE)),
    # B3 multi-header: X-B3-TraceId: 80f198ee56343ba864fe8b2a57d3eff7 (64 or 128 bit)
    (
        "b3",
        re.compile(
            r"\bx-b3-traceid[\"']?\s*[:=,]\s*[\"']?([0-9a-f]{32}|[0-9a-f]{16})\b", re.IGNORECASE
        ),
    ),
    # B3 single header: b3: 80f198ee56343ba864fe8b2a57d3eff7-e457b5a2e4d86bd1-1
    (
        "b3",
        re.compile(r"\bb3[\"']?\s*[:=]\s*[\"']?([0-9a-f]{32}|[0-9a-f]{16})-[0-9a-f]{16}\b", re.I),
    ),
    # OTel / structured logs: trace_id=…, "traceId": "…", trace.id: …, dd.trace_id=…
    (
        "otel",
        re.compile(
            r"\btrace[._-]?id[\"']?\s*[:=]\s*[\"']?([0-9a-f]{32}|[0-9a-f]{16}|[0-9]{10,20})\b",
            re.IGNORECASE,
        ),
    ),
    # X-Request-ID / request_id / req_id / correlation id: any token of 8..64 id characters
    (
        "request-id",
        re.compile(
            r"\b(?:x-)?(?:request|req|correlation|corr)[._-]?id[\"']?\s*[:=]\s*[\"']?"
            r"([0-9A-Za-z][0-9A-Za-z._:-]{7,63})",
            re.IGNORECASE,
        ),
    ),
)
# A cheap test before the patterns: every pattern needs one of these words (in the lowered
# text: substring tests, where a case-insensitive regex alternation cost ~10 µs a line) or a
# W3C id's shape.
_WORDS = ("trace", "req", "corr", "root=", "b3")
_W3C_SHAPE = re.compile(r"-[0-9a-f]{32}-")


def _hint(text: str) -> bool:
    low = text.lower()
    for word in _WORDS:
        if word in low:
            return True
    return _W3C_SHAPE.search(low) is not None


_PLAIN = re.compile(r"[0-9a-fA-F]{16}|[0-9a-fA-F]{32}")  # already a bare trace id
# Field names (record attrs) that hold an id, most specific first.
TRACE_FIELDS: tuple[str, ...] = (
    "trace_id",
    "traceId",
    "trace.id",
    "traceid",
    "dd.trace_id",
    "traceparent",
    "x-amzn-trace-id",
    "X-Amzn-Trace-Id",
    "x-b3-traceid",
    "X-B3-TraceId",
    "b3",
    "request_id",
    "requestId",
    "x-request-id",
    "X-Request-ID",
    "req_id",
    "correlation_id",
)


def ids_in_text(text: str) -> tuple[str, str] | None:
    """(kind, id) of the first trace or request id in `text`, or None."""
    if not _hint(text):
        return None
    for kind, pattern in _PATTERNS:
        m = pattern.search(text)
        if m:
            return kind, m.group(1).lower()
    return None


def normalise(value: str) -> str:
    """A field's value as an id: a traceparent or X-Ray header gives its trace id."""
    value = value.strip()
    if _PLAIN.fullmatch(value):
        return value.lower()
    found = ids_in_text(f"traceparent: {value}") or ids_in_text(value)
    if found and found[0] in ("w3c", "aws"):
        return found[1]
    b3 = re.fullmatch(
        r"([0-9a-fA-F]{16,32})-[0-9a-fA-F]{16}(?:-[01d])?(?:-[0-9a-fA-F]{16})?", value
    )
    if b3:
        return b3.group(1).lower()
    return value.lower()


def trace_id_of(trace_id: str | None, attrs: Mapping[str, object], text: str) -> str | None:
    """A record's trace or request id: its parsed id, else a field, else one in its text."""
    if trace_id:
        return normalise(trace_id)
    for name in TRACE_FIELDS:
        value = attrs.get(name)
        if isinstance(value, str) and value:
            return normalise(value)
    head = text[:1000].partition("\n")[0]  # ids are printed on a record's first line
    found = ids_in_text(head)
    return found[1] if found else None
