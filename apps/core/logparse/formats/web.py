"""Web servers: nginx/Apache access logs (common and combined), nginx and Apache error logs."""

from __future__ import annotations

import re

from ..levels import level_from_status, normalize_level
from .spec import Fields, regex_parser


def _access_post(d: Fields, m: re.Match[str]) -> Fields:
    request = d.pop("request")
    attrs = d["attrs"]
    method, _, rest = request.partition(" ")
    path = (
        rest.rsplit(" ", 1)[0]
        if rest.endswith(("HTTP/1.0", "HTTP/1.1", "HTTP/2.0", "HTTP/2", "HTTP/3"))
        else rest
    )
    if method:
        attrs["method"] = method
    if path:
        attrs["path"] = path[:512]
    status = attrs.get("status")
    d["level"] = level_from_status(status)
    attrs["status"] = int(status)
    size = attrs.get("bytes")
    if size is not None and size.isdigit():
        attrs["bytes"] = int(size)
    ua = attrs.get("user_agent")
    if ua is not None:
        attrs["user_agent"] = ua[:256]
    d["message"] = m.string[m.start("request") - 1 :]
    return d


# `1.2.3.4 - user [15/Jan/2024:14:02:11 +0000] "GET /x HTTP/1.1" 502 157 "ref" "ua" [extras]`
parse_access = regex_parser(
    r"(?P<client>[\w.:\-\[\]%]{1,64}) \S{1,64} (?P<user>\S{1,128})"
    r" \[(?P<ts>\d\d/[A-Z][a-z]{2}/\d{4}:\d\d:\d\d:\d\d(?: [+-]\d{4})?)\]"
    r' "(?P<request>[^"\\]*(?:\\.[^"\\]*)*)" (?P<status>\d{3}) (?P<bytes>\d+|-)'
    r'(?: "(?P<referer>[^"\\]*(?:\\.[^"\\]*)*)" "(?P<user_agent>[^"\\]*(?:\\.[^"\\]*)*)")?',
    attrs=("client", "user", "status", "bytes", "referer", "user_agent"),
    post=_access_post,
)


def _envoy_post(d: Fields, m: re.Match[str]) -> Fields:
    attrs = d["attrs"]
    method, _, rest = d.pop("request").partition(" ")
    path = rest.rsplit(" ", 1)[0] if " HTTP/" in rest else rest
    if method:
        attrs["method"] = method
    if path:
        attrs["path"] = path[:512]
    status = int(attrs["status"])
    attrs["status"] = status
    # status 0: no response at all (reset, timeout, TLS failure): worse than any 5xx
    d["level"] = "ERROR" if status == 0 else level_from_status(status)
    for key in ("bytes_received", "bytes", "duration_ms"):
        value = attrs.get(key)
        if value is not None and value.isdigit():
            attrs[key] = int(value)
    if d.get("trace_id") in ("-", ""):
        d["trace_id"] = None
    d["message"] = m.string[m.end("ts") + 2 :]
    return d


# Envoy/Istio default access log: [START_TIME] "METHOD PATH PROTOCOL" CODE FLAGS RX TX DURATION
# UPSTREAM_TIME "XFF" "UA" "X-REQUEST-ID" "AUTHORITY" "UPSTREAM_HOST" (Istio appends more).
parse_envoy = regex_parser(
    r"\[(?P<ts>\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d{1,9})?(?:Z|[+-]\d\d:?\d\d)?)\]"
    r' "(?P<request>[^"]*)" (?P<status>\d{1,3}) (?P<flags>\S{1,64})'
    r" (?P<bytes_received>\d+) (?P<bytes>\d+) (?P<duration_ms>\d+|-) (?P<upstream_ms>\S{1,16})"
    r' "(?P<client>[^"]*)" "(?P<user_agent>[^"]*)" "(?P<trace_id>[^"]*)"'
    r'(?: "(?P<authority>[^"]*)" "(?P<upstream>[^"]*)")?',
    attrs=(
        "status",
        "flags",
        "bytes_received",
        "bytes",
        "duration_ms",
        "upstream_ms",
        "client",
        "user_agent",
        "authority",
        "upstream",
    ),
    post=_envoy_post,
)


_NGINX_CONTEXT = re.compile(r'(client|server|request|upstream|host): ("[^"]*"|[^,]*)')


def _nginx_error_post(d: Fields, _m: re.Match[str]) -> Fields:
    msg = d["message"]
    # `..., client: 1.2.3.4, server: x, request: "GET / HTTP/1.1", upstream: "http://..."`
    idx = msg.find(", client: ")
    if idx >= 0:
        for part in _NGINX_CONTEXT.findall(msg, idx):
            d["attrs"][part[0]] = part[1].strip('"')[:512]
    return d


# `2024/01/15 14:02:11 [error] 1234#1234: *5678 connect() failed (111: ...) while ...`
parse_nginx_error = regex_parser(
    r"(?P<ts>\d{4}/\d\d/\d\d \d\d:\d\d:\d\d) \[(?P<level>[a-z]{3,6})\] (?P<pid>\d+)#(?P<tid>\d+):"
    r"(?: \*(?P<connection>\d+))? (?P<message>.*)",
    level=normalize_level,
    attrs=("tid", "connection"),
    post=_nginx_error_post,
)

# Apache 2.2 `[Sun Dec 04 04:47:44 2005] [error] [client 1.2.3.4] msg` and 2.4
# `[Mon Jan 15 14:02:11.123456 2024] [proxy:error] [pid 1234:tid 5678] [client 1.2.3.4:5678] AH01114: msg`
parse_apache_error = regex_parser(
    r"\[(?P<ts>[A-Z][a-z]{2} [A-Z][a-z]{2} [ \d]\d \d\d:\d\d:\d\d(?:\.\d{1,6})? \d{4})\]"
    r" \[(?:(?P<module>[\w-]{1,32}):)?(?P<level>[a-z]{3,6}\d?)\]"
    r"(?: \[pid (?P<pid>\d+)(?::tid (?P<tid>\d+))?\])?"
    r"(?: \[client (?P<client>[^\]]{1,128})\])? ?(?P<message>.*)",
    level=normalize_level,
    attrs=("module", "tid", "client"),
)


# W3C extended log format (IIS, some proxies and CDNs): `#Fields: date time s-ip cs-method ...`
# names the columns of the lines after it, so the parser is built from the file's own directive.
W3C_FIELDS = "#Fields:"
_W3C_SKIP = frozenset(("date", "time", "s-sitename", "s-computername", "s-ip"))


def w3c_parser(fields_line: str):
    """The parser for a W3C log whose `#Fields:` directive is `fields_line`: date and time are
    the time (UTC, as the format says), sc-status the level; the message runs from the request
    (cs-method) on, like an access log's. Directive lines are kept as text."""
    names = fields_line[len(W3C_FIELDS) :].split()
    width = len(names)
    at = {name: i for i, name in enumerate(names)}
    date_i, time_i = at.get("date"), at.get("time")
    status_i = at.get("sc-status")
    first = next((i for i, n in enumerate(names) if n not in _W3C_SKIP), width)
    first = at.get("cs-method", first)

    def parse(text: str) -> Fields | None:
        if text.startswith("#"):
            return {"message": text, "attrs": {"directive": True}}
        values = text.split(" ")
        if len(values) != width:
            return None
        ts = None
        if time_i is not None:
            ts = values[time_i] if date_i is None else f"{values[date_i]}T{values[time_i]}Z"
        attrs: dict = {}
        level = None
        if status_i is not None and values[status_i].isdigit():
            attrs["status"] = int(values[status_i])
            level = level_from_status(values[status_i])
        if "cs-method" in at:
            attrs["method"] = values[at["cs-method"]]
        if "cs-uri-stem" in at:
            attrs["path"] = values[at["cs-uri-stem"]][:512]
        if "c-ip" in at:
            attrs["client"] = values[at["c-ip"]]
        return {
            "ts": ts,
            "level": level,
            "message": " ".join(values[first:]),
            "attrs": attrs,
        }

    return parse
