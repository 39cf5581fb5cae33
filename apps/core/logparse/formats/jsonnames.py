"""Which role a JSON key plays, by its name: the catalogue of known names, as data.

A key, or a dotted path into nested objects (`log.level`, `err.message`), is normalised (lower
case, `_` and `-` dropped) and looked up: known names have a role and a rank (lower wins), a
level scheme for numeric levels, and a gate (the shape a value must have for a loosely named
key to take the role). See jsonfields.py for how the roles become a record's fields.
"""

from __future__ import annotations

from typing import Any

from ..levels import Scheme

TS, LEVEL, MESSAGE, SERVICE, HOST, PID, TRACE, COMPONENT, TEMPLATE = range(9)
ERR_ANY, ERR_MSG, ERR_STACK, ERR_TYPE = range(9, 13)
N_ROLES = 13

# What a value must look like for a loosely named key to take the role.
ANY, TIME, WORD, MULTILINE, TEXT = range(5)
FUZZY = 8  # rank of a name that only resembles a known one
SUFFIX = 3  # rank added when a path matched without its leading segments

Rule = tuple[int, int, Any, int]  # role, rank (lower wins), level scheme, value gate

_RULES: dict[str, Rule] = {}


def _add(role: int, rank: int, names: str, scheme: Any = None, gate: int = ANY) -> None:
    for name in names.split():
        _RULES.setdefault(name, (role, rank, scheme, gate))


# Names as normalised (lower case, no `_`/`-`). Sources: ECS field reference, the OpenTelemetry
# log data model and OTLP JSON, pino/bunyan, zap, logrus, structlog, Serilog CLEF, MongoDB 4.4+
# structured logs, log4j2 JsonLayout/JsonTemplateLayout, GELF, GCP LogEntry, CloudWatch exports.
_add(TS, 0, "@timestamp timestamp time ts datetime @t eventtime instant timemillis timeunixnano")
_add(TS, 1, "asctime date logtime")
_add(TS, 2, "t", gate=TIME)  # MongoDB `{"t": {"$date": ...}}`
_add(TS, 3, "observedtimestamp observedtimeunixnano receivetimestamp")
_add(LEVEL, 0, "level log.level severity severitytext levelname lvl loglevel @l levelstr")
_add(LEVEL, 1, "severitynumber", Scheme.OTEL)
_add(LEVEL, 1, "levelno", Scheme.PYTHON)
_add(LEVEL, 1, "priority syslog.severity", Scheme.SYSLOG)
_add(LEVEL, 2, "s", gate=WORD)  # MongoDB
_add(MESSAGE, 0, "@m")  # Serilog CLEF: the rendered message beats the template
_add(MESSAGE, 1, "message msg")
_add(MESSAGE, 2, "body textpayload shortmessage body.stringvalue body.message")
_add(MESSAGE, 3, "event jsonpayload.message")  # structlog's `event`
_add(MESSAGE, 4, "log fullmessage")
_add(TEMPLATE, 0, "@mt messagetemplate")
_add(SERVICE, 0, "service service.name servicename app application appname")
_add(SERVICE, 1, "systemdunit syslogidentifier servicecontext.service")
_add(SERVICE, 2, "kubernetes.containername resource.labels.containername k8s.container.name")
_add(COMPONENT, 0, "logger loggername log.logger logger.name component sourcecontext category")
_add(COMPONENT, 2, "c", gate=WORD)  # MongoDB
_add(HOST, 0, "host hostname host.name host.hostname")
_add(PID, 0, "pid process.pid processid")
_add(
    TRACE,
    0,
    "traceid trace.id trace dd.traceid logging.googleapis.com/trace traceparent",
)
_add(TRACE, 1, "requestid request.id reqid req.id xrequestid correlationid")
_add(ERR_STACK, 0, "stacktrace traceback backtrace excinfo exctext @x")
_add(ERR_STACK, 1, "stack", gate=MULTILINE)
_add(ERR_MSG, 0, "errormessage errmsg errormsg exceptionmessage")
_add(ERR_TYPE, 0, "errortype exceptiontype errorkind errorclass exceptionclass")
for _head in ("err", "error", "exception", "exc", "thrown", "throwable", "fault"):
    _add(ERR_ANY, 1, _head)
    _add(ERR_MSG, 0, f"{_head}.message {_head}.msg {_head}.reason {_head}.localizedmessage")
    _add(ERR_MSG, 1, f"{_head}.description {_head}.detail {_head}.errmsg")
    _add(ERR_STACK, 0, f"{_head}.stack {_head}.stacktrace {_head}.extendedstacktrace")
    _add(ERR_STACK, 0, f"{_head}.backtrace {_head}.traceback")
    _add(ERR_TYPE, 0, f"{_head}.type {_head}.kind {_head}.name {_head}.class {_head}.classname")

# Objects whose members are classified as paths (`{"log": {"level": ..}}` is `log.level`).
_CONTAINERS = frozenset(
    name.rsplit(".", i)[0] for name in _RULES for i in range(1, name.count(".") + 1)
) | {"resource", "resource.attributes"}
# Bags of arbitrary attributes: kept whole, but an error inside them is still found.
BAGS = frozenset(("attr", "attrs", "attributes", "context", "extra", "fields", "data", "details"))
ERROR_ROLES = (ERR_ANY, ERR_MSG, ERR_STACK, ERR_TYPE)

# classify's answers by path; the JSON fast path reads it directly (`RULES_SEEN.get(k, MISS)`)
RULES_SEEN: dict[str, Rule | None] = {}
MISS: Any = object()
_container_cache: dict[str, bool] = {}


def normal_name(path: str) -> str:
    return path.lower().replace("_", "").replace("-", "")


def classify(path: str) -> Rule | None:
    rule = RULES_SEEN.get(path, MISS)
    if rule is not MISS:
        return rule
    name = normal_name(path)
    rule = _RULES.get(name)
    if rule is None and "." in name:
        parts = name.split(".")
        for i in range(1, len(parts)):
            hit = _RULES.get(".".join(parts[i:]))
            if hit is not None:
                rule = (hit[0], hit[1] + SUFFIX, hit[2], hit[3])
                break
    if rule is None:
        rule = _fuzzy(name, path)
    if len(RULES_SEEN) < 8192:
        RULES_SEEN[path] = rule
    return rule


def _fuzzy(name: str, raw: str) -> Rule | None:
    """A name that only resembles a role's; its value must look the part."""
    last = name.rsplit(".", 1)[-1]
    if "err" in last or "exception" in last:
        if "stack" in last or "trace" in last:
            return (ERR_STACK, FUZZY, None, ANY)
        if "message" in last or "msg" in last:
            return (ERR_MSG, FUZZY, None, ANY)
        return None
    if "stacktrace" in last or "traceback" in last:
        return (ERR_STACK, FUZZY, None, ANY)
    if "message" in last or last.endswith("msg"):
        return (MESSAGE, FUZZY, None, ANY)
    if "level" in last or "severity" in last or "lvl" in last:
        return (LEVEL, FUZZY, None, WORD)
    if last.endswith(("time", "timestamp", "date")) or raw.endswith(("_at", "At")):
        return (TS, FUZZY, None, TIME)
    return None


def is_container(path: str) -> bool:
    hit = _container_cache.get(path)
    if hit is None:
        parts = normal_name(path).split(".")
        hit = any(".".join(parts[i:]) in _CONTAINERS for i in range(len(parts)))
        if len(_container_cache) < 8192:
            _container_cache[path] = hit
    return hit
