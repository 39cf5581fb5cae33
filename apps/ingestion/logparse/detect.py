"""Detect a source's format from a sample of its lines.

Every format in the catalogue is tried on every sampled line (only the formats whose first
character fits). The winner is the most specific format among those that parse at least
NEAR_TIE of what the best one parses: a CRI file is also "generic" on every line, an nginx error
log is also Go stdlib; the narrower reading says more. Confidence is the share of sampled lines,
not counting stack-trace and indented lines, that the winner parses.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import NamedTuple

from .formats import BY_NAME, PLAIN, candidates
from .multiline import TRACEBACK, StackTracker, looks_continued, starts_exception
from .record import Line

SAMPLE_LINES = 200
NEAR_TIE = 0.8


class Detection(NamedTuple):
    name: str  # a catalogue format name, or "plain"
    confidence: float  # 0..1


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
    if not hits:
        return Detection(PLAIN, 1.0)
    top = max(hits.values())
    close = [name for name, n in hits.items() if n >= NEAR_TIE * top]
    best = max(close, key=lambda name: (BY_NAME[name].specificity, hits[name]))
    return Detection(best, round(min(1.0, hits[best] / max(considered, 1)), 3))
