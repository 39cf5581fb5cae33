"""Self-describing formats: JSON lines, journald JSON, Docker json-file, logfmt and logrus text.

A JSON line's fields are found by jsonfields.py (names, nested paths, value shapes, errors).
logfmt pairs are read by key name (ROLES): the first key seen for a role wins and everything
else becomes an attribute.
"""

from __future__ import annotations

import re
from typing import Any

from ..levels import Scheme, level_from_status, normalize_level
from .jsonfields import fields_from_object, load_object
from .spec import MAX_ATTR_KEYS, MAX_ATTR_STR, Fields, wrap_inner

__all__ = ["fields_from_object", "load_object", "parse_json"]

TS, LEVEL, MESSAGE, SERVICE, HOST, PID, TRACE = range(7)

# logfmt key → (role, level scheme for numbers)
ROLES: dict[str, tuple[int, Scheme | None]] = {}
for _k in (
    "@timestamp", "timestamp", "time", "ts", "Timestamp", "ObservedTimestamp", "datetime",
    "date", "asctime", "eventTime", "receiveTimestamp", "@t", "Time", "timeMillis", "instant",
):  # fmt: skip
    ROLES[_k] = (TS, None)
for _k in (
    "level", "log.level", "severity", "SeverityText", "levelname", "lvl", "loglevel",
    "log_level", "@l", "Level", "Severity", "levelName",
):  # fmt: skip
    ROLES[_k] = (LEVEL, Scheme.BUNYAN)
ROLES["SeverityNumber"] = (LEVEL, Scheme.OTEL)
ROLES["levelno"] = (LEVEL, Scheme.PYTHON)
ROLES["PRIORITY"] = (LEVEL, Scheme.SYSLOG)
for _k in (
    "message", "msg", "Body", "body", "event", "textPayload", "MESSAGE", "@m", "@mt",
    "short_message", "Message", "log", "jsonPayload",
):  # fmt: skip
    ROLES[_k] = (MESSAGE, None)
for _k in (
    "service", "service.name", "service_name", "serviceName", "app", "application",
    "appname", "app_name", "_SYSTEMD_UNIT", "SYSLOG_IDENTIFIER", "Resource", "resource",
    "kubernetes", "serviceContext",
):  # fmt: skip
    ROLES[_k] = (SERVICE, None)
for _k in ("host", "hostname", "host.name", "_HOSTNAME", "HOSTNAME"):
    ROLES[_k] = (HOST, None)
for _k in ("pid", "process.pid", "_PID", "process_id", "process"):
    ROLES[_k] = (PID, None)
for _k in (
    "trace_id", "traceId", "trace.id", "TraceId", "traceID", "trace", "request_id",
    "requestId", "request.id", "req_id", "reqId", "x-request-id", "X-Request-Id",
    "x_request_id", "correlation_id", "correlationId", "logging.googleapis.com/trace",
    "dd.trace_id", "traceparent",
):  # fmt: skip
    ROLES[_k] = (TRACE, None)


def parse_json(text: str) -> Fields | None:
    obj = load_object(text)
    if obj is None:
        return None
    return fields_from_object(obj)


# A JSON object after a short prefix that names where it came from: `10.0.0.3: {…}` (a per-host
# collector), `[pod/api-1/app] {…}` (kubectl logs --prefix), `api | {…}`.
_PREFIX_ENDS = (":", "]", "|", ">")


def parse_prefixed_json(text: str) -> Fields | None:
    start = text.find("{", 1, 256)
    if start < 0 or text.rstrip()[-1:] != "}":
        return None
    prefix = text[:start].rstrip()
    if not prefix.endswith(_PREFIX_ENDS) or "{" in prefix or '"' in prefix:
        return None
    fields = parse_json(text[start:])
    if fields is None:
        return None
    name = prefix.rstrip(":|>] ").lstrip("[< ").strip()
    attrs = fields.get("attrs") or {}
    fields["attrs"] = {**attrs, "prefix": name}
    if not fields.get("host") and not fields.get("service"):
        fields["host"] = name
    return fields


# -- journald `journalctl -o json` -----------------------------------------------------------
_JOURNAL_KEEP = ("SYSLOG_IDENTIFIER", "_COMM", "_TRANSPORT", "_SYSTEMD_UNIT", "CODE_FILE", "ERRNO")


def parse_journald_json(text: str) -> Fields | None:
    obj = load_object(text)
    if obj is None or ("__REALTIME_TIMESTAMP" not in obj and "MESSAGE" not in obj):
        return None
    message = obj.get("MESSAGE")
    if isinstance(message, list):  # binary-safe form: a list of byte values
        message = bytes(b & 0xFF for b in message if isinstance(b, int)).decode("utf-8", "replace")
    unit = obj.get("_SYSTEMD_UNIT")
    service = obj.get("SYSLOG_IDENTIFIER") or obj.get("_COMM")
    if isinstance(unit, str) and unit:
        service = unit.removesuffix(".service")
    ts = obj.get("__REALTIME_TIMESTAMP")
    return {
        "ts": int(ts) if isinstance(ts, str) and ts.isdigit() else ts,
        "level": normalize_level(obj.get("PRIORITY"), Scheme.SYSLOG),
        "message": message if isinstance(message, str) else "",
        "service": service if isinstance(service, str) else None,
        "host": obj.get("_HOSTNAME"),
        "pid": obj.get("_PID"),
        "trace_id": None,
        "attrs": {k: obj[k] for k in _JOURNAL_KEEP if k in obj},
    }


# -- Docker json-file ------------------------------------------------------------------------
def parse_docker_json(text: str) -> Fields | None:
    if not text.startswith('{"log":'):
        return None
    obj = load_object(text)
    if obj is None or "stream" not in obj or not isinstance(obj.get("log"), str):
        return None
    log = obj["log"]
    partial = not log.endswith("\n")
    inner = log.rstrip("\r\n")
    attrs: dict[str, Any] = {"stream": obj["stream"]}
    extra = obj.get("attrs")
    if isinstance(extra, dict):
        attrs.update(list(extra.items())[:8])
    return wrap_inner(inner, ts=obj.get("time"), attrs=attrs, partial=partial)


# -- logfmt and logrus text ------------------------------------------------------------------
_PAIR = r'[\w.@/\-]+=(?:"[^"\\]*(?:\\.[^"\\]*)*"|[^\s"]*)'
_LOGFMT_LINE = re.compile(rf"{_PAIR}(?:\s+{_PAIR})+\s*$")
_LOGFMT_PAIR = re.compile(r'([\w.@/\-]+)=("[^"\\]*(?:\\.[^"\\]*)*"|[^\s"]*)')
_UNESCAPE = re.compile(r"\\(.)")
_LOGFMT_ROLES = dict(ROLES)
_LOGFMT_ROLES["at"] = (LEVEL, None)  # Heroku router: at=error
_LOGFMT_ROLES["t"] = (TS, None)
_KNOWN_LOGFMT = frozenset(k for k, (r, _) in _LOGFMT_ROLES.items() if r in (TS, LEVEL, MESSAGE))


def parse_logfmt(text: str) -> Fields | None:
    if "=" not in text[:130]:
        return None
    pairs = _LOGFMT_PAIR.findall(text)
    if len(pairs) < 2:
        return None
    # Single-space separated pairs that add up to the whole line are valid logfmt; anything
    # else (extra spaces, words between pairs) gets the full-line check.
    covered = sum(len(k) + len(v) for k, v in pairs) + 2 * len(pairs) - 1
    if covered != len(text) and not _LOGFMT_LINE.match(text):
        return None
    found: list[Any] = [None] * 7
    attrs: dict[str, Any] = {}
    known = 0
    for key, raw in pairs:
        value = raw
        if raw[:1] == '"':
            value = raw[1:-1]
            if "\\" in value:
                value = _UNESCAPE.sub(r"\1", value)
        r = _LOGFMT_ROLES.get(key)
        if r is not None and found[r[0]] is None:
            found[r[0]] = normalize_level(value) if r[0] == LEVEL else value
            if key in _KNOWN_LOGFMT:
                known += 1
            continue
        if len(attrs) < MAX_ATTR_KEYS:
            attrs[key] = value if len(value) <= MAX_ATTR_STR else value[:MAX_ATTR_STR]
    if not known and len(pairs) < 3:
        return None
    level = found[LEVEL]
    if level is None:  # a request line (Heroku's router, Traefik, Go access logs): its status
        status = attrs.get("status") or attrs.get("status_code")
        level = level_from_status(status) if isinstance(status, str) else None
    return {
        "ts": found[TS],
        "level": level,
        "message": found[MESSAGE] or "",
        "service": found[SERVICE],
        "host": found[HOST],
        "pid": found[PID],
        "trace_id": found[TRACE],
        "attrs": attrs,
    }


def parse_logrus(text: str) -> Fields | None:
    if not text.startswith("time="):
        return None
    return parse_logfmt(text)
