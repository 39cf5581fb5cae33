"""Container and orchestrator output: Kubernetes CRI log lines, docker-compose prefixed output,
the Java Service Wrapper's log, `kubectl get events` tables and the Events section of
`kubectl describe`.

CRI, compose and the Java Service Wrapper are wrappers: the prefix is stripped and the inner line is parsed with the whole
catalogue (a Spring Boot line inside a CRI line is a Spring Boot record with the CRI stream).
"""

from __future__ import annotations

import re

from ..levels import normalize_level
from .spec import Fields, regex_parser, wrap_inner

# `2024-01-15T14:02:11.123456789Z stdout F msg` (F full line, P partial: continues next line)
_CRI = re.compile(
    r"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d{1,9})?(?:Z|[+-]\d\d:\d\d)) (stdout|stderr) ([FP]) ?"
)


def parse_cri(text: str) -> Fields | None:
    m = _CRI.match(text)
    if m is None:
        return None
    ts, stream, tag = m.groups()
    return wrap_inner(text[m.end() :], ts=ts, attrs={"stream": stream}, partial=tag == "P")


# `api-1  | msg`, `api_1  | msg` (compose v1), colour codes allowed around the prefix.
_COMPOSE = re.compile(
    r"(?:\x1b\[[\d;]{0,16}m)?([A-Za-z0-9][\w.\-]{0,63}?)(?:[-_](\d{1,4}))?\s{0,64}(?:\x1b\[[\d;]{0,16}m)?\s{0,2}\|(?:\x1b\[[\d;]{0,16}m)? ?"
)
_ANSI = re.compile(r"\x1b\[[\d;]{0,16}m")


def parse_compose(text: str) -> Fields | None:
    if "|" not in text[:140]:
        return None
    m = _COMPOSE.match(text)
    if m is None:
        return None
    service, replica = m.groups()
    inner = text[m.end() :]
    if "\x1b" in inner[:16]:
        inner = _ANSI.sub("", inner, count=2)
    attrs = {"replica": int(replica)} if replica else {}
    return wrap_inner(inner, ts=None, attrs=attrs, service=service)


# Java Service Wrapper (Tanuki; Nexus, ActiveMQ, Mule ...), wrapper.log in the default LPTM
# layout: `STATUS | wrapper  | 2019/05/23 15:01:26 | Launching a JVM...`, the JVM's own output
# as `INFO   | jvm 1    | <time> | <its line>`. Its levels add STATUS and ADVICE (notices).
_JSW = re.compile(
    r"([A-Z]{4,6}) {0,3}\| (jvm \d{1,5}|wrapper) {0,8}\| "
    r"(\d{4}/\d\d/\d\d \d\d:\d\d:\d\d(?:\.\d{1,3})?) \| ?"
)
_JSW_LEVELS = {"STATUS": "INFO", "ADVICE": "INFO"}


def parse_java_wrapper(text: str) -> Fields | None:
    m = _JSW.match(text)
    if m is None:
        return None
    word, source, ts = m.groups()
    level = _JSW_LEVELS.get(word) or normalize_level(word)
    if level is None:
        return None
    f = wrap_inner(text[m.end() :].strip(), ts=ts, attrs={"source": source})
    f.pop("weak", None)  # every wrapper line is an event of its own, with a time and a level
    f["ts"] = ts  # the outermost time, as for every wrapper
    if f.get("level") is None or source == "wrapper":
        f["level"] = level
    return f


_K8S_AGE = r"(?:<unknown>|<invalid>|\d{1,5}[smhdy](?:\d{1,5}[smhd])?)"


def _event_post(d: Fields, _m: re.Match[str]) -> Fields:
    d["level"] = normalize_level(d["attrs"].get("type"))
    obj = d["attrs"].get("object", "")
    name = obj.split("/", 1)[-1]
    d["service"] = name or None
    return d


def _header(*words: str) -> re.Pattern[str]:
    return re.compile(r"\s*" + r"\s+".join(words) + r"(?:\s|$)")


_EVENTS_HEADER = _header("(?:NAMESPACE\\s+)?LAST SEEN", "TYPE", "REASON")
_parse_event_row = regex_parser(
    r"(?:(?P<namespace>[a-z0-9][a-z0-9\-]{0,62})\s+)?(?P<age>" + _K8S_AGE + r")\s+"
    r"(?P<type>Normal|Warning)\s+(?P<reason>[A-Za-z]{1,64})\s+(?P<object>\S{1,256})\s+(?P<message>.*)",
    attrs=("namespace", "age", "type", "reason", "object"),
    post=_event_post,
)


def _header_fields(text: str) -> Fields:
    return {"message": text.strip(), "attrs": {"header": True}}


def parse_kubectl_events(text: str) -> Fields | None:
    """`kubectl get events [-A]`: `5m  Warning  BackOff  pod/api-7d9f  Back-off restarting ...`."""
    if _EVENTS_HEADER.match(text):
        return _header_fields(text)
    return _parse_event_row(text)


_DESCRIBE_HEADER = _header("Type", "Reason", "Age", "From", "Message")
_DESCRIBE_RULE = re.compile(r"\s+----\s+------\s+")
_parse_describe_row = regex_parser(
    r"\s{1,8}(?P<type>Normal|Warning)\s+(?P<reason>[A-Za-z]{1,64})\s+"
    r"(?P<age>" + _K8S_AGE + r"(?: \(x\d+ over " + _K8S_AGE + r"\))?)\s+"
    r"(?P<source>[\w\-.]{1,128}(?:, [\w\-.]{1,128})?)\s+(?P<message>.*)",
    attrs=("type", "reason", "age", "source"),
    post=lambda d, m: {**d, "level": normalize_level(d["attrs"]["type"])},
)


def parse_kubectl_describe(text: str) -> Fields | None:
    """The `Events:` table of `kubectl describe`: `  Warning  BackOff  2m (x10 over 5m)  kubelet  msg`."""
    if text.startswith("Events:") or _DESCRIBE_HEADER.match(text) or _DESCRIBE_RULE.match(text):
        return _header_fields(text)
    return _parse_describe_row(text)
