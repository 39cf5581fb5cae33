"""One `[[rule]]` table (TOML, or a custom rule from the UI) → a validated, compiled `Rule`.

Every problem with a table is appended to `problems`, one readable line each, and nothing is
raised: the catalogue reports all of them at load time, never at match time. Built-in patterns
compile with Python `re` (reviewed); user rules compile with RE2 only.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from apps.core.vocabulary import LEVEL_NUMBER, LEVELS

from .finding import Severity
from .patterns import Pattern, compile_builtin_pattern, compile_user_pattern, derive_keywords
from .rule import Example, Rule, Threshold

SLUG_RE = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
RULE_ID_RE = re.compile(r"^[a-z0-9]+(?:[-_.][a-z0-9]+)*$")

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
_TEXTS = ("title", "explanation", "remediation")


class CatalogueError(ValueError):
    """A rule (or several) failed validation; the message lists every problem, one per line."""

    def __init__(self, problems: Sequence[str]) -> None:
        self.problems = list(problems)
        super().__init__("\n".join(self.problems))


def build_rule(
    raw: Any, *, origin: str, index: int, user: bool, problems: list[str]
) -> Rule | None:
    """The rule `raw` describes, or None when anything about it is wrong (see `problems`)."""
    if not isinstance(raw, Mapping):
        problems.append(f"{origin}: rule #{index + 1}: must be a table")
        return None
    rid = raw.get("id")
    where = f"{origin}: rule {rid!r}" if rid else f"{origin}: rule #{index + 1}"
    start = len(problems)
    _check_head(raw, where, problems)
    matcher = _matcher(raw.get("matcher", {}), where, user, problems)
    threshold = parse_threshold(raw.get("threshold"), f"{where}", problems)
    co_categories, co_regex = _co_signals(raw.get("co_signals", {}), where, user, problems)
    confidence = raw.get("confidence", 0.6)
    if not isinstance(confidence, int | float) or not 0 < confidence <= 1:
        problems.append(f"{where}: confidence must be in (0, 1]")
    positive, negative = _rule_examples(raw.get("examples", {}), where, problems)
    if not user and not positive:
        problems.append(f"{where}: built-in rules need at least one positive example")
    if len(problems) > start:
        return None
    return Rule(
        id=raw["id"],
        category=raw["category"],
        severity=Severity(raw["severity"]),
        title=raw["title"].strip(),
        explanation=" ".join(raw["explanation"].split()),
        remediation=" ".join(raw["remediation"].split()),
        threshold=threshold,
        co_signal_categories=co_categories,
        co_signal_regex=co_regex,
        confidence=float(confidence),
        positive=positive,
        negative=negative,
        user=user,
        origin=origin,
        **matcher,
    )


def _check_head(raw: Mapping[str, Any], where: str, problems: list[str]) -> None:
    """The rule's id, keys, category, severity and texts."""
    rid = raw.get("id")
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
        for key in _TEXTS
        if not isinstance(text := raw.get(key), str) or not text.strip()
    )


def _matcher(matcher: Any, where: str, user: bool, problems: list[str]) -> dict[str, Any]:
    """The `matcher` table → the Rule fields it sets (patterns compiled, conditions checked)."""
    if not isinstance(matcher, Mapping):
        problems.append(f"{where}: matcher must be a table")
        matcher = {}
    unknown = set(matcher) - _MATCHER_KEYS
    if unknown:
        problems.append(f"{where}: unknown matcher keys {sorted(unknown)}")
    fields: dict[str, Any] = {}
    for key in ("regex", "exclude", "flashpoint", "service"):
        if key in matcher:
            fields[key] = compile_pattern(
                matcher[key], user=user, where=f"{where}: matcher.{key}", problems=problems
            )
    fields["keywords"] = _keywords(matcher, where, problems)
    fields["levels"], fields["min_level"] = _levels(matcher, where, problems)
    fields["status"] = _status(matcher, where, problems)
    fields["exit_codes"] = _exit_codes(matcher, where, problems)
    if (
        fields.get("regex") is None
        and fields["status"] is None
        and fields["exit_codes"] is None
        and "regex" not in matcher
    ):
        problems.append(f"{where}: matcher needs a regex, a status or an exit_code condition")
    return fields


def _keywords(matcher: Mapping[str, Any], where: str, problems: list[str]) -> tuple[str, ...]:
    """The literals the prefilter looks for: as given, else derived from the regex."""
    if "keywords" in matcher:
        kws = matcher["keywords"]
        if (
            not isinstance(kws, list)
            or not kws
            or not all(isinstance(k, str) and len(k) >= 3 and "\n" not in k for k in kws)
        ):
            problems.append(f"{where}: matcher.keywords must be a list of literals (>= 3 chars)")
            return ()
        return tuple(kws)
    if isinstance(matcher.get("regex"), str):
        return derive_keywords(matcher["regex"])
    return ()


def _levels(
    matcher: Mapping[str, Any], where: str, problems: list[str]
) -> tuple[frozenset[str] | None, str | None]:
    """(`levels`, `min_level`): the record levels a rule accepts."""
    levels = None
    if "levels" in matcher:
        lv = matcher["levels"]
        if not isinstance(lv, list) or not lv or any(x not in LEVEL_NUMBER for x in lv):
            problems.append(f"{where}: matcher.levels must be a list drawn from {list(LEVELS)}")
        else:
            levels = frozenset(lv)
    min_level = matcher.get("min_level")
    if min_level is not None and min_level not in LEVEL_NUMBER:
        problems.append(f"{where}: matcher.min_level must be one of {list(LEVELS)}")
    return levels, min_level


def _status(matcher: Mapping[str, Any], where: str, problems: list[str]) -> tuple[int, int] | None:
    """An HTTP status code or [low, high] range within 100..599."""
    if "status" not in matcher:
        return None
    st = matcher["status"]
    if isinstance(st, int) and not isinstance(st, bool):
        st = [st, st]
    if (
        not isinstance(st, list)
        or len(st) != 2
        or not all(isinstance(x, int) and 100 <= x <= 599 for x in st)
        or st[0] > st[1]
    ):
        problems.append(f"{where}: matcher.status must be a code or [low, high] within 100..599")
        return None
    return (st[0], st[1])


def _exit_codes(
    matcher: Mapping[str, Any], where: str, problems: list[str]
) -> frozenset[int] | None:
    """A process exit code or a list of them."""
    if "exit_code" not in matcher:
        return None
    ec = matcher["exit_code"]
    ec = [ec] if isinstance(ec, int) else ec
    if not isinstance(ec, list) or not ec or not all(isinstance(x, int) for x in ec):
        problems.append(f"{where}: matcher.exit_code must be an integer or a list of them")
        return None
    return frozenset(ec)


def _co_signals(
    co: Any, where: str, user: bool, problems: list[str]
) -> tuple[tuple[str, ...], Pattern | None]:
    """(categories, regex) of the findings that, seen nearby, make this one more likely."""
    co_categories: tuple[str, ...] = ()
    co_regex = None
    if not isinstance(co, Mapping) or set(co) - {"categories", "regex"}:
        problems.append(f"{where}: co_signals must be {{ categories = [...], regex = '...' }}")
        return co_categories, co_regex
    cats = co.get("categories", [])
    if not isinstance(cats, list) or not all(isinstance(c, str) and SLUG_RE.match(c) for c in cats):
        problems.append(f"{where}: co_signals.categories must be a list of slugs")
    else:
        co_categories = tuple(cats)
    if "regex" in co:
        co_regex = compile_pattern(
            co["regex"], user=user, where=f"{where}: co_signals.regex", problems=problems
        )
    return co_categories, co_regex


def _rule_examples(
    examples: Any, where: str, problems: list[str]
) -> tuple[tuple[Example, ...], tuple[Example, ...]]:
    """(positive, negative) examples: lines the rule must and must not match."""
    if not isinstance(examples, Mapping) or set(examples) - {"positive", "negative"}:
        problems.append(f"{where}: examples must be {{ positive = [...], negative = [...] }}")
        examples = {}
    positive = _examples(examples.get("positive"), f"{where}: examples.positive", problems)
    negative = _examples(examples.get("negative"), f"{where}: examples.negative", problems)
    return positive, negative


def parse_threshold(raw: Any, where: str, problems: list[str]) -> Threshold | None:
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


def compile_pattern(pattern: Any, *, user: bool, where: str, problems: list[str]) -> Pattern | None:
    """A built-in pattern with `re` where RE2 cannot; a user pattern with RE2 only."""
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
