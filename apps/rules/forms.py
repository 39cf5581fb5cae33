from __future__ import annotations

from django import forms

from apps.core.logparse.record import LEVELS
from apps.core.rules import CatalogueError, build_user_rule, validate_user_pattern
from apps.core.rules.catalogue import SLUG_RE
from apps.incidents.models import Incident
from apps.rules.models import CustomRule, Finding
from apps.rules.services import custom_rule_mapping

SEVERITY_CHOICES = Finding.Severity.choices
LEVEL_CHOICES = [("", "any level"), *((name, f"≥ {name}") for name in LEVELS)]
MAX_WINDOW = 7 * 24 * 3600
INPUT_CLASS = "mt-1 block w-full rounded border border-slate-300 px-3 py-2"


class RuleToggleForm(forms.Form):
    enabled = forms.BooleanField(required=False)


class RuleTuneForm(forms.Form):
    severity = forms.ChoiceField(choices=[("", "as shipped"), *SEVERITY_CHOICES], required=False)
    threshold_count = forms.IntegerField(min_value=1, max_value=1_000_000, required=False)
    threshold_window = forms.IntegerField(min_value=1, max_value=MAX_WINDOW, required=False)

    def clean(self):
        data = super().clean()
        if data.get("threshold_window") and not data.get("threshold_count"):
            self.add_error("threshold_count", "Give a count for the window to apply to.")
        return data


class CustomRuleForm(forms.ModelForm):
    """A custom rule; the pattern must run on RE2 and the whole rule must pass the engine's
    validation (the same checks as a catalogue file)."""

    level = forms.ChoiceField(choices=LEVEL_CHOICES, required=False, label="Minimum level")
    threshold_window = forms.IntegerField(
        min_value=1, max_value=MAX_WINDOW, required=False, label="Window (seconds)"
    )

    class Meta:
        model = CustomRule
        fields = [
            "rule_id",
            "title",
            "category",
            "severity",
            "pattern",
            "level",
            "service",
            "threshold_count",
            "threshold_window",
            "explanation",
            "remediation",
            "enabled",
        ]
        labels = {
            "rule_id": "Rule id",
            "threshold_count": "Threshold: matches",
            "service": "Service (exact name)",
        }
        help_texts = {
            "pattern": "A regular expression searched in each message (RE2 syntax: no "
            "backreferences or look-around). Use (?i) for case-insensitive.",
        }
        widgets = {
            "pattern": forms.Textarea(attrs={"rows": 2, "spellcheck": "false"}),
            "explanation": forms.Textarea(attrs={"rows": 2}),
            "remediation": forms.Textarea(attrs={"rows": 2}),
        }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for field in self.fields.values():
            if not isinstance(field.widget, forms.CheckboxInput):
                field.widget.attrs.setdefault("class", INPUT_CLASS)
        self.fields["pattern"].widget.attrs["class"] += " font-mono text-sm"

    def clean_rule_id(self):
        value = self.cleaned_data["rule_id"].strip().lower()
        if not SLUG_RE.match(value):
            raise forms.ValidationError("Use lowercase letters, digits and single hyphens.")
        return value

    def clean_category(self):
        value = self.cleaned_data["category"].strip().lower()
        if not SLUG_RE.match(value):
            raise forms.ValidationError(
                "Use a slug such as “payments-declined” (lowercase, hyphens)."
            )
        return value

    def clean_pattern(self):
        pattern = self.cleaned_data["pattern"]
        error = validate_user_pattern(pattern)
        if error:
            raise forms.ValidationError(error)
        return pattern

    def clean_service(self):
        return self.cleaned_data["service"].strip()

    def clean(self):
        data = super().clean()
        if data.get("threshold_window") and not data.get("threshold_count"):
            self.add_error("threshold_count", "Give a count for the window to apply to.")
        return data

    def _post_clean(self):
        super()._post_clean()
        if self.errors:
            return
        try:  # what the engine says about the whole rule (the pattern errors come first)
            build_user_rule(custom_rule_mapping(self.instance))
        except CatalogueError as exc:
            for problem in exc.problems:
                self.add_error(None, problem.split(": ", 2)[-1])


class DryRunForm(CustomRuleForm):
    """The rule as typed so far plus an incident to try it on; nothing is saved."""

    incident = forms.ModelChoiceField(
        queryset=Incident.objects.all(), error_messages={"required": "Pick an incident."}
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["rule_id"].required = False
        self.fields["title"].required = False
        self.fields["category"].required = False
        self.fields["severity"].required = False

    def clean_rule_id(self):
        return super().clean_rule_id() if self.cleaned_data.get("rule_id") else "dry-run"

    def clean_title(self):
        return self.cleaned_data.get("title") or "Dry run"

    def clean_category(self):
        return super().clean_category() if self.cleaned_data.get("category") else "dry-run"

    def clean_severity(self):
        return self.cleaned_data.get("severity") or Finding.Severity.WARNING

    def validate_unique(self):
        """A dry run saves nothing: an existing id is fine."""
