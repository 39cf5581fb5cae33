"""Learn the header of an unknown file from the file itself.

Each sampled line start is cut into typed tokens (a timestamp in one of SHAPES, a level word or
letter, a number or id, a bracketed field, a `name:` component, a word, punctuation). The
columns that most lines share, in order, are the header: the longest prefix of token kinds that
at least SHARE of the lines agree on, cut back so that it ends on a field or a separator (never
on a bare word, which may be the message's first). The template is compiled once to a regex
whose groups are the fields, so every line costs one match, and reported in the loghub syntax
(`<Date> <Time> <Level> <Component>: <Content>`). A wrapped line (syslog around an
application's own header) is read twice: the messages left by the outer header are learnt
again, and the inner level, message and year complete the outer record.

Only shapes and the level vocabulary (levels.py) are known in advance, never a program's names.
The shapes and the tokenizer are in linestart.py.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from .columns import (
    CLOSERS,
    FIELD_KINDS,
    OPENERS,
    Column,
    assign_roles,
    cut_after_level_colon,
    cut_after_source,
    cut_measures,
    cut_plain_components,
    cut_prose,
    cut_unbalanced,
    cut_words,
    kind_of,
    logger_after_field,
    message_key,
)
from .levels import REDIS_MARKS, level_from_status, normalize_level
from .linestart import (
    CLOSE,
    MAX_TOKENS,
    SHAPE_BY_NAME,
    SHAPE_NUMERIC_ZONE,
    named_zone,
    tokenize,
    ts_builder,
)

SHARE = 0.6  # a column is header when this share of the sample's lines have it
# Past the first column, a column is header only when this share of the lines that agree so far
# have it: a `WFLYSRV0010:` message id on two lines of three is the message's, not a column.
FOLLOW = 0.85

# -- inference ----------------------------------------------------------------------------


@dataclass(slots=True)
class Header:
    """A learnt header: its columns, the compiled line parser and the loghub spelling."""

    columns: list[Column]
    share: float  # of the sample's lines that the header matches
    inner: Header | None = None
    parse: Callable[[str], dict | None] | None = None
    pattern: str = ""

    def loghub(self) -> str:
        out = ""
        for i, col in enumerate(self.columns):
            if i and col.space and col.kind not in CLOSERS:
                out += " "
            if col.optional:
                out = out.rstrip(" ") + "( <Field>:)?"
            elif col.kind == "S":
                out += "<Source>\\]"
            elif col.kind == "SRC":
                out += "<Source>"
            elif col.kind == "T" or col.kind.startswith("B") or col.role not in _LOGHUB:
                out += _loghub_literal(col)
            else:
                out += _LOGHUB[col.role]
        sep = " " if out and not out.endswith((" ", "[", "(")) else ""
        inner = self.inner.loghub() if self.inner is not None else "<Content>"
        return out + sep + inner

    @property
    def dated(self) -> bool:
        """A time or a level: enough to read a file no catalogue format knows."""
        return any(c.kind == "T" or c.role == "level" for c in self.columns)


_LOGHUB = {"T": "", "level": "<Level>", "pid": "<Pid>", "service": "<Component>:",
           "host": "<Host>", "id": "<Id>", "attr": "<Field>", "thread": "<Thread>"}  # fmt: skip


def _loghub_literal(col: Column) -> str:
    if col.kind == "T":
        if col.shape == "time":
            return "<Time>"
        if col.shape == "epoch":
            return "<Timestamp>"
        return "<Date> <Time>" if " " in _SAMPLE_TS.get(col.shape, "") else "<Timestamp>"
    if col.kind.startswith("B"):
        o = col.kind[1]
        name = "<Component>" if col.role == "bservice" else "<Field>"
        return ("\\" if o == "[" else "") + o + name + ("\\" if o == "[" else "") + CLOSE[o]
    return re.sub(r"([\[\]])", r"\\\1", col.value)


_SAMPLE_TS = {"iso": "d t", "ymd-slash": "d t", "yy-slash": "d t", "mdy-slash": "d t",
              "dmy-slash": "d t", "dmy-yy": "d t",
              "md-dash": "d t", "dmy-dot": "d t", "ymd-dot": "d t", "md-dot": "d t", "syslog": "m d t", "mdy-words": "m d y t", "mdy-us": "d t", "day-mon": "d m t", "ctime": "w m d t",
              "klog": "d t", "klog-y": "d t", "yymmdd": "d t", "cjk": "m d t"}  # fmt: skip


def _day_first(stamps: Iterable[str]) -> bool:
    """`nn/nn/yyyy`: day first when the sample's first numbers go past 12 and its second ones
    never do (a month is at most 12); month first (the US order) when the values cannot tell."""
    firsts, seconds = set(), set()
    for stamp in stamps:
        first, _, rest = stamp.partition("/")
        if first.isdigit() and rest[:2].isdigit():
            firsts.add(int(first))
            seconds.add(int(rest[:2]))
    return bool(firsts) and max(firsts) > 12 and max(seconds, default=13) <= 12


def _yy_day_first(stamps: Iterable[str]) -> bool:
    """`nn/nn/nn`: log4j's `yy/MM/dd` unless the sample says `dd/MM/yy`: a last number past 31
    (no day is), or days that change while the last number stays (one file spans days, rarely
    years). A first number past 31 is a year; so is anything the values cannot tell."""
    firsts, lasts = set(), set()
    for stamp in stamps:
        parts = stamp[:8].split("/")
        if len(parts) == 3 and all(p.isdigit() for p in parts):
            firsts.add(int(parts[0]))
            lasts.add(int(parts[2]))
    if not firsts or max(firsts) > 31:
        return False
    return max(lasts) > 31 or (len(firsts) > 1 and len(lasts) == 1)


def infer(texts: Sequence[str], *, depth: int = 0) -> Header | None:
    """The header most of `texts` (header lines, not continuations) share; None without one."""
    # repeated lines say nothing about which columns vary: learn from the distinct ones
    texts = list(dict.fromkeys(t for t in texts if t and (t[0] not in " \t" or aligned_level(t))))
    rows = [tokenize(t) for t in texts]
    total = len(rows)
    if total < 2:
        return None
    need = max(2, SHARE * total)
    columns: list[Column] = []
    live = rows
    k = 0
    while k < MAX_TOKENS:
        kinds = Counter(kind_of(r[k]) for r in live if len(r) > k)
        if not kinds:
            break
        kind, count = kinds.most_common(1)[0]
        if count < need:
            break
        agree = [r for r in live if len(r) > k and kind_of(r[k]) == kind]
        if k and count < FOLLOW * len(live):
            break
        live = agree
        spaces = sum(1 for r in live if r[k].space)
        col = Column(kind, spaces * 2 > len(live))
        if kind == "T":
            col.shape = live[0][k].shape
            if col.shape == "mdy-slash" and _day_first(r[k].value for r in live):
                col.shape = "dmy-slash"
            elif col.shape == "yy-slash" and _yy_day_first(r[k].value for r in live):
                col.shape = "dmy-yy"
            col.zone_names = any(named_zone(col.shape, r[k].value) for r in live)
        elif kind == "L":
            col.dotted = any("." in r[k].value for r in live)
        elif kind not in FIELD_KINDS and kind not in ("W", "K"):
            col.value = live[0][k].value
        columns.append(col)
        k += 1
    message_key(columns, live)
    cut_after_source(columns, live)
    cut_prose(columns, live)
    cut_after_level_colon(columns, live)
    cut_plain_components(columns, live)
    cut_measures(columns, live)
    # cut back to a field or a separator: a bare word or an opener may start the message
    while columns and (
        (columns[-1].kind in ("W", "K", "LL") and not logger_after_field(columns, live))
        or columns[-1].kind in OPENERS
    ):
        columns.pop()
    cut_words(columns, rows)
    cut_unbalanced(columns, rows)
    if not columns:
        return None
    assign_roles(columns, [r[: len(columns)] for r in live if len(r) >= len(columns)] or rows)
    if not any(c.kind in ("T", "C") or c.role == "level" for c in columns):
        return None
    if not any(c.kind == "T" for c in columns) and depth == 0 and columns[0].role != "level":
        return None
    while True:  # a header leaves a message: identical lines must not become all header
        header = Header(columns, 0.0)
        header.pattern = _compile(columns)
        rx = re.compile(header.pattern)
        matched = [m for t in texts if (m := rx.match(t)) is not None]
        header.share = len(matched) / max(total, 1)
        if header.share < SHARE:
            return None
        if 2 * sum(1 for m in matched if m.group("message")) >= len(matched):
            break
        columns.pop()
        while columns and (columns[-1].kind in ("W", "K", "LL") or columns[-1].kind in OPENERS):
            columns.pop()
        cut_unbalanced(columns)
        if not columns or not header.dated:
            return None
    optional = _optional_component([m.group("message") for m in matched])
    if optional and columns[-1].kind != "C":
        columns.append(Column("C", True, role="attr", optional=True))
        header.pattern = _compile(columns)
        rx = re.compile(header.pattern)
    if depth == 0:
        inner = infer([m.group("message") for m in matched], depth=1)
        if inner is not None and any(c.kind == "T" or c.role == "level" for c in inner.columns):
            header.inner = inner
    header.parse = _parser(header, rx)
    return header


# A program part that only some lines name, right after the header: `plugin/reload: …`. Its
# name must look like one (a slash, a dot or an underscore), not a word or a message id
# (`WFLYSRV0010:`).
_OPTIONAL_COMPONENT = re.compile(r"[^\s\[\]:]*[/._][^\s\[\]:]*:(?=\s)")
OPTIONAL_SHARE = 0.25


def _optional_component(messages: list[str]) -> bool:
    named = sum(1 for m in messages if _OPTIONAL_COMPONENT.match(m))
    return named >= max(2, OPTIONAL_SHARE * len(messages))


_ALIGNED = re.compile(r" {1,4}([A-Za-z]{4,8})\b")


def aligned_level(text: str) -> bool:
    """` INFO 2018-10-18T17:55:21Z: …`: a level padded on the left to its column's width
    (log4j's `%5p`) starts a header line, not a continuation."""
    m = _ALIGNED.match(text)
    return m is not None and normalize_level(m.group(1)) is not None


# -- compiling a template to one regex ------------------------------------------------------
def _rename(rx: str, prefix: str) -> str:
    return re.sub(r"\(\?P<(\w+)>", lambda m: f"(?P<{prefix}{m.group(1)}>", rx)


def _compile(columns: list[Column], prefix: str = "", *, message: bool = True) -> str:
    """The template as one regex; `message=False` stops after the header (the parser slices
    the rest of the line instead of matching it)."""
    parts: list[str] = [" {0,4}"] if columns and columns[0].kind == "L" else []
    ids = 0
    for i, col in enumerate(columns):
        if col.optional:  # `(?:\s+name:)?`
            inner = _compile([Column(col.kind, False, role=col.role)], prefix, message=False)
            inner = inner.removesuffix(r"\s*").replace("f0", f"f{i}")
            parts.append(rf"(?:\s*{inner})?")
            continue
        if i:
            prev = columns[i - 1].kind
            if prev in OPENERS or col.kind in CLOSERS:
                parts.append(r"\s*")  # padding inside brackets (`[WARN ]`) is optional
            elif col.space:
                parts.append(r"\s+")
        kind = col.kind
        if kind == "T":
            seen_ts = any(c.kind == "T" for c in columns[:i])
            shapes = SHAPE_BY_NAME if col.zone_names else SHAPE_NUMERIC_ZONE
            parts.append(_rename(shapes[col.shape], prefix + (f"y{i}_" if seen_ts else "t_")))
        elif kind == "L":
            name = f"{prefix}level" if col.role == "level" else f"{prefix}f{i}"
            dotted = r"(?:[A-Za-z]+\.)?" if col.dotted else ""
            parts.append(rf"{dotted}(?P<{name}>[A-Za-z]{{1,12}}\d?)")
        elif kind == "LL":
            parts.append(rf"(?P<{prefix}{'level' if col.role == 'level' else f'f{i}'}>[A-Za-z])")
        elif kind == "MARK":
            name = f"{prefix}level" if col.role == "level" else f"{prefix}f{i}"
            parts.append(rf"(?P<{name}>[*#.\-])")
        elif kind == "N":
            name = f"{prefix}pid" if col.role == "pid" else f"{prefix}id{ids}"
            ids += 1
            parts.append(rf"(?P<{name}>[#*]?\d+(?:[#:.\-/]\d+)*)(?!\w)")
        elif kind.startswith("B"):
            o = kind[1]
            c = CLOSE[o]
            name = (
                f"{prefix}pid"
                if col.role == "pid"
                else f"{prefix}level"
                if col.role == "level"
                else f"{prefix}f{i}"
            )
            inner = rf"[^{re.escape(o)}{re.escape(c)}\n]"  # one nested pair allowed
            parts.append(
                rf"{re.escape(o)}\s*(?P<{name}>{inner}{{0,198}}"
                rf"(?:{re.escape(o)}{inner}{{0,64}}{re.escape(c)}{inner}{{0,198}})?){re.escape(c)}"
            )
        elif kind == "C" and col.role != "service":
            parts.append(rf"(?P<{prefix}f{i}>[^\s\[\]]+) {{0,64}}:(?=\s|$)")
        elif kind == "C":
            parts.append(
                rf"(?P<{prefix}service>[^\s\[\]]*)(?:\[(?P<{prefix}cpid>\d+)\])?(?:(?<=\S) {{1,64}})?:(?=\s|$)"
            )
        elif (
            kind == "W"
            and i + 1 < len(columns)
            and columns[i + 1].kind == "L"
            and not columns[i + 1].space
        ):
            parts.append(rf"(?P<{prefix}w{i}>[^\s\[\](){{}}<>|,]*[:/])")  # `Zigbee2MQTT:` info
        elif kind == "W":
            parts.append(rf"(?P<{prefix}w{i}>[^\s\[\](){{}}<>|,]+)")
        elif kind == "K" and col.role == "level":
            parts.append(rf'{re.escape(col.value)}="?(?P<{prefix}level>[A-Za-z]{{1,12}})"?(?!\S)')
        elif kind == "K":
            parts.append(rf"(?P<{prefix}f{i}>[A-Za-z_][\w.\-]{{0,63}}=\S*)")
        elif kind == "S":
            parts.append(rf"(?P<{prefix}f{i}>[^\s\[\]]*?:\d{{1,6}})\]")
        elif kind == "SRC":
            parts.append(
                rf"(?P<{prefix}f{i}>[\w.\-/]*\.\w{{1,8}}:\d{{1,6}}(?::[\w.$]{{1,128}}\(\))?)(?=\s)"
            )  # `server.go:123`, Gitea's `cmd/web.go:308:listen()`
        else:
            parts.append(re.escape(col.value))
    parts.append(rf"\s*(?P<{prefix}message>.*)" if message else r"\s*")
    return "".join(parts)


_QUOTED = re.compile(r'"((?:[^"\\]|\\.)*)"')


def _ends_in_key(columns: list[Column]) -> bool:
    """The header ends with a message key (`msg=`): its value may be quoted."""
    return bool(columns) and columns[-1].kind == "LIT" and columns[-1].value.endswith("=")


def _unquoted(message: str) -> str:
    q = _QUOTED.match(message)
    return message if q is None else q.group(1).replace('\\"', '"').replace("\\\\", "\\")


# An access log's request and status after a learnt header: the status says the level
_REQUEST_STATUS = re.compile(r'"[A-Z]{3,10} [^"]{0,4096}" (\d{3})\b')


def _parser(header: Header, rx: re.Pattern[str]) -> Callable[[str], dict | None]:
    """One match per line; the groups become Fields, read by position (the hot path). The
    inner header, if any, runs on the outer message and supplies the level, the message and a
    missing year."""
    columns = header.columns
    ts_col = next((c for c in columns if c.kind == "T"), None)
    rx = re.compile(_compile(columns, message=False))  # the message is the rest: sliced
    index = {name: i - 1 for name, i in rx.groupindex.items()}
    build_ts = ts_builder(ts_col.shape, "t_", rx.groupindex) if ts_col is not None else None
    match = rx.match
    inner = header.inner
    inner_rx = re.compile(_compile(inner.columns, "i_")) if inner is not None else None
    inner_shape = next((c.shape for c in inner.columns if c.kind == "T"), "") if inner else ""
    attrs_at = [(n, i) for n, i in index.items() if n.startswith(("f", "w", "id"))]
    years_at = [i for n, i in index.items() if n.startswith("y") and n.endswith("_y")]
    level_is_mark = any(c.kind == "MARK" and c.role == "level" for c in columns)
    i_level = index.get("level")
    # a klog stamp's level letter, from the first such stamp (it may follow a syslog one)
    i_lvl = next(
        (i for n, i in sorted(index.items(), key=lambda x: x[1]) if n.endswith("_lvl")), None
    )
    i_pid, i_cpid, i_service = index.get("pid"), index.get("cpid"), index.get("service")

    seen: dict[str, str | None] = {}  # level words as written → normalised
    quoted = _ends_in_key(columns)
    inner_quoted = inner is not None and _ends_in_key(inner.columns)

    def parse(text: str) -> dict | None:
        m = match(text)
        if m is None:
            return None
        g = m.groups()
        message = text[m.end() :]
        if quoted and message[:1] == '"':  # `msg="Path Logs" logger=settings`: the quoted value
            message = _unquoted(message)
        level = g[i_level] if i_level is not None else None
        if level is not None:
            word = level
            level = seen.get(word, "")
            if level == "":
                level = (
                    REDIS_MARKS.get(word)
                    if level_is_mark
                    else normalize_level(word.rpartition("/")[2].strip())
                )
                if len(seen) < 256:
                    seen[word] = level
            if level is None:
                return None
        elif i_lvl is not None and g[i_lvl] is not None:
            level = normalize_level(g[i_lvl])
        if level is None and message.startswith('"'):  # `"GET / HTTP/1.1" 500 145`
            status = _REQUEST_STATUS.match(message)
            if status is not None:
                level = level_from_status(status.group(1))
        fields: dict = {
            "message": message,
            "level": level,
            "pid": (g[i_pid] if i_pid is not None else None)
            or (g[i_cpid] if i_cpid is not None else None),
            "service": g[i_service] if i_service is not None else None,
            "host": None,
            "attrs": {n: g[i] for n, i in attrs_at if g[i]} if attrs_at else {},
        }
        year = None
        if years_at:
            for i in years_at:
                year = year or g[i]
        if inner_rx is not None:
            mi = inner_rx.match(message)
            if mi is not None:
                di = mi.groupdict()
                fields["message"] = di["i_message"]
                if inner_quoted and di["i_message"][:1] == '"':
                    fields["message"] = _unquoted(di["i_message"])
                if fields["level"] is None and di.get("i_level") is not None:
                    fields["level"] = normalize_level(di["i_level"])
                if inner_shape:
                    year = year or di.get("i_t_y")
        if build_ts is not None:
            fields["ts"] = build_ts(g, year)
        return fields

    return parse
