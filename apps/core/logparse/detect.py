"""Detect a source's format from a sample of its lines.

Every format in the catalogue is tried on every sampled line (only the formats whose first
character fits). The winner is the most specific format among those that parse at least
NEAR_TIE of what the best one parses: a CRI file is also "generic" on every line, an nginx error
log is also Go stdlib; the narrower reading says more. Confidence is the share of sampled lines,
not counting stack-trace and indented lines, that the winner parses.

The header learnt from the sample itself (header.py) competes with the catalogue's winner:
it is chosen when it explains more of the sample (header characters consumed, times and
levels found); on a tie the catalogue's format, which may know more (wrappers, JSON, access
logs), is kept.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import replace
from typing import NamedTuple

from . import trailers
from .formats import BY_NAME, PLAIN, Format, candidates
from .formats.web import W3C_FIELDS, w3c_parser
from .header import Header, aligned_level, infer
from .multiline import (
    TRACEBACK,
    StackTracker,
    looks_continued,
    starts_exception,
    starts_record,
)
from .record import Line

SAMPLE_LINES = 200
NEAR_TIE = 0.8
# A header learnt from the dated lines alone, when they are at least this share of the sample
# (java.util.logging writes each record on two lines, the second without a time).
STAMPED = 0.3


INFERRED = "inferred"
# Catalogue formats that are only a shape (a time, maybe a level, a component): the header
# learnt from the file itself wins a tie with them.
SHAPES_ONLY = frozenset(("generic", "go-stdlib", "python-basic"))
W3C = "w3c"
# Catalogue formats that a learnt header never replaces: their lines are more than a header
# and a message (a wrapped line, JSON, key=value pairs, access-log fields, CSV, tables).
SPECIAL = frozenset(
    (
        "docker-json", "journald-json", "json", "json-prefixed", "cri", "compose", "syslog-5424", "access",
        "envoy", "postgres-csv", "logrus", "logfmt", "kubectl-events", "kubectl-describe",
    )
)  # fmt: skip


class Detection(NamedTuple):
    name: str  # a catalogue format name, "inferred", "w3c" or "plain"
    confidence: float  # 0..1
    header: Header | None = None  # the learnt header, when name is "inferred"
    trailer: str = ""  # what the lines end with (trailers.py): "logger", "json", "suffix:…"
    declared: str = ""  # a W3C log's `#Fields:` directive, when name is "w3c"
    # a wrapper's messages (compose, CRI, syslog) with a header of their own, learnt per
    # service (None: all services): ((service, header), ...)
    inner: tuple[tuple[str | None, Header], ...] = ()
    indent: str = ""  # every line starts with it (a log pasted indented): read after it

    @property
    def format(self) -> Format | None:
        if self.declared:
            return Format(W3C, w3c_parser(self.declared), (), specificity=10)
        f = header_format(self.header) if self.header is not None else BY_NAME.get(self.name)
        if f is not None and self.inner:
            f = replace(f, parse=_reading_inner(f.parse, self.inner))
        if f is not None and self.trailer:
            f = replace(f, parse=trailers.stripping(f.parse, self.trailer))
        if f is not None and self.indent:
            f = replace(f, parse=_dedenting(f.parse, self.indent))
        return f

    @property
    def loghub(self) -> str:
        """The header in the loghub syntax (learnt ones only)."""
        if self.header is not None:
            return self.header.loghub()
        if self.inner:
            return "; ".join(f"{s or '*'}: {h.loghub()}" for s, h in self.inner)
        return ""


# Catalogue formats that wrap another program's line: a compose or CRI prefix, a syslog tag.
# Their messages may carry that program's own header, which the catalogue may not know.
WRAPPERS = frozenset(("compose", "cri", "docker-json", "syslog", "syslog-iso", "syslog-5424"))
MIN_INNER = 2  # distinct messages of one service to learn its header from


def learn_inner(parse, texts: list[str]) -> tuple[tuple[str | None, Header], ...]:
    """The headers of a wrapper's messages, learnt per service and for all services together:
    two programs behind one syslog write two headers. Only a header with a time or a level
    counts (a message's first words are not a header)."""
    by_service: dict[str | None, list[str]] = {}
    for text in texts:
        fields = parse(text)
        if fields is None or fields.get("fmt") or not fields.get("message"):
            continue
        attrs = fields.get("attrs") or {}
        if attrs.get("inner_fmt"):
            continue  # the catalogue read the inner line already
        message = fields["message"]
        if isinstance(message, str):
            by_service.setdefault(fields.get("service"), []).append(message)
    learnt: list[tuple[str | None, Header]] = []
    for service, messages in [
        *by_service.items(),
        (None, [m for v in by_service.values() for m in v]),
    ]:
        if service is None and learnt:
            break  # per-service headers say more than one for all
        if len(set(messages)) < MIN_INNER:
            continue
        header = infer(messages, depth=1)
        if header is not None and any(c.kind == "T" or c.role == "level" for c in header.columns):
            learnt.append((service, header))
    return tuple(learnt)


def _reading_inner(parse, inner: tuple[tuple[str | None, Header], ...]):
    """`parse`, with each message read by its service's learnt header: the inner message,
    the inner level (it says more than a syslog PRI), the inner time when the wrapper has none."""
    headers = {service: h.parse for service, h in inner}
    fallback = headers.get(None)

    def read(text: str):
        fields = parse(text)
        if fields is None:
            return None
        message = fields.get("message")
        inner_parse = headers.get(fields.get("service"), fallback)
        if inner_parse is None or not isinstance(message, str) or not message:
            return fields
        got = inner_parse(message)
        if got is None:
            return fields
        fields["message"] = got["message"]
        if got.get("level") is not None:
            fields["level"] = got["level"]
        if fields.get("ts") is None and got.get("ts") is not None:
            fields["ts"] = got["ts"]
        if fields.get("pid") is None and got.get("pid") is not None:
            fields["pid"] = got["pid"]
        fields.pop("weak", None)
        return fields

    return read


def header_format(header: Header) -> Format:
    assert header.parse is not None
    return Format(INFERRED, header.parse, (), specificity=10, description=header.loghub())


def _explained(parse, texts: list[str], rival=None) -> int:
    """How much of the sample a parser explains: header chars consumed, a time, a level.

    With `rival` (the other reading), characters this parser takes beyond the rival's
    header are not counted when they are only words (`sorry, ` of `FATAL:  sorry, too many
    clients`): a word that repeats across a small sample is message, not header, unless it
    carries a header's marks (digits, brackets, a dot …); a closing colon (`retrying: `) is no
    such mark."""
    score = 0
    for text in texts:
        fields = parse(text)
        if fields is None or "weak" in fields:
            continue
        message = fields.get("message")
        taken = len(text) - len(message) if isinstance(message, str) and message in text else 0
        if rival is not None and taken:
            other = rival(text)
            theirs = other.get("message") if other is not None else None
            if isinstance(theirs, str) and len(theirs) > len(message) and theirs.endswith(message):
                extra = len(theirs) - len(message)
                if _ONLY_WORDS.fullmatch(theirs[:extra]):
                    taken -= extra
        score += taken
        score += 20 * (fields.get("ts") is not None) + 20 * (fields.get("level") is not None)
    return score


_ONLY_WORDS = re.compile(r"\s*(?:[^\W\d_]+[,;:]?\s+)+")


def sample_texts(lines: Iterable[Line | str], size: int = SAMPLE_LINES) -> list[str]:
    texts: list[str] = []
    for item in lines:
        text = item if isinstance(item, str) else item.text
        if text and not text.isspace():
            texts.append(text)
            if len(texts) >= size:
                break
    return texts


INDENTED = 0.9  # the share of a sample's lines that must share an indent for it to go


def common_indent(texts: list[str]) -> str:
    """The whitespace that (nearly) every line starts with: a log pasted from a document or
    an issue, indented as a block. "" when the lines start at their first column."""
    if not texts or texts[0][:1] not in (" ", "\t"):
        return ""
    first = texts[0]
    indent = first[: len(first) - len(first.lstrip(" \t"))]
    while indent:
        if sum(1 for t in texts if t.startswith(indent)) >= INDENTED * len(texts):
            return indent
        indent = indent[:-1]
    return ""


def _dedenting(parse, indent: str):
    n = len(indent)

    def read(text: str):
        return parse(text[n:] if text.startswith(indent) else text)

    return read


def detect_format(lines: Iterable[Line | str], *, sample_size: int = SAMPLE_LINES) -> Detection:
    """(format name, confidence) for the first `sample_size` non-empty lines."""
    texts = sample_texts(lines, sample_size)
    if not texts:
        return Detection(PLAIN, 0.0)
    found = _detect(texts)
    indent = common_indent(texts) if found.name == PLAIN else ""
    if indent:  # read again after the indent: the lines may have a header under it
        n = len(indent)
        dedented = _detect([t[n:] if t.startswith(indent) else t for t in texts])
        if dedented.name != PLAIN:
            return dedented._replace(indent=indent)
    return found


def _detect(texts: list[str]) -> Detection:
    declared = next((t for t in texts if t.startswith(W3C_FIELDS)), "")
    if declared:  # the file names its own columns
        parse = w3c_parser(declared)
        share = sum(1 for t in texts if parse(t) is not None) / len(texts)
        if share >= 0.5:
            return Detection(W3C, round(share, 3), declared=declared)
    hits: dict[str, int] = {}
    considered = 0
    tracker = StackTracker()
    for text in texts:
        matched = False
        for f in candidates(text):
            if f.parse(text) is not None:
                hits[f.name] = hits.get(f.name, 0) + 1
                matched = True
        if matched:
            considered += 1
            tracker.reset()
        elif not (
            looks_continued(text)
            or tracker.continues(text)
            or text.startswith(TRACEBACK)
            or tracker.opens(text)
            or starts_exception(text)
        ):
            considered += 1
    heads = [t for t in texts if not looks_continued(t) or aligned_level(t)]
    if not hits:
        header = infer(heads)
        stamped = [t for t in heads if starts_record(t)]
        if header is None and len(stamped) >= max(2, STAMPED * len(heads)):
            header = infer(stamped)  # a header line, then its message on the next (JUL)
        if header is not None and header.dated:
            assert header.parse is not None
            trailer = trailers.learn(header.parse, heads)
            return Detection(INFERRED, round(header.share, 3), header, trailer)
        return Detection(PLAIN, 1.0)
    top = max(hits.values())
    close = [name for name, n in hits.items() if n >= NEAR_TIE * top]
    best = max(close, key=lambda name: (BY_NAME[name].specificity, hits[name]))
    header = infer(heads) if best not in SPECIAL else None
    if (
        header is not None
        and header.parse is not None
        and _explained(header.parse, texts, BY_NAME[best].parse)
        + (best in SHAPES_ONLY)  # a shape that knows nothing more loses a tie to the file's own
        > _explained(BY_NAME[best].parse, texts, header.parse)
    ):
        return Detection(
            INFERRED, round(header.share, 3), header, trailers.learn(header.parse, heads)
        )
    confidence = round(min(1.0, hits[best] / max(considered, 1)), 3)
    trailer = trailers.learn(BY_NAME[best].parse, heads) if best not in SPECIAL else ""
    inner = learn_inner(BY_NAME[best].parse, texts) if best in WRAPPERS else ()
    return Detection(best, confidence, None, trailer, inner=inner)
