"""Rules pages: the built-in catalogue with this tenant's tuning, rule details, custom rules with
a dry run against an incident. Viewers read; members and owners change (403 otherwise)."""

from __future__ import annotations

from django.contrib import messages
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods, require_POST

from apps.core.rules import CatalogueError
from apps.rules import selectors, services
from apps.rules.forms import CustomRuleForm, DryRunForm, RuleToggleForm, RuleTuneForm
from apps.rules.models import CustomRule
from apps.tenants.access import TenantHttpRequest, require_role
from apps.tenants.models import Role


def rule_list(request: TenantHttpRequest):
    category = request.GET.get("category", "")
    if category not in selectors.categories():
        category = ""
    q = request.GET.get("q", "")[:200]
    context = {
        "rows": selectors.rule_rows(category=category, q=q),
        "custom_rules": list(selectors.custom_rules(category=category, q=q)),
        "categories": selectors.categories(),
        "category": category,
        "q": q,
    }
    template = "rules/rule_list.html"
    if request.htmx and request.htmx.target == "rule-tables":
        template += "#rule-tables"
    return render(request, template, context)


def rule_detail(request: TenantHttpRequest, rule_id: str):
    row = selectors.get_rule_row(rule_id)
    initial = {}
    if row.setting is not None:
        initial = {
            "severity": row.setting.severity,
            "threshold_count": row.setting.threshold_count,
            "threshold_window": row.setting.threshold_window,
        }
    return render(
        request, "rules/rule_detail.html", _detail_context(row, RuleTuneForm(initial=initial))
    )


def _detail_context(row: selectors.RuleRow, form: RuleTuneForm) -> dict:
    return {
        "row": row,
        "form": form,
        "levels": sorted(row.rule.levels or ()),
        "exit_codes": sorted(row.rule.exit_codes or ()),
    }


@require_role(Role.MEMBER)
@require_POST
def rule_toggle(request: TenantHttpRequest, rule_id: str):
    row = selectors.get_rule_row(rule_id)
    form = RuleToggleForm(request.POST)
    form.is_valid()  # a missing box means "off", like an unchecked checkbox
    enabled = form.cleaned_data.get("enabled", False)
    services.set_rule_enabled(rule_id=row.id, enabled=enabled)
    if request.htmx:
        row = selectors.get_rule_row(rule_id)
        return render(request, "rules/partials/_rule_row.html", {"row": row})
    messages.success(request, f"{row.id} is now {'on' if enabled else 'off'}.")
    if request.POST.get("from") == "detail":
        return redirect("rules:rule-detail", rule_id=row.id)
    return redirect("rules:rule-list")


@require_role(Role.MEMBER)
@require_POST
def rule_tune(request: TenantHttpRequest, rule_id: str):
    row = selectors.get_rule_row(rule_id)
    form = RuleTuneForm(request.POST)
    if not form.is_valid():
        return render(request, "rules/rule_detail.html", _detail_context(row, form), status=400)
    if request.POST.get("reset"):
        services.tune_rule(rule_id=row.id)
        messages.success(request, "Severity and threshold are back to the shipped values.")
    else:
        services.tune_rule(rule_id=row.id, **form.cleaned_data)
        messages.success(request, "Tuning saved; it applies to the next ingestion.")
    return redirect("rules:rule-detail", rule_id=row.id)


# --- custom rules ----------------------------------------------------------------------------


def custom_detail(request: TenantHttpRequest, custom_id: int):
    rule = selectors.get_custom_rule_for_request(request, custom_id)
    return render(request, "rules/custom_detail.html", {"rule": rule})


@require_role(Role.MEMBER)
@require_http_methods(["GET", "POST"])
def custom_create(request: TenantHttpRequest):
    return _custom_form(request, CustomRule(severity="error"))


@require_role(Role.MEMBER)
@require_http_methods(["GET", "POST"])
def custom_update(request: TenantHttpRequest, custom_id: int):
    return _custom_form(request, selectors.get_custom_rule_for_request(request, custom_id))


def _custom_form(request: TenantHttpRequest, rule: CustomRule):
    """Create/edit page. The "Dry run" button posts here with action=dry-run: the rule as typed
    runs over the picked incident and nothing is saved (HTMX gets only the result partial)."""
    creating = rule.pk is None
    report = labels = None
    dry_form = None
    if request.method == "POST" and request.POST.get("action") == "dry-run":
        dry_form = DryRunForm(request.POST, instance=CustomRule())
        busy = ""
        if dry_form.is_valid():
            incident = dry_form.cleaned_data["incident"]
            try:
                with services.dry_run_slot(request.user.pk):
                    report = services.dry_run_rule(rule=dry_form.instance, incident_id=incident.pk)
            except services.DryRunBusy as exc:
                busy = str(exc)
            else:
                labels = selectors.group_labels(incident, [key for key, _ in report.top_groups])
        context = {**_form_context(dry_form, rule, dry_form, report, labels), "busy": busy}
        template = "rules/custom_form.html"
        if request.htmx:
            template += "#dry-run"
        response = render(request, template, context, status=429 if busy else 200)
        if busy:
            response["Retry-After"] = str(int(services.DRY_RUN_MAX_SECONDS))
        return response
    form = CustomRuleForm(request.POST or None, instance=rule)
    if request.method == "POST" and form.is_valid():
        try:
            rule = services.save_custom_rule(rule=form.save(commit=False), created_by=request.user)
        except CatalogueError as exc:  # the form ran the same checks; belt and braces
            form.add_error(None, str(exc))
        else:
            messages.success(
                request, f"Custom rule {rule.rule_id} {'created' if creating else 'saved'}."
            )
            return redirect("rules:custom-detail", custom_id=rule.pk)
    return render(request, "rules/custom_form.html", _form_context(form, rule, None, None, None))


def _form_context(form, rule, dry_form, report, labels) -> dict:
    incidents = selectors.dry_run_incidents()
    picked = ""
    if dry_form is not None:
        picked = dry_form.data.get("incident", "")
    elif incidents:
        picked = str(incidents[0].pk)
    incident = None
    if report is not None:
        incident = dry_form.cleaned_data["incident"]
    return {
        "form": form,
        "rule": rule,
        "dry_form": dry_form,
        "report": report,
        "groups": [(key, count, (labels or {}).get(key, "")) for key, count in report.top_groups]
        if report is not None
        else [],
        "incidents": incidents,
        "picked": picked,
        "incident": incident,
    }


@require_role(Role.MEMBER)
@require_POST
def custom_toggle(request: TenantHttpRequest, custom_id: int):
    rule = selectors.get_custom_rule_for_request(request, custom_id)
    form = RuleToggleForm(request.POST)
    form.is_valid()
    rule = services.set_custom_rule_enabled(
        rule=rule, enabled=form.cleaned_data.get("enabled", False)
    )
    if request.htmx:
        return render(request, "rules/partials/_custom_row.html", {"rule": rule})
    messages.success(request, f"{rule.rule_id} is now {'on' if rule.enabled else 'off'}.")
    if request.POST.get("from") == "detail":
        return redirect("rules:custom-detail", custom_id=rule.pk)
    return redirect("rules:rule-list")


@require_role(Role.MEMBER)
@require_POST
def custom_delete(request: TenantHttpRequest, custom_id: int):
    rule = selectors.get_custom_rule_for_request(request, custom_id)
    services.delete_custom_rule(rule=rule)
    messages.success(request, f"Custom rule {rule.rule_id} deleted.")
    return redirect("rules:rule-list")
