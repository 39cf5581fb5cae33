"""What a format is: a name, a header parser, and real example lines.

A parser takes one physical line and returns a `Fields` dict or None when the line doesn't have
this format's header. Keys (all optional):

    ts        raw timestamp (str or number); the caller normalises it per source
    level     already normalised (levels.normalize_level) or None
    message   the content part of the line
    service, host, pid, trace_id
    attrs     dict of the remaining fields (JSON-compatible values, kept small)
    fmt       overrides the format's name (an unwrapped inner line reports its own format)
    weak      True: only a wrapper (CRI, compose, Docker) matched; its inner text had no header,
              so the line may continue the previous record (a stack frame inside a container log)
    partial   True: the runtime split this line (CRI `P`, Docker without "\\n"); the next
              physical line continues it
    join      True: the line belongs to the previous record (PostgreSQL DETAIL/STATEMENT)
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

Fields = dict[str, Any]
ParseFn = Callable[[str], Fields | None]

MAX_ATTR_KEYS = 32
MAX_ATTR_STR = 2048


@dataclass(frozen=True, slots=True)
class Format:
    name: str
    parse: ParseFn
    examples: tuple[str, ...]
    # Higher wins a detection tie: a format that accepts fewer lines says more when it matches.
    specificity: int = 5
    # First characters a header line can start with; "" means any (tried last in fallback).
    first: str = ""
    # Unheaded lines in a source of this format continue the previous record (text logs do;
    # self-delimited JSON lines don't).
    headers: bool = True
    description: str = ""


DIGITS = "0123456789"
UPPER = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
LOWER = "abcdefghijklmnopqrstuvwxyz"


def small_attrs(items: dict[str, Any]) -> dict[str, Any]:
    """Bound attrs: at most MAX_ATTR_KEYS keys, long strings cut, None/empty values dropped."""
    out: dict[str, Any] = {}
    for k, v in items.items():
        if v is None or v == "" or v == "-":
            continue
        if len(out) >= MAX_ATTR_KEYS:
            break
        if isinstance(v, str) and len(v) > MAX_ATTR_STR:
            v = v[:MAX_ATTR_STR]
        out[k] = v
    return out


def regex_parser(
    pattern: str,
    *,
    level: Callable[[str], str | None] | None = None,
    attrs: tuple[str, ...] = (),
    post: Callable[[Fields, re.Match[str]], Fields | None] | None = None,
) -> ParseFn:
    """A parser from an anchored regex whose named groups are Fields keys.

    Groups named ts/level/message/service/host/pid/trace_id go to those fields; the groups in
    `attrs` go to attrs; `level` normalises the level group; `post` may adjust or reject.
    """
    rx = re.compile(pattern)
    match = rx.match
    groups = set(rx.groupindex)
    has_level = "level" in groups
    attr_names = tuple(a for a in attrs if a in groups)

    def parse(text: str) -> Fields | None:
        m = match(text)
        if m is None:
            return None
        d = m.groupdict()
        if has_level and level is not None:
            d["level"] = level(d["level"])
        if attr_names:
            a = {}
            for name in attr_names:
                v = d.pop(name)
                if v is not None and v != "-":
                    a[name] = v
            d["attrs"] = a
        if post is not None:
            return post(d, m)
        return d

    return parse


# Wrapper formats (CRI, Docker json-file, docker-compose) parse their inner line with the whole
# catalogue; the catalogue binds this at import time (formats/__init__.py).
_inner: Callable[[str], tuple[str, Fields] | None] | None = None


def set_inner_parser(fn: Callable[[str], tuple[str, Fields] | None]) -> None:
    global _inner
    _inner = fn


def wrap_inner(
    inner_text: str,
    *,
    ts: object,
    attrs: dict[str, Any],
    service: str | None = None,
    partial: bool = False,
) -> Fields:
    """Fields for a wrapper line: the inner line's own fields when it has a header, else weak."""
    from ..levels import level_from_message

    res = _inner(inner_text) if _inner is not None and inner_text else None
    if res is None:
        f: Fields = {
            "ts": ts,
            "message": inner_text,
            "level": level_from_message(inner_text),
            "attrs": attrs,
            "weak": True,
        }
    else:
        name, f = res
        f.pop("fmt", None)
        f.pop("weak", None)
        if f.get("ts") is None:
            f["ts"] = ts
        inner_attrs = f.get("attrs")
        if inner_attrs:
            for k, v in attrs.items():
                inner_attrs.setdefault(k, v)
        else:
            f["attrs"] = inner_attrs = dict(attrs)
        inner_attrs["inner_fmt"] = name
    if service and not f.get("service"):
        f["service"] = service
    if partial:
        f["partial"] = True
    return f
