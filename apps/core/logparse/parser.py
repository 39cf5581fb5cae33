"""Public API: lines in, normalised records out, streaming.

    for record in parse_lines(lines, source="api.log"):
        ...

One source at a time: the format is detected from a sample of its first lines (or given), every
line is first offered to that format, then to the catalogue (a JSON-lines file with a few plain
lines), and lines without a header are joined to the record they continue (multiline.py), as
are headed lines whose message continues a block (a kernel call trace, one record per line).
Every input line ends up in exactly one record; records cover consecutive line numbers.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from datetime import date, datetime, tzinfo
from itertools import chain

from .detect import SAMPLE_LINES, Detection, detect_format
from .formats import BY_NAME, PLAIN, Fields, Format, parse_any
from .levels import level_from_message, split_leading_level
from .loghub import loghub_format
from .multiline import (
    ENDS,
    MAX_RECORD_CHARS,
    MAX_RECORD_LINES,
    STRONG,
    TRACEBACK,
    WEAK,
    Shape,
    StackTracker,
    block_shape,
    opens_block,
    starts_exception,
    starts_record,
    starts_report,
)
from .record import Line, Record
from .timestamps import TimestampParser

__all__ = ["Detection", "detect_format", "lines_from_text", "parse_lines"]

# What became of a line a given header did not match (parse_lines' `unmatched`).
UNMATCHED_JOINED = "joined to the record before"
UNMATCHED_TEXT = "kept as plain text"

# Below this detection confidence, unheaded lines are not glued to the previous record.
JOIN_CONFIDENCE = 0.3
# Seconds of kernel uptime between the lines of one report (an OOM report prints in a few ms).
BLOCK_GAP = 1.0
_BLOCK_FIRST = frozenset(
    " \t.<"
)  # cheap test before multiline.block_shape: ` frame`, `...`, `<TASK>`
SAMPLE_MAX_CHARS = 1 << 20

_NEWLINE = re.compile(r"\r\n|\r|\n")
_TRACE_IN_TEXT = re.compile(
    r"(?i:trace[_-]?id|request[_-]?id|x-request-id|correlation[_-]?id|req[_-]?id)[\"']?\s{0,2}[=:]\s{0,2}[\"']?([\w\-.:]{4,128})"
)


def lines_from_text(text: str) -> Iterator[Line]:
    """Split pasted text on \\n, \\r\\n or \\r into numbered Lines (a final newline ends the last)."""
    number = 0
    pos = 0
    for m in _NEWLINE.finditer(text):
        number += 1
        yield Line(number, text[pos : m.start()])
        pos = m.end()
    if pos < len(text):
        yield Line(number + 1, text[pos:])


def _sample(it: Iterator[Line]) -> list[Line]:
    sample: list[Line] = []
    nonempty = chars = 0
    for line in it:
        sample.append(line)
        chars += len(line.text)
        if line.text.strip():
            nonempty += 1
        if (
            nonempty >= SAMPLE_LINES
            or chars >= SAMPLE_MAX_CHARS
            or len(sample) >= 10 * SAMPLE_LINES
        ):
            break
    return sample


def parse_lines(
    lines: Iterable[Line],
    *,
    source: str = "",
    log_format: str | None = None,
    detected: str | Detection | None = None,
    default_year: int | None = None,
    default_tz: tzinfo | None = None,
    reference: datetime | None = None,
    default_date: date | None = None,
    raw_ts: bool = False,
    unmatched: dict[str, int] | None = None,
) -> Iterator[Record]:
    """Parse one source's lines into records (a generator; memory bounded by one record).

    `log_format`: an explicit loghub header (`<Date> <Time> <Level> <Component>: <Content>`).
    `detected`: an earlier detect_format() (or its format name; a learnt header needs the
    Detection); otherwise detection runs on the first lines. `default_year` / `reference` anchor syslog's year-less stamps, `default_date`
    bare times of day (without it a bare time is no timestamp); naive times are read in
    `default_tz` (UTC by default). `raw_ts`: leave each record's `ts` as the format found it
    (a string, a number or None) for `resolve_timestamps` to finish elsewhere (another
    process: pipeline.parsed_members). `unmatched`: filled with the non-empty lines the
    source's format (a given `log_format`) did not match, by what became of them
    (UNMATCHED_JOINED, UNMATCHED_TEXT, or "read as <format>").
    """
    it = iter(lines)
    if log_format:
        primary: Format | None = loghub_format(log_format)
        confidence = 1.0
    elif isinstance(detected, str):
        primary = BY_NAME.get(detected)
        confidence = 1.0
    elif detected is not None:
        primary = detected.format
        confidence = 1.0
    else:
        sample = _sample(it)
        detection = detect_format(sample)
        primary = detection.format
        confidence = detection.confidence
        it = chain(sample, it)
    records = _parse(it, primary, confidence, source, unmatched)
    if raw_ts:
        yield from records
        return
    tsp = TimestampParser(
        default_year=default_year,
        default_tz=default_tz,
        reference=reference,
        default_date=default_date,
    )
    yield from resolve_timestamps(records, tsp)


def resolve_timestamps(records: Iterable[Record], tsp: TimestampParser) -> Iterator[Record]:
    """Turn each record's raw `ts` into a UTC datetime, in order (the parser keeps state: the
    syslog year, the day of bare times). A record without a usable time takes the previous
    record's and is flagged `ts_inherited`."""
    parse = tsp.parse
    last: datetime | None = None
    for record in records:
        raw = record.ts
        ts = parse(raw) if raw is not None else None
        if ts is None:
            if last is not None:
                record.ts, record.ts_inherited = last, True
            else:
                record.ts = None
        else:
            record.ts = last = ts
        yield record


def _parse(
    it: Iterator[Line],
    primary: Format | None,
    confidence: float,
    source: str,
    unmatched: dict[str, int] | None = None,
) -> Iterator[Record]:
    """Records with their raw `ts` (resolve_timestamps finishes them); `unmatched` counts the
    lines `primary` did not match (parse_lines)."""
    parse = primary.parse if primary is not None else None
    primary_name = primary.name if primary is not None else PLAIN
    joins = primary is not None and primary.headers and confidence >= JOIN_CONFIDENCE
    tracker = StackTracker()
    cur: Record | None = None
    raw_parts: list[str] | None = None
    msg_parts: list[str] | None = None
    n_chars = 0
    partial = False
    block = False  # the open record is a block (a section title, or frames joined to it)
    uptime: float | None = None  # the kernel uptime of the open record's last line

    for number, text, truncated in it:
        fields: Fields | None = parse(text) if parse is not None and text else None
        fmt = primary_name
        if fields is not None and not ("weak" in fields or "join" in fields or "partial" in fields):
            # the common case: a header line of the source's own format; it joins the open
            # record only when its message continues a block (a kernel report's frames)
            content = fields.get("message") or ""
            if (
                cur is not None
                and content
                and (
                    block or content[0] in _BLOCK_FIRST or "+0x" in content or content[:3] == "at "
                )
                and _block_continues(cur, fields, content, block, uptime)
                and (
                    raw_parts is None
                    or (len(raw_parts) < MAX_RECORD_LINES and n_chars < MAX_RECORD_CHARS)
                )
            ):
                if raw_parts is None:
                    raw_parts = [cur.raw]
                    msg_parts = [cur.message]
                    n_chars = len(cur.raw)
                assert msg_parts is not None
                raw_parts.append(text)
                n_chars += len(text) + 1
                msg_parts.append(content)
                if truncated:
                    cur.truncated = True
                cur.end_line = number
                block = True
                up = (fields.get("attrs") or {}).get("uptime")
                uptime = up if isinstance(up, float) else uptime
                continue
        else:
            missed = unmatched is not None and fields is None and parse is not None and text
            # -- does this line continue the open record? --------------------------------
            cont = False
            content = text if fields is None else fields.get("message") or ""
            if cur is not None and (
                raw_parts is None
                or (len(raw_parts) < MAX_RECORD_LINES and n_chars < MAX_RECORD_CHARS)
            ):
                cont, fmt, fields, content = _continues(
                    cur, text, fields, content, fmt, partial, tracker, primary, joins
                )
            if cont:
                assert cur is not None
                if raw_parts is None:
                    raw_parts = [cur.raw]
                    msg_parts = [cur.message]
                    n_chars = len(cur.raw)
                assert msg_parts is not None
                raw_parts.append(text)
                n_chars += len(text) + 1
                if partial:
                    msg_parts[-1] += content
                else:
                    msg_parts.append(content)
                if truncated:
                    cur.truncated = True
                cur.end_line = number
                partial = fields is not None and "partial" in fields
                block = False
                if missed and unmatched is not None:
                    unmatched[UNMATCHED_JOINED] = unmatched.get(UNMATCHED_JOINED, 0) + 1
                continue
            if fields is None and cur is None and text:
                alt = parse_any(text, primary)
                if alt is not None:
                    fmt, fields = alt[0].name, alt[1]
            if missed and unmatched is not None:
                why = UNMATCHED_TEXT if fields is None else f"read as {fmt}"
                unmatched[why] = unmatched.get(why, 0) + 1
        # -- a new record starts here -----------------------------------------------------
        if cur is not None:
            if raw_parts is not None:
                _close(cur, raw_parts, msg_parts)
                raw_parts = msg_parts = None
            yield cur
        cur, partial, block, uptime = _new_record(
            number, text, truncated, fields, fmt, source, tracker, uptime
        )
    if cur is not None:
        if raw_parts is not None:
            _close(cur, raw_parts, msg_parts)
        yield cur


def _continues(
    cur: Record,
    text: str,
    fields: Fields | None,
    content: str,
    fmt: str,
    partial: bool,
    tracker: StackTracker,
    primary: Format | None,
    joins: bool,
) -> tuple[bool, str, Fields | None, str]:
    """Whether a line that is not a plain header line of the source's format continues the open
    record: a partial line's rest, an unheaded line (a stack frame, an indented detail), a
    `join` line of the same process, a weak header of the same service inside a stack. Also
    the format and fields an unheaded line turned out to have, and its message."""
    if partial:
        return True, fmt, fields, content
    if fields is None:
        cont, alt = _unheaded_continues(text, cur, tracker, primary, joins)
        if alt is not None:
            fmt, fields = alt[0].name, alt[1]
            if "weak" in fields:
                content = fields.get("message") or ""
        return cont, fmt, fields, content
    if "join" in fields:
        return fields.get("pid") == cur.pid, fmt, fields, content
    if "weak" in fields:
        cont = fields.get("service") == cur.service and _weak_continues(tracker, content)
        return cont, fmt, fields, content
    return False, fmt, fields, content


def _close(cur: Record, raw_parts: list[str], msg_parts: list[str] | None) -> None:
    """A record of several lines gets its joined raw text and message. A header that takes two
    lines (java.util.logging's `<time> <class> <method>` then `SEVERE: msg`; .NET's console
    `info: <category>[<event id>]` then the indented message) leaves its second line as the
    message, and its level when the header had none."""
    cur.raw = "\n".join(raw_parts)
    parts = msg_parts or ()
    if cur.parsed and len(parts) > 1 and (logger := _HEADER_LINE.fullmatch(parts[0])) is not None:
        second = parts[1].strip()
        level, rest = split_leading_level(second)
        said = (
            level is not None
            and rest != second
            and second[: len(second) - len(rest)].rstrip()[-1:] == ":"
        )
        if logger.group("event") or (said and (logger.group("logger") or cur.level is None)):
            if cur.level is None and said:
                cur.level = level
            if logger.group("logger"):
                cur.attrs = {**cur.attrs, "logger": logger.group("logger")}
            cur.message = "\n".join((rest if said else second, *parts[2:]))
            return
    cur.message = "\n".join(parts)


# The first line of a two-line header: a logger or class name with an event id or a method,
# or the method alone (the class went to the learnt header).
_HEADER_LINE = re.compile(
    r"(?P<logger>[A-Za-z_$][\w$]*(?:(?:\.|::)[\w$]+)+)(?:\[(?P<event>\d{1,10})\]| [\w$<>]{1,128})"
    r"|[\w$<>]{1,128}"
)


def _new_record(
    number: int,
    text: str,
    truncated: bool,
    fields: Fields | None,
    fmt: str,
    source: str,
    tracker: StackTracker,
    uptime: float | None,
) -> tuple[Record, bool, bool, float | None]:
    """The record a line starts, and the joining state it opens: (record, partial, block,
    kernel uptime; an unheaded line keeps the last one)."""
    if fields is None:
        tracker.starts_stack(text)
        # `[INFO] Reloading`: the level is all the header the line has
        said, rest = split_leading_level(text) if text[:1] == "[" else (None, text)
        record = Record(number, number, text, rest, None, False, said or level_from_message(text),
                        None, None, None, _trace_in(text), {}, PLAIN, False, truncated, source)  # fmt: skip
        return record, False, False, uptime
    if "weak" in fields:
        tracker.starts_stack(fields.get("message") or "")
    else:
        tracker.reset()
    block = False
    message = fields.get("message")
    if message is None:
        message = text
    elif (message[-1:] == ":" and opens_block(message)) or starts_report(message):
        block = True
    attrs = fields.get("attrs")
    uptime = attrs.get("uptime") if attrs and "uptime" in attrs else None
    trace = fields.get("trace_id")
    if trace is None:
        trace = _trace_in(message)
    level = fields.get("level")
    fmt = fields.get("fmt") or fmt
    if level is None and message and fmt not in _READ_LEADING_LEVEL:
        level, message = split_leading_level(message)  # the header states none
    record = Record(number, number, text, message, fields.get("ts"), False, level,
                    fields.get("service"), fields.get("host"), fields.get("pid"), trace,
                    attrs or {}, fmt, True, truncated, source)  # fmt: skip
    return record, "partial" in fields, block, uptime


# Formats whose parser already looked for a level in the message (split_leading_level).
_READ_LEADING_LEVEL = frozenset(("syslog", "syslog-iso", "kernel", "generic", "go-stdlib"))

# Formats whose every line is a whole event: never joined as a block.
SELF_CONTAINED = frozenset(("json", "json-prefixed", "logfmt"))


def _block_continues(
    cur: Record, fields: Fields, message: str, block: bool, uptime: float | None
) -> bool:
    """A headed line continues the open record when both come from the same stream (format,
    host, service, pid), it states no level, and its message is a frame, or a row inside an
    open block. Kernel lines must also be close in uptime."""
    shape = block_shape(message)
    if shape is Shape.NONE or (shape is Shape.ROW and not block):
        return False
    if fields.get("level") is not None:
        return False  # a line that states its level is an event of its own (logcat's frames)
    if cur.fmt in SELF_CONTAINED:
        return False  # one JSON object is one event, whatever its message looks like
    if (
        not cur.parsed
        or (fields.get("fmt") or cur.fmt) != cur.fmt
        or fields.get("service") != cur.service
        or fields.get("host") != cur.host
        or fields.get("pid") != cur.pid
    ):
        return False
    after = (fields.get("attrs") or {}).get("uptime")
    if uptime is not None and isinstance(after, float):
        return isinstance(uptime, float) and 0.0 <= after - uptime <= BLOCK_GAP
    return True


def _unheaded_continues(
    text: str, cur: Record, tracker: StackTracker, primary: Format | None, joins: bool
) -> tuple[bool, tuple[Format, Fields] | None]:
    """Does a line without a header of the source's format continue the open record `cur`?
    Also the header of another format the line turned out to carry, when one was looked for."""
    says = tracker.continues(text)
    if says == STRONG:
        return True, None
    if says == ENDS or tracker.opens(text):
        return False, None
    alt = parse_any(text, primary) if text else None
    if alt is not None:
        fields = alt[1]
        if "join" in fields:
            return fields.get("pid") == cur.pid, alt
        if "weak" in fields:
            content = fields.get("message") or ""
            return fields.get("service") == cur.service and _weak_continues(tracker, content), alt
        return False, alt
    # any other line continues, unless it starts with a time of its own
    return (says == WEAK or joins) and not starts_record(text), None


def _weak_continues(tracker: StackTracker, content: str) -> bool:
    """A wrapper line whose inner text has no header (a frame inside a CRI or compose line)."""
    if tracker.continues(content):
        return True
    return content.startswith(TRACEBACK) or starts_exception(content)


def _trace_in(message: str) -> str | None:
    """A request/trace id written inside free text (`request_id=abc`, `traceId: 4bf9`)."""
    if "_id" in message or "Id" in message or "-id" in message or "ID" in message:
        m = _TRACE_IN_TEXT.search(message, 0, 4096)
        if m is not None:
            return m.group(1)
    return None
