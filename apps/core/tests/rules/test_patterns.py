"""User patterns (RE2 only, clear rejections) and keyword derivation."""

from __future__ import annotations

import time

import pytest

from apps.core.rules import Catalogue, CatalogueError, derive_keywords, validate_user_pattern
from apps.core.rules.patterns import compile_user_pattern

from .factories import rec


@pytest.mark.parametrize(
    ("pattern", "fragment"),
    [
        ("", "empty"),
        ("(unclosed", "Invalid pattern: missing )"),
        (r"(a)\1", "Backreferences"),
        (r"(?P<x>a)(?P=x)", "Backreferences"),
        (r"(?=foo)bar", "Look-ahead"),
        (r"(?<!foo)bar", "Look-ahead"),
        (r"a++", "Invalid pattern: bad repetition operator"),
        ("a{1001}", "Invalid pattern"),
        ("(?:abc|def|ghi){900}", "too complex"),
        ("x*", "matches an empty line"),
        ("a" * 1001, "too long"),
    ],
)
def test_user_pattern_rejected_with_a_clear_message(pattern, fragment):
    error = validate_user_pattern(pattern)
    assert error is not None
    assert fragment in error


@pytest.mark.parametrize("pattern", [r"payment failed for order \d+", r"(?i)timeout", "(a+)+$"])
def test_user_pattern_accepted(pattern):
    assert validate_user_pattern(pattern) is None


def test_catastrophic_pattern_runs_in_linear_time_on_re2():
    compiled = compile_user_pattern("(a+)+$")
    text = "a" * 100_000 + "!"
    start = time.perf_counter()
    assert not compiled.search(text)
    assert time.perf_counter() - start < 0.5
    assert compiled.engine == "re2"


def test_user_rule_in_catalogue_uses_re2_and_reports_problems():
    user = {
        "id": "custom.payment-failed",
        "category": "payment-failed",
        "severity": "error",
        "title": "Payment failed",
        "explanation": "The PSP declined or errored.",
        "remediation": "Check the PSP status page.",
        "matcher": {"regex": r"payment failed for order \d+", "service": "^checkout$"},
    }
    cat = Catalogue.load(paths=[], extra_rules=[user])
    rule = cat["custom.payment-failed"]
    assert rule.user and rule.regex.engine == "re2"
    assert rule.keywords == ("payment failed for order ",)
    assert rule.matches(rec("payment failed for order 42", service="checkout"))
    assert not rule.matches(rec("payment failed for order 42", service="web"))

    bad = {**user, "matcher": {"regex": r"(\w+) \1"}}
    with pytest.raises(CatalogueError) as err:
        Catalogue.load(paths=[], extra_rules=[bad])
    assert "custom: rule 'custom.payment-failed': matcher.regex: Backreferences" in str(err.value)


@pytest.mark.parametrize(
    ("pattern", "keywords"),
    [
        (r"Out of memory: Kill(?:ed)? process \d+", ("Out of memory: Kill",)),
        (r"\bENOSPC\b|No space left on device", ("ENOSPC", "No space left on device")),
        (r"(?:foo)?barbaz", ("barbaz",)),
        (r"a+b", ()),  # nothing required of length >= 3: runs on every line
        (r"\d+ errors|x", ()),  # one branch without a literal: no requirement
    ],
)
def test_derive_keywords(pattern, keywords):
    assert derive_keywords(pattern) == keywords
