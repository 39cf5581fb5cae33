"""Syslog: RFC 5424 and RFC 3164 messages, and RFC 6587 framing for TCP.

- RFC 5424: `<PRI>1 TIMESTAMP HOST APP PROCID MSGID [SD…] MSG`, `-` for absent values.
- RFC 3164 (BSD): `<PRI>Mmm dd hh:mm:ss HOST TAG[PID]: MSG`; the host may be missing (local
  senders) and the stamp may be RFC 3339 instead (rsyslog templates). The tag is read the way
  rsyslog reads it — up to `[`, `:` or a space — so `my-app` stays whole; a 3164 stamp has no
  year and no zone: the receive time's year (the one before if that lands in the future) and UTC.
- TCP framing: octet counting (`LEN SP MSG`) or a trailing LF, told apart per frame as rsyslog
  does. `Framer` never holds more than one frame's bound in memory.

Level from the PRI's severity, service from APP-NAME / TAG, host and facility as resource.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from apps.core.logparse.levels import level_from_pri

from .fields import parse_time
from .record import Limits, StreamRecord, make_record

FACILITIES = (
    "kern", "user", "mail", "daemon", "auth", "syslog", "lpr", "news", "uucp", "cron",
    "authpriv", "ftp", "ntp", "security", "console", "solaris-cron",
    "local0", "local1", "local2", "local3", "local4", "local5", "local6", "local7",
)  # fmt: skip

_PRI = re.compile(rb"<(\d{1,3})>")
_BSD_STAMP = re.compile(r"([A-Z][a-z]{2}) ([ \d]\d) (\d\d):(\d\d):(\d\d)(?:\.\d+)? ")
_MONTHS = {m: i for i, m in enumerate(
    ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"), 1)}  # fmt: skip
_TAG = re.compile(r"([^\s\[:]{1,128})(?:\[([^\]\s]{0,128})\])?:? ?")
_SD_ELEMENT = re.compile(r'\[([^\s\]=\"]+)((?:\s+[^\s\]=\"]+="(?:[^"\\]|\\.)*")*)\s*\]')
_SD_PARAM = re.compile(r'([^\s\]=\"]+)="((?:[^"\\]|\\.)*)"')
TRACE_KEYS = ("trace_id", "traceid", "traceId", "trace-id")
SPAN_KEYS = ("span_id", "spanid", "spanId", "span-id")


def parse_message(data: bytes, *, received_at: datetime, limits: Limits) -> StreamRecord:
    """One syslog message (a UDP datagram or a TCP frame). Never raises for content: a message
    with no `<PRI>` is kept whole, without a level."""
    data = data.rstrip(b"\r\n\x00")
    match = _PRI.match(data)
    if match is None or int(match.group(1)) > 191:
        return make_record(
            time=None,
            observed_time=received_at,
            service="",
            level=None,
            message=data.decode("utf-8", "replace"),
            limits=limits,
        )
    pri = int(match.group(1))
    rest = data[match.end() :]
    resource = {"syslog.facility": FACILITIES[pri >> 3]}
    if rest[:2] == b"1 ":
        return _rfc5424(rest[2:], pri, resource, received_at, limits)
    return _rfc3164(rest.decode("utf-8", "replace"), pri, resource, received_at, limits)


def _rfc5424(rest: bytes, pri: int, resource: dict, received_at, limits) -> StreamRecord:
    head = rest.split(b" ", 5)
    while len(head) < 6:
        head.append(b"-")
    stamp, host, app, procid, msgid, tail = (part.decode("utf-8", "replace") for part in head)
    structured, message = _structured_data(tail)
    if message.startswith("\ufeff"):
        message = message[1:]  # the BOM RFC 5424 puts before a UTF-8 MSG
    attributes: dict = {}
    if procid != "-":
        attributes["syslog.procid"] = procid
    if msgid != "-":
        attributes["syslog.msgid"] = msgid
    if structured:
        attributes["syslog.structured_data"] = structured
    if host != "-":
        resource["host.name"] = host
    params = {k: v for element in structured.values() for k, v in element.items()}
    return make_record(
        time=parse_time(stamp) if stamp != "-" else None,
        observed_time=received_at,
        service=app if app != "-" else "",
        level=level_from_pri(pri),
        message=message,
        attributes=attributes,
        resource=resource,
        trace_id=next((params[k] for k in TRACE_KEYS if k in params), ""),
        span_id=next((params[k] for k in SPAN_KEYS if k in params), ""),
        limits=limits,
    )


def _structured_data(tail: str) -> tuple[dict, str]:
    """`[id k="v"][id2 …] MSG` → ({id: {k: v}}, MSG); `- MSG` → ({}, MSG)."""
    if tail.startswith("-"):
        return {}, tail[2:] if tail[1:2] == " " else tail[1:]
    elements: dict[str, dict[str, str]] = {}
    pos = 0
    while tail.startswith("[", pos):
        match = _SD_ELEMENT.match(tail, pos)
        if match is None:
            break  # not structured data after all: keep the rest as the message
        elements[match.group(1)] = {
            name: re.sub(r"\\([\"\\\]])", r"\1", value)
            for name, value in _SD_PARAM.findall(match.group(2))
        }
        pos = match.end()
    message = tail[pos:]
    return elements, message[1:] if message.startswith(" ") else message


def _rfc3164(rest: str, pri: int, resource: dict, received_at: datetime, limits) -> StreamRecord:
    time = None
    stamp = _BSD_STAMP.match(rest)
    if stamp:
        time = _bsd_time(stamp, received_at)
        rest = rest[stamp.end() :]
    else:
        word, _, after = rest.partition(" ")
        parsed = parse_time(word) if word[:1].isdigit() else None
        if parsed is not None:
            time, rest = parsed, after
    # HOST TAG: MSG, or TAG: MSG when the sender left the host out.
    first_word, _, after = rest.partition(" ")
    if first_word and not first_word.endswith(":") and "[" not in first_word and after:
        resource["host.name"] = first_word
        rest = after
    service, attributes = "", {}
    tag = _TAG.match(rest)
    if tag and (tag.group(2) is not None or rest[tag.end(1) : tag.end(1) + 1] in (":", "[")):
        service = tag.group(1)
        if tag.group(2):
            attributes["syslog.procid"] = tag.group(2)
        rest = rest[tag.end() :]
    return make_record(
        time=time,
        observed_time=received_at,
        service=service,
        level=level_from_pri(pri),
        message=rest,
        attributes=attributes,
        resource=resource,
        limits=limits,
    )


def _bsd_time(match: re.Match, received_at: datetime) -> datetime | None:
    month = _MONTHS.get(match.group(1))
    if month is None:
        return None
    day, hour, minute, second = (int(match.group(i)) for i in range(2, 6))
    try:
        stamp = datetime(received_at.year, month, day, hour, minute, second, tzinfo=UTC)
        if stamp > received_at + timedelta(days=1):
            stamp = stamp.replace(year=received_at.year - 1)  # Dec 31 read on Jan 1
    except ValueError:
        return None
    return stamp


class Framer:
    """Split a TCP byte stream into syslog frames (RFC 6587): octet-counted or LF-terminated.

    `feed(chunk)` returns the complete frames so far. A frame longer than `max_frame` is cut
    to that length (the rest is dropped up to its end), so memory stays bounded.
    """

    def __init__(self, max_frame: int = 256 * 1024) -> None:
        self.max_frame = max_frame
        self._buffer = bytearray()
        self._skip = 0  # octets still to drop of an oversized counted frame
        self._skip_line = False  # dropping the rest of an oversized LF frame

    def feed(self, chunk: bytes) -> list[bytes]:
        self._buffer += chunk
        frames: list[bytes] = []
        while self._buffer:
            if self._skip:
                dropped = min(self._skip, len(self._buffer))
                del self._buffer[:dropped]
                self._skip -= dropped
                continue
            if self._skip_line:
                end = self._buffer.find(b"\n")
                if end < 0:
                    self._buffer.clear()
                    break
                del self._buffer[: end + 1]
                self._skip_line = False
                continue
            frame = self._next_frame()
            if frame is None:
                break
            if frame:
                frames.append(frame)
        return frames

    def _next_frame(self) -> bytes | None:
        buffer = self._buffer
        digits = 0
        while digits < len(buffer) and digits < 10 and 48 <= buffer[digits] <= 57:
            digits += 1
        if 0 < digits < len(buffer) and buffer[digits] == 32 and buffer[0] != 48:
            length = int(buffer[:digits])
            start = digits + 1
            if length > self.max_frame:
                frame = bytes(buffer[start : start + self.max_frame])
                if len(buffer) - start < self.max_frame:
                    return None  # wait for the part we keep
                taken = min(len(buffer) - start, length)
                del buffer[: start + taken]
                self._skip = length - taken
                return frame
            if len(buffer) - start < length:
                return None
            frame = bytes(buffer[start : start + length])
            del buffer[: start + length]
            return frame
        if digits == len(buffer) and digits < 10:
            return None  # maybe the start of a length: wait for more
        end = buffer.find(b"\n")
        if end < 0:
            if len(buffer) > self.max_frame:
                frame = bytes(buffer[: self.max_frame])
                buffer.clear()
                self._skip_line = True
                return frame
            return None
        frame = bytes(buffer[: min(end, self.max_frame)]).rstrip(b"\r")
        del buffer[: end + 1]
        return frame

    def flush(self) -> list[bytes]:
        """What is left when the connection closes (a last frame without its LF)."""
        rest = bytes(self._buffer).rstrip(b"\r\n")
        self._buffer.clear()
        return [rest] if rest and not self._skip and not self._skip_line else []
