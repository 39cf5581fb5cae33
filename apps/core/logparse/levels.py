"""Normalise log levels to TRACE/DEBUG/INFO/WARN/ERROR/FATAL.

Levels arrive as words in many spellings (`warning`, `err`, `crit`, `E`, `Warning`), as numbers
whose meaning depends on the scheme (syslog severity 0..7 where lower is worse, Bunyan/pino
10..60, Python 10..50, OpenTelemetry SeverityNumber 1..24) or only implicitly (an HTTP status).
Unknown values map to None rather than to a guess.
"""

from __future__ import annotations

import re
from enum import StrEnum

# The normalised levels, in order: an event stores the index (Event.level).
from apps.core.vocabulary import LEVEL_NUMBER, LEVELS  # noqa: F401


class Scheme(StrEnum):
    """How to read a numeric level."""

    SYSLOG = "syslog"  # RFC 5424 severity 0 (emerg) .. 7 (debug); journald PRIORITY
    BUNYAN = "bunyan"  # bunyan/pino: 10 trace, 20 debug, 30 info, 40 warn, 50 error, 60 fatal
    PYTHON = "python"  # logging: 10 DEBUG, 20 INFO, 30 WARNING, 40 ERROR, 50 CRITICAL
    OTEL = "otel"  # OpenTelemetry SeverityNumber 1-4 TRACE .. 21-24 FATAL


# Words, lower-cased. Redis uses one-character markers; Go/glog/klog use single letters.
WORDS: dict[str, str] = {
    "trace": "TRACE",
    "trc": "TRACE",
    "trce": "TRACE",
    "finest": "TRACE",
    "finer": "TRACE",
    "verbose": "DEBUG",
    "debug": "DEBUG",
    "dbg": "DEBUG",
    "dbug": "DEBUG",
    "debg": "DEBUG",  # supervisord
    "debu": "DEBUG",  # logrus text, four letters
    "fine": "DEBUG",
    "config": "DEBUG",
    "d": "DEBUG",
    "info": "INFO",
    "inf": "INFO",
    "information": "INFO",
    "informational": "INFO",
    "notice": "INFO",
    "note": "INFO",
    "normal": "INFO",  # Kubernetes event type
    "log": "INFO",  # PostgreSQL
    "system": "INFO",  # MySQL 8
    "statement": "INFO",
    "detail": "INFO",
    "hint": "INFO",
    "context": "INFO",
    "default": "INFO",  # GCP severity DEFAULT
    "i": "INFO",
    "warn": "WARN",
    "warning": "WARN",
    "wrn": "WARN",
    "w": "WARN",
    "error": "ERROR",
    "err": "ERROR",
    "eror": "ERROR",  # logrus/zerolog short forms
    "erro": "ERROR",
    "severe": "ERROR",  # java.util.logging
    "e": "ERROR",
    "dpanic": "ERROR",  # zap development panic
    "fail": "ERROR",  # .NET console logger (trce dbug info warn fail crit)
    "crit": "FATAL",
    "critical": "FATAL",
    "alert": "FATAL",
    "emerg": "FATAL",
    "emergency": "FATAL",
    "fatal": "FATAL",
    "ftl": "FATAL",
    "fatl": "FATAL",
    "panic": "FATAL",
    "f": "FATAL",
    "c": "FATAL",
    "n": "INFO",  # capnslog's notice
    "t": "TRACE",
}
for _i in range(1, 6):
    WORDS[f"debug{_i}"] = "DEBUG"  # PostgreSQL DEBUG1..DEBUG5

# Longer spellings seen in the wild (`warnings`, `errors`, `fatal_error`, `debugging`).
_PREFIXES = {
    "trac": "TRACE",
    "debu": "DEBUG",
    "info": "INFO",
    "warn": "WARN",
    "erro": "ERROR",
    "crit": "FATAL",
    "fata": "FATAL",
    "emer": "FATAL",
}

SYSLOG_SEVERITY = ("FATAL", "FATAL", "FATAL", "ERROR", "WARN", "INFO", "INFO", "DEBUG")

# Redis: `.` debug, `-` verbose, `*` notice, `#` warning.
REDIS_MARKS = {".": "DEBUG", "-": "DEBUG", "*": "INFO", "#": "WARN"}

_cache: dict[str, str | None] = {}


def normalize_level(value: object, scheme: Scheme | None = None) -> str | None:
    """Map a level word or number to one of LEVELS, or None when unknown."""
    if value is None or value is True or value is False:
        return None
    if isinstance(value, str):
        hit = _cache.get(value, "")
        if hit != "":
            return hit
        key = value.strip().strip("[]<>").lower()
        if key.isdigit():
            result = _from_number(int(key), scheme or Scheme.SYSLOG)
        else:
            result = WORDS.get(key)
            if result is None and len(key) > 4:
                result = _PREFIXES.get(key[:4])
        if len(_cache) < 4096:
            _cache[value] = result
        return result
    if isinstance(value, int | float):
        if value != value or value in (float("inf"), float("-inf")):  # NaN, Infinity in JSON
            return None
        return _from_number(int(value), scheme or Scheme.BUNYAN)
    return None


def _from_number(n: int, scheme: Scheme) -> str | None:
    if scheme is Scheme.SYSLOG:
        return SYSLOG_SEVERITY[n] if 0 <= n <= 7 else None
    if scheme is Scheme.OTEL:
        if not 1 <= n <= 24:
            return None
        return LEVELS[(n - 1) // 4]
    if scheme is Scheme.PYTHON:
        if n <= 0:
            return None
        return (
            "DEBUG"
            if n < 20
            else "INFO"
            if n < 30
            else "WARN"
            if n < 40
            else "ERROR"
            if n < 50
            else "FATAL"
        )
    # Bunyan / pino
    if n < 10:
        return None
    return (
        "TRACE"
        if n < 20
        else "DEBUG"
        if n < 30
        else "INFO"
        if n < 40
        else "WARN"
        if n < 50
        else "ERROR"
        if n < 60
        else "FATAL"
    )


def level_from_pri(pri: int | str) -> str | None:
    """Syslog `<PRI>`: facility * 8 + severity."""
    try:
        return SYSLOG_SEVERITY[int(pri) & 7]
    except (TypeError, ValueError):
        return None


def level_from_status(status: int | str | None) -> str | None:
    """HTTP access logs: 5xx is an ERROR, 4xx a WARN, everything else INFO."""
    if status is None:
        return None
    s = str(status)
    if len(s) != 3 or not s.isdigit():
        return None
    return "ERROR" if s[0] == "5" else "WARN" if s[0] == "4" else "INFO"


# A level word at the very start of a free-text message (`ERROR: x`, `[warn] x`, `E0115 ...` no).
_LEADING = {w.upper() for w in WORDS if len(w) > 2}


def level_from_message(message: str) -> str | None:
    """Read a level from the first word of a message; None when the first word isn't one."""
    if not message:
        return None
    head = message[:12].lstrip("[<")
    end = 0
    for ch in head:
        if not ch.isalpha():
            break
        end += 1
    word = head[:end]
    if end < 3 or word.upper() not in _LEADING or word.upper() != word:
        return None
    nxt = head[end : end + 1]
    if nxt not in ("", ":", "]", ">", " ", "|", "\t"):
        return None
    return WORDS.get(word.lower())


# A level that a message states as a key before anything else: Heroku's router `at=error`,
# logfmt-ish `level=warn` in a wrapped line.
_KEYED = re.compile(r"(?:at|level|lvl|severity)=\"?([A-Za-z]{3,11})\b")
_KEY_STARTS = frozenset(("at", "le", "lv", "se"))  # a cheap test before _KEYED
_AFTER_WORD = re.compile(r"[\]>]?(?:\s*[:|]|\s+-(?=\s))?\s*")


def split_leading_level(message: str) -> tuple[str | None, str]:
    """(level, message without it) for a message whose first word states its level, when the
    header said none: `PANIC:  could not write` -> (FATAL, `could not write`); `[ERROR] x`,
    `WARNING - x` likewise. A keyed level (`at=error code=H12 ...`) is read but stays in the
    message, whose first field it is. (None, message) when there is no such word."""
    level = level_from_message(message)
    if level is None:
        m = _KEYED.match(message) if message[:2] in _KEY_STARTS else None
        return (WORDS.get(m.group(1).lower()) if m else None), message
    start = len(message) - len(message.lstrip("[<"))
    end = start
    while end < len(message) and message[end].isalpha():
        end += 1
    rest = message[_AFTER_WORD.match(message, end).end() :]  # type: ignore[union-attr]
    return level, rest or message
