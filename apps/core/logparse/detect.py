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
from .header import Header, infer
from .multiline import TRACEBACK, StackTracker, looks_continued, starts_exception
from .record import Line

SAMPLE_LINES = 200
NEAR_TIE = 0.8


INFERRED = "inferred"
# Catalogue formats that are only a shape (a time, maybe a level, a component): the header
# learnt from the file itself wins a tie with them.
SHAPES_ONLY = frozenset(("generic", "go-stdlib", "python-basic"))
W3C = "w3c"
# Catalogue formats that a learnt header never replaces: their lines are more than a header
# and a message (a wrapped line, JSON, key=value pairs, access-log fields, CSV, tables).
SPECIAL = frozenset(
    (
        "docker-json", "journald-json", "json", "cri", "compose", "syslog-5424", "access",
        "envoy", "postgres-csv", "logrus", "logfmt", "kubectl-events", "kubectl-describe",
    )
)  # fmt: skip


class Detection(NamedTuple):
    name: str  # a catalogue format name, "inferred", "w3c" or "plain"
    confidence: float  # 0..1
    header: Header | None = None  # the learnt header, when name is "inferred"
    trailer: str = ""  # what the lines end with (trailers.py): "logger", "json" or ""
    declared: str = ""  # a W3C log's `#Fields:` directive, when name is "w3c"

    @property
    def format(self) -> Format | None:
        if self.declared:
            return Format(W3C, w3c_parser(self.declared), (), specificity=10)
        f = header_format(self.header) if self.header is not None else BY_NAME.get(self.name)
        if f is not None and self.trailer:
            return replace(f, parse=trailers.stripping(f.parse, self.trailer))
        return f

    @property
    def loghub(self) -> str:
        """The header in the loghub syntax (learnt ones only)."""
        return self.header.loghub() if self.header is not None else ""


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


def detect_format(lines: Iterable[Line | str], *, sample_size: int = SAMPLE_LINES) -> Detection:
    """(format name, confidence) for the first `sample_size` non-empty lines."""
    texts = sample_texts(lines, sample_size)
    if not texts:
        return Detection(PLAIN, 0.0)
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
    heads = [t for t in texts if not looks_continued(t)]
    if not hits:
        header = infer(heads)
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
    return Detection(best, confidence, None, trailer)
