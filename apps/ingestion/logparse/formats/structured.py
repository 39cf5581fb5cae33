"""Self-describing formats: JSON lines (any common key names), journald JSON, Docker json-file,
logfmt and logrus text.

JSON objects are read with one pass over their keys: each key has at most one role (timestamp,
level, message, service, host, pid, trace id); the first key seen for a role wins and everything
else becomes an attribute. Key names cover ECS, the OpenTelemetry log data model, Bunyan/pino,
structlog, logrus, zap, GCP and CloudWatch exports, python-json-logger, Serilog CLEF and GELF.
"""

from __future__ import annotations

import json
import re
from typing import Any

from ..levels import Scheme, level_from_message, normalize_level
from .spec import MAX_ATTR_KEYS, MAX_ATTR_STR, Fields, wrap_inner

TS, LEVEL, MESSAGE, SERVICE, HOST, PID, TRACE = range(7)

# key → (role, level scheme for numbers)
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

# Where nested objects keep the value of a role (ECS `{"log": {"level": ..}}`, OTel Resource).
NESTED: dict[int, tuple[str, ...]] = {
    TS: (),
    LEVEL: ("level",),
    MESSAGE: ("message", "msg", "stringValue"),
    SERVICE: ("service.name", "name", "service", "container_name", "app"),
    HOST: ("name", "hostname", "host.name", "host"),
    PID: ("pid",),
    TRACE: ("id", "trace_id"),
}


_SCALAR = frozenset((str, int, float))
_ECS_LOG = (LEVEL, Scheme.BUNYAN)
_SHORT = frozenset((int, float, bool))


def _scalar(value: Any, role: int) -> Any:
    """The usable scalar for a role, looking one level into objects; None when there isn't one."""
    if type(value) in _SCALAR:
        return value
    if isinstance(value, dict):
        for sub in NESTED[role]:
            v = value.get(sub)
            if isinstance(v, str | int | float) and not isinstance(v, bool):
                return v
        attrs = value.get("attributes")
        if role == SERVICE and isinstance(attrs, list):  # OTLP JSON: [{"key", "value"}]
            for item in attrs:
                if isinstance(item, dict) and item.get("key") == "service.name":
                    return _scalar(item.get("value"), MESSAGE)
        labels = value.get("labels")
        if role == SERVICE and isinstance(labels, dict):  # GCP resource.labels
            return _scalar(labels, SERVICE)
    return None


def _attr_value(v: Any) -> Any:
    if isinstance(v, str):
        return v if len(v) <= MAX_ATTR_STR else v[:MAX_ATTR_STR]
    if isinstance(v, dict | list) and v:
        try:
            text = json.dumps(v, ensure_ascii=False, default=str)
        except (ValueError, RecursionError):
            return None
        return v if len(text) <= MAX_ATTR_STR else text[:MAX_ATTR_STR]
    return v


def fields_from_object(obj: dict[str, Any]) -> Fields:
    found: list[Any] = [None] * 7
    attrs: dict[str, Any] = {}
    roles = ROLES
    for k, v in obj.items():
        r = roles.get(k)
        if r is not None:
            if k == "log" and type(v) is dict:
                r = _ECS_LOG  # ECS `{"log": {"level": "warn", "logger": ..}}`, not a message
            role, scheme = r
            if found[role] is None:
                s = v if type(v) in _SCALAR else _scalar(v, role)
                if s is not None:
                    found[role] = normalize_level(s, scheme) if role == LEVEL else s
                    if role == LEVEL and found[role] is None:
                        found[role] = False  # present but unknown: don't let a later key win
                    if isinstance(v, dict) and role != SERVICE:
                        _merge_rest(attrs, k, v)
                    continue
        if len(attrs) < MAX_ATTR_KEYS and v is not None:
            attrs[k] = v if type(v) in _SHORT else _attr_value(v)
    message = found[MESSAGE]
    level = found[LEVEL] or None
    if isinstance(message, int | float):
        message = str(message)
    elif message is None:
        message = ""
    if level is None and message:
        if message[:1] == "{" and message[-1:] == "}":  # CloudWatch/GCP: a JSON line inside
            inner = load_object(message)
            if inner is not None:
                f = fields_from_object(inner)
                for role, key in _INNER_KEYS:
                    if found[role] is None:
                        found[role] = f[key]
                attrs.update(list(f["attrs"].items())[: max(0, MAX_ATTR_KEYS - len(attrs))])
                message, level = f["message"], f["level"]
        else:
            level = level_from_message(message)
    service = found[SERVICE]
    if service is None and isinstance(attrs.get("name"), str) and ("v" in obj or "hostname" in obj):
        service = attrs.pop("name")  # Bunyan: `name` is the application
    pid = found[PID]
    return {
        "ts": found[TS],
        "level": level,
        "message": message,
        "service": str(service) if service is not None else None,
        "host": str(found[HOST]) if found[HOST] is not None else None,
        "pid": str(pid) if pid is not None else None,
        "trace_id": str(found[TRACE]) if found[TRACE] is not None else None,
        "attrs": attrs,
    }


_INNER_KEYS = ((TS, "ts"), (SERVICE, "service"), (HOST, "host"), (PID, "pid"), (TRACE, "trace_id"))


def _merge_rest(attrs: dict[str, Any], key: str, value: dict[str, Any]) -> None:
    """Keep the other members of an object we took one value from (ECS `log.logger`)."""
    for sub, v in value.items():
        if sub in ("level", "message", "msg", "id", "pid") or len(attrs) >= MAX_ATTR_KEYS:
            continue
        attrs[f"{key}.{sub}"] = _attr_value(v)


_last: tuple[str | None, dict[str, Any] | None] = (None, None)
# a `\uD800`-`\uDFFF` escape: JSON can spell half a surrogate pair, which no UTF-8 text can
# hold (the miner's hashing, RE2 and PostgreSQL would all refuse the string)
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89abcdefABCDEF]")


def load_object(text: str) -> dict[str, Any] | None:
    """json.loads for a line that is one JSON object; memoised for the last line (the JSON
    formats are tried one after another on the same line). The memo is one tuple, read and
    replaced atomically, so threads never see a text paired with another line's object."""
    global _last
    last = _last
    if last[0] is text:
        return last[1]
    obj = None
    if text[:1] == "{" and text.rstrip()[-1:] == "}":
        try:
            obj = json.loads(text)
        except (ValueError, RecursionError):  # deeply nested input is hostile, not JSON logs
            obj = None
        if not isinstance(obj, dict):
            obj = None
        elif "\\u" in text and _SURROGATE_ESCAPE.search(text):
            obj = _without_lone_surrogates(obj)
    _last = (text, obj)
    return obj


def _without_lone_surrogates(obj: dict[str, Any]) -> dict[str, Any]:
    """`obj` with each lone surrogate as `?` (pairs were already joined by json.loads); the
    raw line keeps the escape as written."""
    text = json.dumps(obj, ensure_ascii=False).encode("utf-8", "replace").decode("utf-8")
    return json.loads(text)


def parse_json(text: str) -> Fields | None:
    obj = load_object(text)
    if obj is None:
        return None
    return fields_from_object(obj)


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
    return {
        "ts": found[TS],
        "level": found[LEVEL],
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
