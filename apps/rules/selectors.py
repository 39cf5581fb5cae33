"""Read side of the rules pages: built-in rules with the tenant's tuning, custom rules, dry-run
choices. Built-in rules come from the per-process catalogue (no query); tuning is one query."""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import Q, QuerySet
from django.http import Http404
from django.shortcuts import get_object_or_404

from apps.core.rules import Rule, Threshold
from apps.incidents.models import Incident
from apps.ingestion.models import ErrorGroup
from apps.rules.models import CustomRule, RuleSetting
from apps.rules.services import DEFAULT_WINDOW, builtin_catalogue

DRY_RUN_INCIDENTS = 50


@dataclass(slots=True)
class RuleRow:
    """A built-in rule as this tenant runs it."""

    rule: Rule
    setting: RuleSetting | None

    @property
    def id(self) -> str:
        return self.rule.id

    @property
    def enabled(self) -> bool:
        return self.setting is None or self.setting.enabled

    @property
    def severity(self) -> str:
        return (self.setting and self.setting.severity) or self.rule.severity.value

    @property
    def threshold(self) -> Threshold | None:
        if self.setting is not None and self.setting.threshold_count:
            window = self.setting.threshold_window or DEFAULT_WINDOW
            return Threshold(count=self.setting.threshold_count, window=float(window))
        return self.rule.threshold

    @property
    def tuned(self) -> bool:
        s = self.setting
        return s is not None and bool(s.severity or s.threshold_count)


def categories() -> list[str]:
    return sorted(builtin_catalogue().categories)


def rule_rows(*, category: str = "", q: str = "") -> list[RuleRow]:
    """Built-in rules (catalogue order), filtered by category and a case-insensitive search
    over id, title, category and explanation."""
    settings = {s.rule_id: s for s in RuleSetting.objects.all()}
    needle = q.strip().casefold()
    rows = []
    for rule in builtin_catalogue():
        if category and rule.category != category:
            continue
        if needle and not any(
            needle in text.casefold()
            for text in (rule.id, rule.title, rule.category, rule.explanation)
        ):
            continue
        rows.append(RuleRow(rule, settings.get(rule.id)))
    return rows


def get_rule_row(rule_id: str) -> RuleRow:
    catalogue = builtin_catalogue()
    if rule_id not in catalogue:
        raise Http404("No such rule")
    return RuleRow(catalogue[rule_id], RuleSetting.objects.filter(rule_id=rule_id).first())


def custom_rules(*, category: str = "", q: str = "") -> QuerySet[CustomRule]:
    rules = CustomRule.objects.all()
    if category:
        rules = rules.filter(category=category)
    if q.strip():
        needle = q.strip()
        rules = rules.filter(
            Q(rule_id__icontains=needle)
            | Q(title__icontains=needle)
            | Q(category__icontains=needle)
            | Q(pattern__icontains=needle)
        )
    return rules.order_by("rule_id")


def get_custom_rule_for_request(request, custom_id: int) -> CustomRule:
    """The one getter for a custom rule (the schema is already selected and access checked)."""
    return get_object_or_404(CustomRule, pk=custom_id)


def dry_run_incidents() -> list[Incident]:
    """The incidents a dry run can pick from: the most recent ones, with their project."""
    return list(
        Incident.objects.select_related("project").order_by("-created_at")[:DRY_RUN_INCIDENTS]
    )


def group_labels(incident: Incident, keys: list[str]) -> dict[str, str]:
    """Template text for group / template ids (dry-run groups), in one query."""

    if not keys:
        return {}
    labels: dict[str, str] = {}
    for group_id, template_id, template in ErrorGroup.objects.filter(
        Q(group_id__in=keys) | Q(template_id__in=keys), project_id=incident.project_id
    ).values_list("group_id", "template_id", "template"):
        labels.setdefault(group_id, template)
        if template_id:
            labels.setdefault(template_id, template)
    return labels
