"""What a file's lines end with, learnt from a sample of them, never assumed.

Some formats put header fields after the message: log4j's `%m (%c)%n` closes each line with
its logger (`Loading logs. (kafka.log.LogManager)`), winston's default and many "message plus
metadata" formatters with a JSON object (`listening {"service":"api","timestamp":"..."}`),
a pipe-delimited layout with fields after the message (`msg ||  ||end`).
When SHARE of a sample's messages end the same way, every line's ending is taken off its
message: the logger goes to attrs, the JSON object's fields fill what the header left empty
(time, level, service) and the rest goes to attrs.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from .formats.jsonfields import fields_from_object, load_object
from .formats.spec import Fields, ParseFn

LOGGER = "logger"
JSON = "json"
SUFFIX = "suffix:"
SHARE = 0.8
MAX_TRIES = 4  # ` {` openings tried from the left before a line's ending is not JSON

_LOGGER = re.compile(r" \((?P<logger>[A-Za-z_$][\w$]*(?:\.[\w$]+)+)\)[ \t]*$")


def _json_tail(message: str) -> tuple[int, dict[str, Any]] | None:
    """(where the object starts, the object) when `message` ends with a JSON object."""
    if message[-1:] != "}":
        return None
    pos = message.find(" {")
    for _ in range(MAX_TRIES):
        if pos < 0:
            return None
        obj = load_object(message[pos + 1 :])
        if obj is not None:
            return pos, obj
        pos = message.find(" {", pos + 2)
    return None


def learn(parse: ParseFn, texts: Iterable[str]) -> str:
    """LOGGER, JSON or "" for the sample's header lines `texts` read by `parse`."""
    total = loggers = objects = 0
    messages: list[str] = []
    for text in texts:
        fields = parse(text)
        message = fields.get("message") if fields is not None else None
        if not isinstance(message, str) or not message:
            continue
        total += 1
        messages.append(message)
        if message[-1:] == ")":
            loggers += _LOGGER.search(message) is not None
        elif message[-1:] == "}":
            objects += _json_tail(message) is not None
    if total < 2:
        return ""
    if loggers >= SHARE * total:
        return LOGGER
    if objects >= SHARE * total:
        return JSON
    return _fields_suffix(messages)


def _fields_suffix(messages: list[str]) -> str:
    """`… || <ndc> ||end`: a pipe-delimited layout's fields after the message, the same on
    every line of the sample (empty or constant): SUFFIX + the text to take off."""
    if len(set(messages)) < 2:
        return ""
    ends = messages[0]
    for message in messages[1:]:  # the longest ending every message shares
        n = 0
        while n < len(ends) and n < len(message) and ends[-1 - n] == message[-1 - n]:
            n += 1
        ends = ends[len(ends) - n :]
        if not ends:
            return ""
    start = ends.find(" |")
    if start < 0 or not ends[start:].strip() or len(ends) - start > 256:
        return ""
    return SUFFIX + ends[start:]


def stripping(parse: ParseFn, kind: str) -> ParseFn:
    """`parse`, with each line's `kind` of ending taken off its message."""
    if kind.startswith(SUFFIX):
        suffix = kind[len(SUFFIX) :]

        def strip_suffix(text: str) -> Fields | None:
            fields = parse(text)
            message = fields.get("message") if fields is not None else None
            if fields is not None and isinstance(message, str) and message.endswith(suffix):
                fields["message"] = message[: -len(suffix)].rstrip()
            return fields

        return strip_suffix
    if kind == LOGGER:
        search = _LOGGER.search

        def strip_logger(text: str) -> Fields | None:
            fields = parse(text)
            if fields is not None:
                message = fields.get("message")
                m = search(message) if isinstance(message, str) else None
                if m is not None and isinstance(message, str):
                    fields["message"] = message[: m.start()]
                    fields["attrs"] = {**(fields.get("attrs") or {}), "logger": m.group("logger")}
            return fields

        return strip_logger

    def strip_json(text: str) -> Fields | None:
        fields = parse(text)
        if fields is None:
            return None
        message = fields.get("message")
        if not isinstance(message, str):
            return fields
        tail = _json_tail(message)
        if tail is None:
            return fields
        pos, obj = tail
        found = fields_from_object(obj)
        for key in ("ts", "level", "service", "host", "trace_id"):
            if fields.get(key) is None and found.get(key) is not None:
                fields[key] = found[key]
        fields["attrs"] = {**(found.get("attrs") or {}), **(fields.get("attrs") or {})}
        fields["message"] = message[:pos].rstrip() or found.get("message") or message
        return fields

    return strip_json
