"""A compiled rule and what it reads from a record: the value types of the catalogue.

`Rule.matches` is the full check of one record; `scan_text` is the text the patterns run on
(the message plus error-ish string attrs, bounded). catalogue.py loads rules from TOML files
(build.py validates each table); the engine runs them.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from apps.core.logparse.record import Record
from apps.core.vocabulary import LEVEL_NUMBER

from .finding import Severity
from .patterns import MAX_SCAN_CHARS, Pattern

# Where structured records carry an HTTP status / a process exit code.
STATUS_KEYS = ("status", "status_code", "statusCode", "http_status", "http.status_code", "code")
EXIT_CODE_KEYS = ("exit_code", "exitCode", "exit_status", "exitStatus", "exit.code")


@dataclass(frozen=True, slots=True)
class Threshold:
    count: int  # matches needed …
    window: float  # … within this many seconds (records without a timestamp count as one window)


@dataclass(frozen=True, slots=True)
class Example:
    message: str
    level: str | None = None
    service: str | None = None
    attrs: Mapping[str, Any] = field(default_factory=dict)

    def to_record(self, line: int = 1, source: str = "example") -> Record:
        return Record(
            line=line,
            end_line=line + self.message.count("\n"),
            raw=self.message,
            message=self.message,
            level=self.level,
            service=self.service,
            attrs=dict(self.attrs),
            source=source,
        )


@dataclass(frozen=True, slots=True)
class Rule:
    id: str
    category: str
    severity: Severity
    title: str
    explanation: str
    remediation: str
    regex: Pattern | None = None  # None = field conditions only
    exclude: Pattern | None = None  # a line matching this never matches the rule
    keywords: tuple[str, ...] = ()  # any-of literals required before `regex` runs; () = always
    flashpoint: Pattern | None = None  # lines matching this are the "most telling" evidence
    levels: frozenset[str] | None = None  # record.level must be one of these
    min_level: str | None = None  # record.level, when known, must be at least this
    service: Pattern | None = None  # pattern the record's service must match
    status: tuple[int, int] | None = None  # inclusive HTTP status range (from attrs)
    exit_codes: frozenset[int] | None = None  # process exit code (from attrs)
    threshold: Threshold | None = None
    co_signal_categories: tuple[str, ...] = ()
    co_signal_regex: Pattern | None = None
    confidence: float = 0.6
    positive: tuple[Example, ...] = ()
    negative: tuple[Example, ...] = ()
    user: bool = False  # custom (tenant) rule: patterns are RE2
    origin: str = ""  # file name or "custom"

    def matches(self, record: Record, *, text: str | None = None) -> bool:
        """Full check of one record (without the prefilter). `text` = bounded message."""
        if self.levels is not None and record.level not in self.levels:
            return False
        if (
            self.min_level is not None
            and record.level is not None
            and LEVEL_NUMBER.get(record.level, 99) < LEVEL_NUMBER[self.min_level]
        ):
            return False
        if self.service is not None and (
            record.service is None or not self.service.search(record.service)
        ):
            return False
        if self.status is not None:
            code = _int_attr(record.attrs, STATUS_KEYS)
            if code is None or not self.status[0] <= code <= self.status[1]:
                return False
        if self.exit_codes is not None and _int_attr(record.attrs, EXIT_CODE_KEYS) not in (
            self.exit_codes
        ):
            return False
        if self.regex is not None:
            if text is None:
                text = scan_text(record)
            if not self.regex.search(text):
                return False
            if self.exclude is not None and self.exclude.search(text):
                return False
        return True

    def prefilter_ok(self, text: str) -> bool:
        """The keyword prefilter for a single message (the engine does this in bulk)."""
        if not self.keywords:
            return True
        folded = text.casefold()
        return any(k.casefold() in folded for k in self.keywords)


def _int_attr(attrs: Mapping[str, Any], keys: Iterable[str]) -> int | None:
    if not attrs:
        return None
    for key in keys:
        value = attrs.get(key)
        if value is None:
            continue
        try:
            return int(value)
        except (TypeError, ValueError):
            continue
    return None


# Structured records often keep the telling text outside `message` ({"msg": "charge failed",
# "error": "x509: certificate has expired …"}): string attrs whose key mentions one of these
# are scanned too, after the message.
_TEXT_ATTR_HINTS = (
    "err",
    "exc",
    "stack",
    "trace",
    "reason",
    "cause",
    "detail",
    "body",
    "msg",
    "message",
)


_TEXT_KEYS: dict[str, bool] = {}
# Attr key sequences (a record format has few) → the keys among them that name text.
TEXT_KEYS_BY_SIGNATURE: dict[tuple, tuple] = {(): ()}


def _is_text_key(key: str) -> bool:
    known = _TEXT_KEYS.get(key)
    if known is None:
        lowered = key.lower()
        known = any(h in lowered for h in _TEXT_ATTR_HINTS)
        if len(_TEXT_KEYS) < 10_000:
            _TEXT_KEYS[key] = known
    return known


def _text_keys(keys: tuple) -> tuple:
    out = tuple(k for k in keys if isinstance(k, str) and _is_text_key(k))
    if len(TEXT_KEYS_BY_SIGNATURE) < 10_000:
        TEXT_KEYS_BY_SIGNATURE[keys] = out
    return out


def scan_text(record: Record) -> str:
    """The text rules run on: the message plus error-ish string attrs, bounded."""
    text = record.message
    attrs = record.attrs
    if attrs:
        keys = tuple(attrs)
        text_keys = TEXT_KEYS_BY_SIGNATURE.get(keys)
        if text_keys is None:
            text_keys = _text_keys(keys)
        if text_keys:
            extra = [
                value
                for key in text_keys
                if isinstance(value := attrs[key], str) and value and value != text
            ]
            if extra:
                text = "\n".join([text, *extra])
    return text[:MAX_SCAN_CHARS]
