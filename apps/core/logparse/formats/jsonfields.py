"""Find the fields of one JSON log object: by key name, by dotted path, by value shape.

Each key, and each dotted path into the objects loggers nest (`log.level`, `err.message`,
`t.$date`, `resource.service.name`, `error.stack_trace`), is classified once by its normalised
name: lower case with `_` and `-` dropped, so `severity_text`, `SeverityText` and `severityText`
are one name, and a path unknown as a whole is tried without its leading segments
(`attributes.exception.message` → `exception.message`). Known names (ECS, OpenTelemetry, pino/
bunyan, zap, logrus, structlog, Serilog CLEF, MongoDB, log4j2, GELF, GCP, python-json-logger)
have a rank; names only resembling one (`eventTimestamp`, `logSeverity`, `log_message`) rank
last and must also have the value's shape (a time, a level word). The best rank per role wins.

Numeric levels: the name decides when it can (`severity_number` → OpenTelemetry 1–24,
`levelno` → Python, `priority` → syslog); otherwise the value's range does: 0–7 a syslog
severity, 10–60 pino/bunyan, 100–600 Monolog. A level stated as a word beats one stated as a
number. Epoch times keep their number; timestamps.epoch_to_datetime tells s/ms/µs/ns apart by
magnitude.

Errors stay visible: an error, exception or stack field (`err.message`, `error`, `exc_info`,
`exception.stacktrace`, `@x`) is appended to the message (`charge failed: x509: certificate has
expired`) unless the message already says it, the stack is kept as the `stack` attribute, and a
line with an error and no level is an ERROR.

Which key holds the message is a property of the file, not of a line: when no key is named like
a message, the longest spaced text of the first line of each key layout is chosen and
remembered for that layout. The catalogue of names and their roles is in jsonnames.py.
"""

from __future__ import annotations

import json
import re
from typing import Any

from ..levels import (
    SYSLOG_SEVERITY,
    WORDS,
    Scheme,
    level_from_message,
    level_from_status,
    normalize_level,
)
from .jsonnames import (
    ANY,
    BAGS,
    COMPONENT,
    ERR_ANY,
    ERR_MSG,
    ERR_STACK,
    ERR_TYPE,
    ERROR_ROLES,
    HOST,
    LEVEL,
    MESSAGE,
    MISS,
    MULTILINE,
    N_ROLES,
    PID,
    RULES_SEEN,
    SERVICE,
    SUFFIX,
    TEMPLATE,
    TIME,
    TRACE,
    TS,
    WORD,
    Rule,
    classify,
    is_container,
)
from .spec import MAX_ATTR_KEYS, MAX_ATTR_STR, Fields

MAX_STACK = 4 * MAX_ATTR_STR  # a stack is the evidence: kept longer than other attributes
# per object path, its members: (path, rule, is a container)
_members: dict[str, dict[str, tuple[str, Rule | None, bool]]] = {}


# -- values ----------------------------------------------------------------------------------
_TIME_SHAPE = re.compile(r"\d{4}-\d\d-\d\d[T ]\d\d:\d\d|\d{9,19}(?:\.\d+)?$|\d\d:\d\d:\d\d")


def _time(v: Any, gate: int) -> Any:
    """The raw timestamp in `v` (a string, an epoch number, a MongoDB/log4j2/protobuf object)."""
    tv = type(v)
    if tv is str:
        if not v or (gate == TIME and not _TIME_SHAPE.match(v)):
            return None
        return v
    if tv is int or tv is float:
        return v if gate != TIME or 1e9 <= v < 1e20 else None
    if tv is dict:
        d = v.get("$date")  # MongoDB extended JSON, relaxed or canonical
        if d is not None:
            if isinstance(d, dict):
                d = d.get("$numberLong")
                return int(d) if isinstance(d, str) and d.isdigit() else None
            return d if isinstance(d, str | int | float) and not isinstance(d, bool) else None
        sec = v.get("epochSecond", v.get("seconds"))  # log4j2 instant, protobuf Timestamp
        if isinstance(sec, int | float) and not isinstance(sec, bool):
            nanos = v.get("nanoOfSecond", v.get("nanos")) or 0
            return sec + nanos / 1e9 if isinstance(nanos, int | float) else sec
    return None


_words = {w: level for w, level in WORDS.items() if len(w) > 1} | {
    w.upper(): level for w, level in WORDS.items()
}


def _number_level(n: float, scheme: Any) -> str | None:
    if scheme is not None:
        return normalize_level(n, scheme)
    if 0 <= n <= 7:
        return SYSLOG_SEVERITY[int(n)]
    if 100 <= n <= 600:  # Monolog: 100 debug, 200 info, 250 notice, 300 warning, 400 error…
        return ("DEBUG", "INFO", "WARN", "ERROR", "FATAL", "FATAL")[min(int(n) // 100, 6) - 1]
    return normalize_level(n, Scheme.BUNYAN)


def _level(v: Any, scheme: Any) -> str | None:
    tv = type(v)
    if tv is str:
        hit = _words.get(v)
        if hit is not None:
            return hit
        if v.isdigit():
            return _number_level(int(v), scheme)
        hit = normalize_level(v)
        if hit is None and len(v) == 2 and v[1].isdigit():
            hit = normalize_level(v[0])  # MongoDB D1..D5
        return hit
    if tv is int or tv is float:
        return _number_level(v, scheme)
    return None


def _text(v: Any) -> str | None:
    tv = type(v)
    if tv is str:
        return v or None
    if (tv is int or tv is float) and v is not True and v is not False:
        return str(v)
    return None


def _stack_text(v: Any) -> str | None:
    if type(v) is str:
        return v or None
    if type(v) is list and v:  # frames as a list of strings or of objects
        lines = [x if isinstance(x, str) else json.dumps(x, default=str) for x in v[:200]]
        return "\n".join(lines)
    return None


def _summary(stack: str) -> str:
    """The error a stack is about: a Python traceback's last line, anyone else's first."""
    stack = stack.strip()
    if stack.startswith("Traceback"):
        return stack.rsplit("\n", 1)[-1].strip()
    return stack.split("\n", 1)[0].strip()


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


_SHORT = frozenset((int, float, bool))
# Roles whose value also stays an attribute: the error's words and type are appended to the
# message (which may shorten them), the component may become the service, the template groups.
_VISIBLE = frozenset((ERR_MSG, ERR_TYPE, COMPONENT, TEMPLATE))
_PLAIN = frozenset((TS, LEVEL, MESSAGE, SERVICE, HOST, PID, TRACE))
_NO_ERROR = frozenset(("", "null", "none", "nil", "false", "0", "-", "ok"))


class _Found:
    """The best candidate per role while one object is walked."""

    __slots__ = ("attrs", "keys", "named_message", "rank", "value")

    def __init__(
        self, rank: list[int], value: list[Any], keys: list[Any], attrs: dict[str, Any]
    ) -> None:
        self.rank, self.value, self.keys, self.attrs = rank, value, keys, attrs
        self.named_message = False

    def offer(self, path: str, v: Any, rule: Rule) -> bool:
        """Take `v` for the rule's role if it fits and ranks better; False: it is an attribute."""
        role, rank, scheme, gate = rule
        if role in (MESSAGE, TEMPLATE):
            self.named_message = True
        if rank >= self.rank[role]:
            return False  # a runner-up stays visible as an attribute
        tv = type(v)
        if role == TS:
            got: Any = v if tv is str and gate == ANY else _time(v, gate)
        elif role == LEVEL:
            got = _level(v, scheme)
            if got is None or (gate == WORD and tv is str and len(v) > 12):
                return False
            if tv is not str:
                rank += 2  # a level said in words beats one said in numbers
                if rank >= self.rank[role]:
                    return False
        elif role < ERR_ANY:  # message, template, service, host, pid, trace, component
            got = v if tv is str else _text(v)
            if got and gate == WORD and (len(got) > 40 or " " in got):
                return False
        elif role == ERR_ANY:
            got = v if tv is str and v.lower() not in _NO_ERROR else None
            role = ERR_STACK if got is not None and "\n" in got else ERR_MSG
            if rank >= self.rank[role]:
                return False
        elif role == ERR_STACK:
            got = _stack_text(v)
            if got is not None and gate == MULTILINE and "\n" not in got:
                return False
        else:  # ERR_MSG, ERR_TYPE
            got = v if tv is str and v.lower() not in _NO_ERROR else None
        if not got:
            return False
        old = self.keys[role]
        if old is not None and old not in self.attrs and role not in _VISIBLE:
            self.attrs[old] = self.value[role]  # displaced by a better-ranked key
        self.rank[role], self.value[role], self.keys[role] = rank, got, path
        return role not in _VISIBLE

    def walk(self, prefix: str, obj: dict[str, Any], depth: int) -> None:
        """Members of a nested object, by path; unclaimed ones become `prefix.key` attrs."""
        attrs = self.attrs
        members = _members.get(prefix)
        if members is None:
            members = {}
            if len(_members) < 1024:
                _members[prefix] = members
        for k, v in obj.items():
            known = members.get(k)
            if known is None:
                path = f"{prefix}.{k}"
                known = (path, classify(path), is_container(path))
                if len(members) < 256:
                    members[k] = known
            path, rule, container = known
            if container and type(v) is dict and depth < 3:
                self.walk(path, v, depth + 1)
                continue
            if k == "attributes" and type(v) is list:  # OTLP JSON [{"key", "value": {..}}]
                self.walk_otlp(path, v, depth)
                continue
            if rule is not None and self.offer(path, v, rule):
                continue
            if len(attrs) < MAX_ATTR_KEYS and v is not None:
                attrs[path] = v if type(v) in _SHORT else _attr_value(v)

    def walk_otlp(self, prefix: str, items: list[Any], depth: int) -> None:
        for item in items[:MAX_ATTR_KEYS]:
            if isinstance(item, dict) and isinstance(item.get("key"), str):
                value = item.get("value")
                if isinstance(value, dict) and len(value) == 1:
                    value = next(iter(value.values()))  # {"stringValue": ..}
                self.walk(prefix, {item["key"]: value}, depth + 1)

    def peek_errors(self, path: str, bag: dict[str, Any]) -> None:
        """An error inside an attribute bag (MongoDB `attr.error`); the bag stays whole."""
        for k, v in bag.items():
            rule = classify(k)
            if rule is not None and rule[0] in ERROR_ROLES:
                if type(v) is dict:
                    for sk, sv in v.items():
                        sub = classify(f"{k}.{sk}")
                        if sub is not None and sub[0] in ERROR_ROLES:
                            self.offer(f"{path}.{k}.{sk}", sv, (sub[0], sub[1] + SUFFIX, *sub[2:]))
                else:
                    self.offer(f"{path}.{k}", v, (rule[0], rule[1] + SUFFIX, *rule[2:]))


# Which key holds the message, per key layout (a file has one or a few), when none is named so.
_message_key: dict[tuple[str, ...], str | None] = {}
_TEMPLATE_HOLE = re.compile(r"\{[@$]?([A-Za-z_][A-Za-z0-9_]*)(?:[,:][^{}]*)?\}")


def _learnt_message(obj: dict[str, Any], attrs: dict[str, Any], keys: list[Any]) -> str | None:
    layout = tuple(obj)
    if layout in _message_key:
        key = _message_key[layout]
    else:
        key = None
        longest = 0
        for k, v in attrs.items():
            if type(v) is str and " " in v and len(v) > longest and k in obj and k not in keys:
                key, longest = k, len(v)
        if len(_message_key) < 256:
            _message_key[layout] = key
    if key is not None and type(attrs.get(key)) is str:
        return attrs.pop(key)
    return None


def _render(template: str, obj: dict[str, Any]) -> str:
    """A Serilog message template with the object's properties (`{Amount}` → 42)."""

    def value(m: re.Match[str]) -> str:
        v = obj.get(m.group(1))
        return m.group(0) if v is None or isinstance(v, dict | list) else str(v)

    return _TEMPLATE_HOLE.sub(value, template) if "{" in template else template


def fields_from_object(obj: dict[str, Any]) -> Fields:
    rank = [99] * N_ROLES
    value: list[Any] = [None] * N_ROLES
    keys: list[Any] = [None] * N_ROLES
    attrs: dict[str, Any] = {}
    found: _Found | None = None  # the state the slower paths share, made when needed
    named = False
    cached = RULES_SEEN.get
    words = _words
    for k, v in obj.items():
        tv = type(v)
        if tv is dict:
            if is_container(k):
                if found is None:
                    found = _Found(rank, value, keys, attrs)
                found.walk(k, v, 1)
                continue
            if k in BAGS:
                if found is None:
                    found = _Found(rank, value, keys, attrs)
                found.peek_errors(k, v)
        rule = cached(k, MISS)
        if rule is MISS:
            rule = classify(k)
        if rule is not None:
            role = rule[0]
            r = rule[1]
            if r < rank[role]:  # else a better key has the role: this one is an attribute
                # the common case inline: a plainly named time, message, id or level
                if role in _PLAIN and keys[role] is None and rule[3] == ANY:
                    got: Any = None
                    if tv is str:
                        if role == LEVEL:
                            got = words.get(v)
                        elif v:
                            got = v
                    elif tv is int or tv is float:
                        if role == TS:
                            got = v
                        elif role == LEVEL:
                            got = _number_level(v, rule[2])
                            r += 2  # a level said in words beats one said in numbers
                        else:
                            got = str(v)
                    if got is not None:
                        rank[role], value[role], keys[role] = r, got, k
                        named = named or role == MESSAGE
                        continue
                if found is None:
                    found = _Found(rank, value, keys, attrs)
                if found.offer(k, v, rule):
                    continue
        if v is not None and len(attrs) < MAX_ATTR_KEYS:
            if tv is str:
                attrs[k] = v if len(v) <= MAX_ATTR_STR else v[:MAX_ATTR_STR]
            else:
                attrs[k] = v if tv in _SHORT else _attr_value(v)
    if found is not None:
        named = named or found.named_message
    message = value[MESSAGE]
    if message is None and obj:
        if value[TEMPLATE] is not None:
            message = _render(value[TEMPLATE], obj)
        elif not named:
            message = _learnt_message(obj, attrs, keys)
    message = message or ""
    level = value[LEVEL]
    ts = value[TS]
    if level is None and message:
        if message[:1] == "{" and message[-1:] == "}":  # CloudWatch/GCP: a JSON line inside
            inner = load_object(message)
            if inner is not None:
                message, level, ts = _take_inner(fields_from_object(inner), value, attrs, ts)
        else:
            level = level_from_message(message)
    if level is None and "@t" in obj and ("@mt" in obj or "@m" in obj):
        level = "INFO"  # Serilog CLEF leaves out `@l` for Information
    # -- the error stays with the message --------------------------------------------------
    stack = value[ERR_STACK]
    error = value[ERR_MSG] or (_summary(stack) if stack else None) or value[ERR_TYPE]
    if error:
        message, level = _with_error(message, level, error, stack, attrs)
    service = value[SERVICE]
    component = value[COMPONENT]
    if service is None:
        if component is not None:
            service = component
        elif isinstance(attrs.get("name"), str) and ("v" in obj or "hostname" in obj):
            service = attrs.pop("name")  # Bunyan: `name` is the application
    if level is None:  # an access log line in JSON (Caddy, Traefik, nginx's json escape)
        level = _status_level(attrs)
    return {
        "ts": ts,
        "level": level,
        "message": message,
        "service": service,
        "host": value[HOST],
        "pid": value[PID],
        "trace_id": value[TRACE],
        "attrs": attrs,
    }


_STATUS_KEYS = ("status", "status_code", "statusCode", "http.status_code", "DownstreamStatus")


def _status_level(attrs: dict[str, Any]) -> str | None:
    for key in _STATUS_KEYS:
        status = attrs.get(key)
        if isinstance(status, int | str) and not isinstance(status, bool):
            return level_from_status(status)
    return None


_INNER_KEYS = ((SERVICE, "service"), (HOST, "host"), (PID, "pid"), (TRACE, "trace_id"))


def _take_inner(
    inner: Fields, value: list[Any], attrs: dict[str, Any], ts: Any
) -> tuple[str, str | None, Any]:
    """A JSON object inside the message (CloudWatch, GCP): its fields fill the roles the outer
    object left empty; (message, level, ts) come from it."""
    for role, key in _INNER_KEYS:
        if value[role] is None:
            value[role] = inner[key]
    attrs.update(list(inner["attrs"].items())[: max(0, MAX_ATTR_KEYS - len(attrs))])
    return inner["message"], inner["level"], ts or inner["ts"]


def _with_error(
    message: str, level: str | None, error: str, stack: str | None, attrs: dict[str, Any]
) -> tuple[str, str | None]:
    """The error stays with the message (unless it says it already), makes a level-less line
    an ERROR, and its stack is kept as the `stack` attribute."""
    if not message:
        message = error
    elif error not in message:
        message = f"{message}{' ' if message[-1] in '.!;:' else ': '}{error}"
    if level is None:
        level = "ERROR"
    if stack:
        attrs["stack"] = stack if len(stack) <= MAX_STACK else stack[:MAX_STACK]
    return message, level


_last: tuple[str | None, dict[str, Any] | None] = (None, None)
# a `\uD800`-`\uDFFF` escape: JSON can spell half a surrogate pair, which no UTF-8 text can
# hold (the miner's hashing, RE2 and PostgreSQL would all refuse the string)
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89abcdefABCDEF]")


_raw_decode = json.JSONDecoder().raw_decode


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
        try:  # raw_decode: json.loads without its two wrappers and whitespace scans
            obj, end = _raw_decode(text)
            if end != len(text) and not text[end:].isspace():
                obj = None  # `{...} trailing` is not one object
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
