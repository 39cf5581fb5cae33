"""The rule catalogue: TOML data files → validated, compiled `Rule`s.

A rule file holds `[[rule]]` tables (see apps/core/rules/catalogue/README.md for the schema):

    [[rule]]
    id = "db-too-many-connections.postgres"
    category = "db-too-many-connections"
    severity = "critical"
    title = "PostgreSQL refused a connection: too many clients"
    matcher.regex = 'FATAL:\\s+sorry, too many clients already'
    matcher.keywords = ["too many clients"]       # optional: derived from the regex when absent
    threshold = { count = 20, window = 60 }      # optional
    co_signals = { categories = ["pool-exhausted"] }
    explanation = "..."
    remediation = "..."
    examples.positive = ["..."]
    examples.negative = ["..."]

Built-in patterns compile with Python `re` (reviewed); user rules (`extra_rules`) compile with
RE2 and are rejected with a clear message when RE2 refuses them. Everything that is wrong with a
rule is reported at load time, never at match time.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from apps.core.logparse.record import LEVELS, Record

from .finding import Severity
from .patterns import (
    MAX_SCAN_CHARS,
    Pattern,
    compile_builtin_pattern,
    compile_user_pattern,
    derive_keywords,
)

CATALOGUE_DIR = Path(__file__).resolve().parent / "catalogue"

SLUG_RE = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
RULE_ID_RE = re.compile(r"^[a-z0-9]+(?:[-_.][a-z0-9]+)*$")
LEVEL_RANK = {name: i for i, name in enumerate(LEVELS)}
SEVERITY_RANK = {Severity.INFO: 0, Severity.WARNING: 1, Severity.ERROR: 2, Severity.CRITICAL: 3}

_RULE_KEYS = {
    "id",
    "category",
    "severity",
    "title",
    "matcher",
    "threshold",
    "co_signals",
    "explanation",
    "remediation",
    "examples",
    "confidence",
    "enabled",
}
_MATCHER_KEYS = {
    "regex",
    "exclude",
    "keywords",
    "flashpoint",
    "levels",
    "min_level",
    "service",
    "status",
    "exit_code",
}
# Where structured records carry an HTTP status / a process exit code.
STATUS_KEYS = ("status", "status_code", "statusCode", "http_status", "http.status_code", "code")
EXIT_CODE_KEYS = ("exit_code", "exitCode", "exit_status", "exitStatus", "exit.code")


class CatalogueError(ValueError):
    """A rule (or several) failed validation; the message lists every problem, one per line."""

    def __init__(self, problems: Sequence[str]) -> None:
        self.problems = list(problems)
        super().__init__("\n".join(self.problems))


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
            and LEVEL_RANK.get(record.level, 99) < LEVEL_RANK[self.min_level]
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


# --- loading -------------------------------------------------------------------------------


class Catalogue:
    """An ordered, validated set of rules. Build with `Catalogue.load(...)`."""

    def __init__(self, rules: Sequence[Rule]) -> None:
        self.rules: tuple[Rule, ...] = tuple(rules)
        self._by_id = {r.id: r for r in self.rules}

    def __len__(self) -> int:
        return len(self.rules)

    def __iter__(self):
        return iter(self.rules)

    def __getitem__(self, rule_id: str) -> Rule:
        return self._by_id[rule_id]

    def __contains__(self, rule_id: object) -> bool:
        return rule_id in self._by_id

    @property
    def categories(self) -> set[str]:
        return {r.category for r in self.rules}

    @classmethod
    def load(
        cls,
        paths: Iterable[str | Path] | None = None,
        extra_rules: Iterable[Mapping[str, Any]] = (),
        disabled: Iterable[str] = (),
        overrides: Mapping[str, Mapping[str, Any]] | None = None,
    ) -> Catalogue:
        """Load built-in rule files (default: every apps/core/rules/catalogue/*.toml) plus user rules.

        `extra_rules`: custom rules as mappings of the same schema (patterns compiled with RE2).
        `disabled`: rule ids or category slugs to leave out.
        `overrides`: {rule_id: {"severity": …, "threshold": {"count": …, "window": …} | None,
        "enabled": bool}} — tenant tuning of built-in rules.
        """
        files = sorted(CATALOGUE_DIR.glob("*.toml")) if paths is None else [Path(p) for p in paths]
        problems: list[str] = []
        rules: list[Rule] = []
        for path in files:
            try:
                data = tomllib.loads(path.read_text(encoding="utf-8"))
            except (OSError, tomllib.TOMLDecodeError) as exc:
                problems.append(f"{path.name}: cannot read: {exc}")
                continue
            unknown = set(data) - {"rule"}
            if unknown:
                problems.append(f"{path.name}: unknown top-level keys {sorted(unknown)}")
            for i, raw in enumerate(data.get("rule", [])):
                rule = _build_rule(raw, origin=path.name, index=i, user=False, problems=problems)
                if rule is not None and raw.get("enabled", True):
                    rules.append(rule)
        for i, raw in enumerate(extra_rules):
            rule = _build_rule(raw, origin="custom", index=i, user=True, problems=problems)
            if rule is not None and raw.get("enabled", True):
                rules.append(rule)
        seen: set[str] = set()
        for rule in rules:
            if rule.id in seen:
                problems.append(f"{rule.origin}: rule {rule.id!r}: duplicate id")
            seen.add(rule.id)
        for rule_id, override in (overrides or {}).items():
            if rule_id not in seen:
                problems.append(f"overrides: unknown rule id {rule_id!r}")
                continue
            _check_override(rule_id, override, problems)
        if problems:
            raise CatalogueError(problems)
        off = set(disabled)
        out: list[Rule] = []
        for rule in rules:
            if rule.id in off or rule.category in off:
                continue
            tuning = (overrides or {}).get(rule.id)
            if tuning:
                if tuning.get("enabled") is False:
                    continue
                rule = _apply_override(rule, tuning)
            out.append(rule)
        return cls(out)


def build_user_rule(raw: Mapping[str, Any]) -> Rule:
    """Validate and compile one custom rule (RE2 patterns). Raise CatalogueError when invalid."""
    problems: list[str] = []
    rule = _build_rule(raw, origin="custom", index=0, user=True, problems=problems)
    if problems or rule is None:
        raise CatalogueError(problems or ["invalid rule"])
    return rule


def _check_override(rule_id: str, override: Mapping[str, Any], problems: list[str]) -> None:
    where = f"overrides: rule {rule_id!r}"
    unknown = set(override) - {"severity", "threshold", "enabled"}
    if unknown:
        problems.append(f"{where}: unknown keys {sorted(unknown)}")
    if "severity" in override and override["severity"] not in {s.value for s in Severity}:
        problems.append(f"{where}: unknown severity {override['severity']!r}")
    if override.get("threshold") is not None:
        _parse_threshold(override["threshold"], where, problems)


def _apply_override(rule: Rule, override: Mapping[str, Any]) -> Rule:
    changes: dict[str, Any] = {}
    if "severity" in override:
        changes["severity"] = Severity(override["severity"])
    if "threshold" in override:
        changes["threshold"] = _parse_threshold(override["threshold"], "", [])
    return replace(rule, **changes) if changes else rule


def _parse_threshold(raw: Any, where: str, problems: list[str]) -> Threshold | None:
    if raw is None:
        return None
    if not isinstance(raw, Mapping) or set(raw) - {"count", "window"}:
        problems.append(f"{where}: threshold must be {{ count = N, window = SECONDS }}")
        return None
    count, window = raw.get("count"), raw.get("window", 60)
    if not isinstance(count, int) or isinstance(count, bool) or count < 1:
        problems.append(f"{where}: threshold.count must be an integer >= 1")
        return None
    if not isinstance(window, int | float) or isinstance(window, bool) or window <= 0:
        problems.append(f"{where}: threshold.window must be a positive number of seconds")
        return None
    return Threshold(count=count, window=float(window))


def _compile(pattern: Any, *, user: bool, where: str, problems: list[str]):
    if not isinstance(pattern, str) or not pattern:
        problems.append(f"{where}: must be a non-empty string")
        return None
    if user:
        try:
            return compile_user_pattern(pattern)
        except ValueError as exc:
            problems.append(f"{where}: {exc}")
            return None
    try:
        return compile_builtin_pattern(pattern)
    except re.error as exc:
        problems.append(f"{where}: invalid regex: {exc}")
        return None


def _examples(raw: Any, where: str, problems: list[str]) -> tuple[Example, ...]:
    if raw is None:
        return ()
    if not isinstance(raw, list):
        problems.append(f"{where}: must be a list")
        return ()
    out = []
    for item in raw:
        if isinstance(item, str):
            out.append(Example(item))
        elif isinstance(item, Mapping) and isinstance(item.get("message"), str):
            extra = set(item) - {"message", "level", "service", "attrs"}
            if extra:
                problems.append(f"{where}: unknown example keys {sorted(extra)}")
            out.append(
                Example(
                    item["message"],
                    level=item.get("level"),
                    service=item.get("service"),
                    attrs=dict(item.get("attrs", {})),
                )
            )
        else:
            problems.append(f"{where}: each example is a string or {{ message = …, … }}")
    return tuple(out)


def _build_rule(
    raw: Any, *, origin: str, index: int, user: bool, problems: list[str]
) -> Rule | None:
    if not isinstance(raw, Mapping):
        problems.append(f"{origin}: rule #{index + 1}: must be a table")
        return None
    rid = raw.get("id")
    where = f"{origin}: rule {rid!r}" if rid else f"{origin}: rule #{index + 1}"
    start = len(problems)
    if not isinstance(rid, str) or not RULE_ID_RE.match(rid):
        problems.append(f"{where}: id must be lowercase words joined by '-', '_' or '.'")
    unknown = set(raw) - _RULE_KEYS
    if unknown:
        problems.append(f"{where}: unknown keys {sorted(unknown)}")
    category = raw.get("category")
    if not isinstance(category, str) or not SLUG_RE.match(category):
        problems.append(f"{where}: category must be a slug such as 'disk-full'")
    severity = raw.get("severity")
    if severity not in {s.value for s in Severity}:
        problems.append(
            f"{where}: unknown severity {severity!r} (expected info, warning, error, critical)"
        )
    problems.extend(
        f"{where}: {key} is required"
        for key in ("title", "explanation", "remediation")
        if not isinstance(text := raw.get(key), str) or not text.strip()
    )

    matcher = raw.get("matcher", {})
    if not isinstance(matcher, Mapping):
        problems.append(f"{where}: matcher must be a table")
        matcher = {}
    unknown = set(matcher) - _MATCHER_KEYS
    if unknown:
        problems.append(f"{where}: unknown matcher keys {sorted(unknown)}")
    regex = flashpoint = service = exclude = None
    if "regex" in matcher:
        regex = _compile(
            matcher["regex"], user=user, where=f"{where}: matcher.regex", problems=problems
        )
    if "exclude" in matcher:
        exclude = _compile(
            matcher["exclude"], user=user, where=f"{where}: matcher.exclude", problems=problems
        )
    if "flashpoint" in matcher:
        flashpoint = _compile(
            matcher["flashpoint"],
            user=user,
            where=f"{where}: matcher.flashpoint",
            problems=problems,
        )
    if "service" in matcher:
        service = _compile(
            matcher["service"], user=user, where=f"{where}: matcher.service", problems=problems
        )
    keywords: tuple[str, ...] = ()
    if "keywords" in matcher:
        kws = matcher["keywords"]
        if (
            not isinstance(kws, list)
            or not kws
            or not all(isinstance(k, str) and len(k) >= 3 and "\n" not in k for k in kws)
        ):
            problems.append(f"{where}: matcher.keywords must be a list of literals (>= 3 chars)")
        else:
            keywords = tuple(kws)
    elif isinstance(matcher.get("regex"), str):
        keywords = derive_keywords(matcher["regex"])
    levels = None
    if "levels" in matcher:
        lv = matcher["levels"]
        if not isinstance(lv, list) or not lv or any(x not in LEVEL_RANK for x in lv):
            problems.append(f"{where}: matcher.levels must be a list drawn from {list(LEVELS)}")
        else:
            levels = frozenset(lv)
    min_level = matcher.get("min_level")
    if min_level is not None and min_level not in LEVEL_RANK:
        problems.append(f"{where}: matcher.min_level must be one of {list(LEVELS)}")
    status = None
    if "status" in matcher:
        st = matcher["status"]
        if isinstance(st, int) and not isinstance(st, bool):
            st = [st, st]
        if (
            not isinstance(st, list)
            or len(st) != 2
            or not all(isinstance(x, int) and 100 <= x <= 599 for x in st)
            or st[0] > st[1]
        ):
            problems.append(
                f"{where}: matcher.status must be a code or [low, high] within 100..599"
            )
        else:
            status = (st[0], st[1])
    exit_codes = None
    if "exit_code" in matcher:
        ec = matcher["exit_code"]
        ec = [ec] if isinstance(ec, int) else ec
        if not isinstance(ec, list) or not ec or not all(isinstance(x, int) for x in ec):
            problems.append(f"{where}: matcher.exit_code must be an integer or a list of them")
        else:
            exit_codes = frozenset(ec)
    if regex is None and status is None and exit_codes is None and "regex" not in matcher:
        problems.append(f"{where}: matcher needs a regex, a status or an exit_code condition")

    threshold = _parse_threshold(raw.get("threshold"), f"{where}", problems)
    co = raw.get("co_signals", {})
    co_categories: tuple[str, ...] = ()
    co_regex = None
    if not isinstance(co, Mapping) or set(co) - {"categories", "regex"}:
        problems.append(f"{where}: co_signals must be {{ categories = [...], regex = '...' }}")
    else:
        cats = co.get("categories", [])
        if not isinstance(cats, list) or not all(
            isinstance(c, str) and SLUG_RE.match(c) for c in cats
        ):
            problems.append(f"{where}: co_signals.categories must be a list of slugs")
        else:
            co_categories = tuple(cats)
        if "regex" in co:
            co_regex = _compile(
                co["regex"], user=user, where=f"{where}: co_signals.regex", problems=problems
            )
    confidence = raw.get("confidence", 0.6)
    if not isinstance(confidence, int | float) or not 0 < confidence <= 1:
        problems.append(f"{where}: confidence must be in (0, 1]")
    examples = raw.get("examples", {})
    if not isinstance(examples, Mapping) or set(examples) - {"positive", "negative"}:
        problems.append(f"{where}: examples must be {{ positive = [...], negative = [...] }}")
        examples = {}
    positive = _examples(examples.get("positive"), f"{where}: examples.positive", problems)
    negative = _examples(examples.get("negative"), f"{where}: examples.negative", problems)
    if not user and not positive:
        problems.append(f"{where}: built-in rules need at least one positive example")
    if len(problems) > start:
        return None
    assert isinstance(rid, str) and isinstance(category, str) and isinstance(severity, str)
    return Rule(
        id=rid,
        category=category,
        severity=Severity(severity),
        title=raw["title"].strip(),
        explanation=" ".join(raw["explanation"].split()),
        remediation=" ".join(raw["remediation"].split()),
        regex=regex,
        exclude=exclude,
        keywords=keywords,
        flashpoint=flashpoint,
        levels=levels,
        min_level=min_level,
        service=service,
        status=status,
        exit_codes=exit_codes,
        threshold=threshold,
        co_signal_categories=co_categories,
        co_signal_regex=co_regex,
        confidence=float(confidence),
        positive=positive,
        negative=negative,
        user=user,
        origin=origin,
    )
