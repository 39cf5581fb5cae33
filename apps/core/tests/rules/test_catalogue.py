"""The built-in catalogue: structure, coverage and every rule's own examples."""

from __future__ import annotations

import pytest

from apps.core.rules import Catalogue, CatalogueError, Engine
from apps.core.rules.catalogue import CATALOGUE_DIR, scan_text

REQUIRED_CATEGORIES = [
    "oom-kernel",
    "k8s-oomkilled",
    "container-exit-137",
    "k8s-crashloop",
    "k8s-evicted",
    "k8s-probe-failed",
    "k8s-image-pull",
    "k8s-scheduling",
    "k8s-mount",
    "jvm-oom",
    "node-heap-oom",
    "python-worker-killed",
    "memory-error",
    "db-too-many-connections",
    "db-connection-refused",
    "db-auth-failed",
    "db-deadlock",
    "db-lock-timeout",
    "db-statement-timeout",
    "pool-exhausted",
    "upstream-timeout",
    "upstream-unavailable",
    "http-client-timeout",
    "http-5xx-spike",
    "rate-limited",
    "disk-full",
    "read-only-fs",
    "disk-io-error",
    "too-many-open-files",
    "tls-cert",
    "dns-failure",
    "connection-reset",
    "redis-oom",
    "redis-misconf",
    "kafka-broker",
    "rabbitmq",
    "elasticsearch",
    "go-panic",
    "segfault",
    "unhandled-exception",
    "port-in-use",
    "config-error",
    "auth-failures",
    "permission-denied",
    "clock-skew",
]

CATALOGUE = Catalogue.load()
RULES = list(CATALOGUE)


def test_catalogue_size_and_coverage():
    assert len(CATALOGUE) >= 45
    assert len(REQUIRED_CATEGORIES) == 45
    missing = set(REQUIRED_CATEGORIES) - CATALOGUE.categories
    assert not missing, f"categories without a rule: {sorted(missing)}"


def test_rule_ids_unique_and_prefixed_by_category():
    ids = [r.id for r in RULES]
    assert len(ids) == len(set(ids))
    for r in RULES:
        assert r.id.startswith(r.category + "."), r.id


def test_every_regex_rule_has_keywords_and_runs_on_re2():
    """Keywords keep the engine cheap; RE2 keeps it linear. Both hold for every built-in."""
    for r in RULES:
        if r.regex is not None:
            assert r.keywords, f"{r.id}: no keywords: it would run on every line"
            assert r.regex.engine == "re2", f"{r.id}: pattern needs Python re"


def test_every_rule_has_examples_and_text():
    for r in RULES:
        assert r.positive, r.id
        assert r.negative, r.id
        assert r.explanation and r.remediation and r.title, r.id


def _cases(kind: str):
    for r in RULES:
        for i, ex in enumerate(getattr(r, kind)):
            yield pytest.param(r, ex, id=f"{r.id}[{i}]")


def _hits(rule, example) -> bool:
    record = example.to_record()
    text = scan_text(record)
    return rule.prefilter_ok(text) and rule.matches(record, text=text)


@pytest.mark.parametrize(("rule", "example"), list(_cases("positive")))
def test_positive_example_matches(rule, example):
    assert _hits(rule, example), f"{rule.id} should match {example.message!r}"


@pytest.mark.parametrize(("rule", "example"), list(_cases("negative")))
def test_negative_example_does_not_match(rule, example):
    assert not _hits(rule, example), f"{rule.id} should not match {example.message!r}"


def test_positive_examples_raise_findings_through_the_engine():
    """The full path (batched prefilter, thresholds) yields each rule from its own examples."""
    for rule in RULES:
        engine = Engine(Catalogue([rule]), detect=False)
        need = rule.threshold.count if rule.threshold else 1
        line = 0
        for ex in rule.positive:
            for _ in range(need):
                line += 1
                engine.feed(ex.to_record(line=line))
        findings = engine.findings()
        assert [f.rule_id for f in findings] == [rule.id]
        assert findings[0].count == line


# --- validation errors ---------------------------------------------------------------------


def _write(tmp_path, text: str):
    path = tmp_path / "bad.toml"
    path.write_text(text, encoding="utf-8")
    return path


GOOD = """
[[rule]]
id = "disk-full.test"
category = "disk-full"
severity = "error"
title = "t"
explanation = "e"
remediation = "r"
matcher.regex = 'No space left on device'
examples.positive = ["No space left on device"]
"""


def test_load_from_explicit_paths(tmp_path):
    cat = Catalogue.load([_write(tmp_path, GOOD)])
    assert [r.id for r in cat] == ["disk-full.test"]
    assert cat["disk-full.test"].keywords == ("No space left on device",)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (('severity = "error"', 'severity = "fatal"'), "unknown severity 'fatal'"),
        (("'No space left on device'", "'(unclosed'"), "matcher.regex: invalid regex"),
        (('category = "disk-full"', 'category = "Disk Full"'), "category must be a slug"),
        (('title = "t"', 'title = ""'), "title is required"),
        (("matcher.regex", "matcher.regexp"), "unknown matcher keys ['regexp']"),
        (('examples.positive = ["No space left on device"]', ""), "need at least one positive"),
        (('title = "t"', 'title = "t"\nthreshold = { count = 0 }'), "threshold.count"),
    ],
)
def test_bad_rule_reports_a_clear_error(tmp_path, change, message):
    old, new = change
    with pytest.raises(CatalogueError) as err:
        Catalogue.load([_write(tmp_path, GOOD.replace(old, new))])
    assert "bad.toml: rule" in str(err.value)
    assert message in str(err.value)


def test_duplicate_ids_and_toml_syntax_errors(tmp_path):
    with pytest.raises(CatalogueError, match="duplicate id"):
        Catalogue.load([_write(tmp_path, GOOD + GOOD)])
    with pytest.raises(CatalogueError, match="cannot read"):
        Catalogue.load([_write(tmp_path, "[[rule]\nid=")])


def test_disabled_and_overrides():
    cat = Catalogue.load(disabled=["tls-cert", "disk-full.enospc"])
    assert "tls-cert" not in cat.categories
    assert "disk-full.enospc" not in cat
    assert "disk-full.watermark" in cat
    cat = Catalogue.load(
        overrides={
            "http-5xx-spike.access-log": {"threshold": {"count": 5, "window": 10}},
            "rate-limited.throttled": {"severity": "error"},
            "segfault.kernel-or-shell": {"enabled": False},
        }
    )
    assert cat["http-5xx-spike.access-log"].threshold.count == 5
    assert cat["rate-limited.throttled"].severity == "error"
    assert "segfault.kernel-or-shell" not in cat
    with pytest.raises(CatalogueError, match="unknown rule id 'nope'"):
        Catalogue.load(overrides={"nope": {"severity": "error"}})
    with pytest.raises(CatalogueError, match="unknown severity"):
        Catalogue.load(overrides={"rate-limited.throttled": {"severity": "loud"}})


def test_catalogue_files_are_the_documented_areas():
    names = {p.stem for p in CATALOGUE_DIR.glob("*.toml")}
    assert {"kubernetes", "memory", "database", "network", "storage", "runtime"} <= names
