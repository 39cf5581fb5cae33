"""tenant_catalogue(): the built-in catalogue with a tenant's tuning and custom rules."""

from __future__ import annotations

import pytest
from django_tenants.utils import tenant_context

from apps.core.logparse.record import Record
from apps.core.rules import Engine, Severity, Threshold
from apps.rules import services
from apps.rules.models import CustomRule, RuleSetting

PG_RULE = "db-too-many-connections.postgres"


def custom(**fields) -> CustomRule:
    values = {
        "rule_id": "payment-declined",
        "category": "payments",
        "severity": "error",
        "title": "Card payments declined",
        "pattern": r"payment (?:declined|refused) code=\d+",
    }
    values.update(fields)
    return CustomRule(**values)


@pytest.fixture
def alpha(personas):
    with tenant_context(personas.alpha):
        yield personas.alpha


def test_defaults_are_the_builtin_catalogue(alpha):
    catalogue = services.tenant_catalogue()
    assert [r.id for r in catalogue] == [r.id for r in services.builtin_catalogue()]
    assert PG_RULE in catalogue


def test_disabled_rule_is_left_out(alpha):
    RuleSetting.objects.create(rule_id=PG_RULE, enabled=False)
    assert PG_RULE not in services.tenant_catalogue()


def test_severity_and_threshold_overrides(alpha):
    services.tune_rule(rule_id=PG_RULE, severity="warning", threshold_count=5, threshold_window=30)
    rule = services.tenant_catalogue()[PG_RULE]
    assert rule.severity is Severity.WARNING
    assert rule.threshold == Threshold(count=5, window=30.0)
    services.tune_rule(rule_id=PG_RULE)  # back to as shipped
    shipped, rule = services.builtin_catalogue()[PG_RULE], services.tenant_catalogue()[PG_RULE]
    assert (rule.severity, rule.threshold) == (shipped.severity, shipped.threshold)


def test_setting_for_a_rule_that_left_the_catalogue_is_ignored(alpha):
    RuleSetting.objects.create(rule_id="gone.rule", enabled=False, severity="info")
    assert len(services.tenant_catalogue()) == len(services.builtin_catalogue())


def test_enabled_custom_rules_are_added_on_re2(alpha):
    services.save_custom_rule(rule=custom(level="ERROR", service="checkout"))
    services.save_custom_rule(rule=custom(rule_id="off", enabled=False))
    catalogue = services.tenant_catalogue()
    rule = catalogue["custom.payment-declined"]
    assert "custom.off" not in catalogue
    assert rule.user and rule.regex.engine == "re2"
    assert rule.min_level == "ERROR"
    hit = Record(1, 1, "", "payment declined code=51", level="ERROR", service="checkout")
    assert rule.matches(hit)
    assert not rule.matches(Record(1, 1, "", hit.message, level="INFO", service="checkout"))
    assert not rule.matches(Record(1, 1, "", hit.message, level="ERROR", service="checkout-2"))
    engine = Engine(catalogue, detect=False)
    engine.feed(hit)
    assert [f.rule_id for f in engine.findings()] == ["custom.payment-declined"]


def test_custom_rules_never_collide_with_builtin_ids(alpha):
    services.save_custom_rule(rule=custom(rule_id="db-too-many-connections"))
    assert len(services.tenant_catalogue()) == len(services.builtin_catalogue()) + 1


def test_a_custom_rule_that_no_longer_validates_is_skipped(alpha):
    custom(rule_id="broken", pattern=r"(a)\1").save()  # bypasses save_custom_rule
    assert "custom.broken" not in services.tenant_catalogue()


def test_catalogue_is_per_tenant(personas):
    with tenant_context(personas.alpha):
        services.save_custom_rule(rule=custom())
        RuleSetting.objects.create(rule_id=PG_RULE, enabled=False)
        alpha = services.tenant_catalogue()
    with tenant_context(personas.beta):
        beta = services.tenant_catalogue()
    assert "custom.payment-declined" in alpha and PG_RULE not in alpha
    assert "custom.payment-declined" not in beta and PG_RULE in beta


def test_changes_are_picked_up_on_the_next_call(alpha):
    first = services.tenant_catalogue()
    assert services.tenant_catalogue() is first  # memoised while nothing changes
    services.set_rule_enabled(rule_id=PG_RULE, enabled=False)
    assert PG_RULE not in services.tenant_catalogue()
