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

import tomllib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from apps.core.vocabulary import Severity

from .build import SLUG_RE, CatalogueError, build_rule, parse_threshold
from .rule import (
    EXIT_CODE_KEYS,
    STATUS_KEYS,
    TEXT_KEYS_BY_SIGNATURE,
    Example,
    Rule,
    Threshold,
    scan_text,
)

__all__ = [
    "CATALOGUE_DIR",
    "EXIT_CODE_KEYS",
    "SEVERITY_RANK",
    "SLUG_RE",
    "STATUS_KEYS",
    "TEXT_KEYS_BY_SIGNATURE",
    "Catalogue",
    "CatalogueError",
    "Example",
    "Rule",
    "Threshold",
    "build_user_rule",
    "scan_text",
]

CATALOGUE_DIR = Path(__file__).resolve().parent / "catalogue"

# The vocabulary's severity order under the name apps.rules imports.
SEVERITY_RANK = {severity: severity.rank for severity in Severity}


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
                rule = build_rule(raw, origin=path.name, index=i, user=False, problems=problems)
                if rule is not None and raw.get("enabled", True):
                    rules.append(rule)
        for i, raw in enumerate(extra_rules):
            rule = build_rule(raw, origin="custom", index=i, user=True, problems=problems)
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
    rule = build_rule(raw, origin="custom", index=0, user=True, problems=problems)
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
        parse_threshold(override["threshold"], where, problems)


def _apply_override(rule: Rule, override: Mapping[str, Any]) -> Rule:
    changes: dict[str, Any] = {}
    if "severity" in override:
        changes["severity"] = Severity(override["severity"])
    if "threshold" in override:
        changes["threshold"] = parse_threshold(override["threshold"], "", [])
    return replace(rule, **changes) if changes else rule
