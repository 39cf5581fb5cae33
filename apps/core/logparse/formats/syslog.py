"""Syslog RFC 3164 (and `journalctl -o short`/`short-precise`), RFC 5424, ISO-stamped syslog
(`journalctl -o short-iso`, rsyslog high precision) and the kernel ring buffer (dmesg)."""

from __future__ import annotations

import re
from datetime import date

from ..levels import level_from_message, level_from_pri, normalize_level, split_leading_level
from .spec import Fields, regex_parser

_TAG = r"(?P<service>[^\s\[\]:]{1,128})(?:\[(?P<pid>\d+)\])?:"
_UPTIME = re.compile(r"\[\s*(\d+\.\d+)\]\s?")


# "2024-01-15T14:02:11Z ERROR api: boom" has syslog's shape, but its "host" is a level word
_LEVEL_WORDS = frozenset(
    ("TRACE", "DEBUG", "INFO", "NOTICE", "WARN", "WARNING", "ERROR", "CRITICAL", "FATAL")
)


# A date with its year early in the message (`time="2020-07-31T07:38:06…"`, an application's
# own header inside the syslog line)
_DATE_IN_MESSAGE = re.compile(r"(?<!\d)((?:19|20)\d\d)([-/])([01]\d)\2([0-3]\d)(?!\d)")
_MONTH_NUMBER = {
    m: i
    for i, m in enumerate(
        ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"), 1
    )
}


def year_from_message(ts: str, message: str) -> str:
    """`Jul 31 07:38:06` → `2020-07-31T07:38:06` when the message carries a date within a day
    of the stamp's (the sender's own clock may be in another zone); else `ts` unchanged."""
    if message.find("-", 0, 96) < 0 and message.find("/", 0, 96) < 0:
        return ts  # the common case, without a regex
    m = _DATE_IN_MESSAGE.search(message, 0, 96)
    if m is None:
        return ts
    month = _MONTH_NUMBER.get(ts[:3])
    if month is None or not ts[4:6].strip().isdigit():
        return ts
    day = int(ts[4:6])
    year = int(m.group(1))
    try:
        inner = date(year, int(m.group(3)), int(m.group(4)))
        for candidate in (year, year - 1, year + 1):
            if abs((date(candidate, month, day) - inner).days) <= 1:
                return f"{candidate}-{month:02d}-{day:02d}T{ts[7:]}"
    except ValueError:  # 30 Feb in the message, 29 Feb in a common year
        return ts
    return ts


def _syslog_post(d: Fields, _m: re.Match[str]) -> Fields:
    pri = d.pop("pri", None)
    year = d.pop("year", None)
    msg = d["message"]
    ts = d["ts"]
    if year is not None:  # `Jan 15 14:02:14 2024 host ...` (some relays write the year)
        month = _MONTH_NUMBER[ts[:3]]
        d["ts"] = f"{year}-{month:02d}-{int(ts[4:6]):02d}T{ts[7:]}"
    elif ts[:1].isalpha():  # RFC 3164: no year of its own
        d["ts"] = year_from_message(ts, msg)
    host = d.get("host")
    if host and host.upper() in _LEVEL_WORDS:
        d["host"] = None
        d["level"] = normalize_level(host)
    else:
        # `myapp[12]: PANIC: ...`: the program's own level is header too, and says more than
        # the relay's PRI
        inner, d["message"] = split_leading_level(msg)
        d["level"] = inner or (level_from_pri(pri) if pri else None)
    if d["service"] == "kernel":
        d["fmt"] = "kernel"
        m = _UPTIME.match(msg)
        if m:
            d["attrs"] = {"uptime": float(m.group(1))}
            d["message"] = msg[m.end() :]
        if d["level"] is None:
            d["level"] = kernel_level(d["message"])
    return d


_KERNEL_ERRORS = ("Out of memory", "oom-kill", "Kernel panic", "segfault", "I/O error", "BUG:")


def kernel_level(msg: str) -> str | None:
    """The kernel rarely says its level in text; its alarming messages are recognisable."""
    level = level_from_message(msg)
    if level is None and any(s in msg for s in _KERNEL_ERRORS):
        return "ERROR"
    return level


parse_rfc3164 = regex_parser(
    r"(?:<(?P<pri>\d{1,3})>)?"
    r"(?P<ts>(?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) [ \d]\d \d\d:\d\d:\d\d(?:\.\d{1,9})?)"
    r"(?: (?P<year>(?:19|20)\d\d))? (?P<host>\S{1,255}) " + _TAG + r" ?(?P<message>.*)",
    post=_syslog_post,
)

parse_syslog_iso = regex_parser(
    r"(?:<(?P<pri>\d{1,3})>)?"
    r"(?P<ts>\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d{1,9})?(?:Z|[+-]\d\d:?\d\d))"
    r" (?P<host>\S{1,255}) " + _TAG + r" ?(?P<message>.*)",
    post=_syslog_post,
)


def _rfc5424_post(d: Fields, _m: re.Match[str]) -> Fields:
    d["level"] = level_from_pri(d.pop("pri"))
    for key in ("ts", "host", "service", "pid"):
        if d[key] == "-":
            d[key] = None
    attrs = d["attrs"]
    sd = attrs.pop("sd", None)
    if sd and sd != "-":
        attrs["sd"] = sd[:512]
    msg = d["message"]
    if msg.startswith("\ufeff"):  # BOM marks a UTF-8 MSG
        d["message"] = msg[1:]
    return d


parse_rfc5424 = regex_parser(
    r"<(?P<pri>\d{1,3})>1 (?P<ts>\S{1,64}) (?P<host>\S{1,255}) (?P<service>\S{1,48})"
    r" (?P<pid>\S{1,128}) (?P<msgid>\S{1,32})"
    r" (?P<sd>-|(?:\[[^\]\\]*(?:\\.[^\]\\]*)*\])+)(?: (?P<message>.*))?",
    attrs=("msgid", "sd"),
    post=lambda d, m: _rfc5424_post({**d, "message": d["message"] or ""}, m),
)


# `journalctl -o short-monotonic`: the uptime, then syslog's `host tag[pid]: ` (the kernel's own
# lines say `host kernel: `). A pid or the word kernel is required, so dmesg's `usb 1-1: ...`
# keeps its text.
_MONOTONIC_TAG = re.compile(
    r"(?P<host>[\w.\-]{1,255}) (?:(?P<kernel>kernel)|" + _TAG[:-1] + r"):[ \t]"
)


def _dmesg_post(d: Fields, _m: re.Match[str]) -> Fields:
    up = d.pop("uptime")
    if up is not None:
        d["attrs"] = {"uptime": float(up)}
    d["service"] = "kernel"
    tag = _MONOTONIC_TAG.match(d["message"])
    if tag is not None and (tag.group("kernel") or tag.group("pid")):
        d["host"] = tag.group("host")
        if not tag.group("kernel"):
            d["service"], d["pid"] = tag.group("service"), tag.group("pid")
        d["message"] = d["message"][tag.end() :]
    d["level"] = kernel_level(d["message"])
    return d


# `[12345.678901] msg` (dmesg) and `[Mon Jan 15 14:02:11 2024] msg` (dmesg -T).
parse_dmesg = regex_parser(
    r"\[(?:\s*(?P<uptime>\d{1,10}\.\d{1,9})|(?P<ts>[A-Z][a-z]{2} [A-Z][a-z]{2} [ \d]\d \d\d:\d\d:\d\d \d{4}))\] ?"
    r"(?P<message>.*)",
    post=_dmesg_post,
)
