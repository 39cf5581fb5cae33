"""Correlation across services and with deploys, without Django.

- `traceids`: trace and request ids in fields and text (W3C traceparent, B3, X-Request-ID,
  AWS X-Amzn-Trace-Id, OTel trace_id).
- `services`: per service, the onset of its error-rate change and its first anomalous line;
  the order services started failing in, the origin and how confident that order is.
- `deploys`: deploy events (JSON lines) and which one most likely triggered the incident.
"""
