from __future__ import annotations

from django import forms

from apps.reports.models import ActionItem, SectionKey


class SectionForm(forms.Form):
    key = forms.ChoiceField(choices=SectionKey.choices)
    body = forms.CharField(required=False, max_length=100_000, strip=False)
    version = forms.IntegerField(min_value=0)


class PreviewForm(forms.Form):
    key = forms.ChoiceField(choices=SectionKey.choices, required=False)
    body = forms.CharField(required=False, max_length=100_000, strip=False)


class ActionItemForm(forms.ModelForm):
    class Meta:
        model = ActionItem
        fields = ["text", "owner", "due_date", "done"]
        widgets = {"due_date": forms.DateInput(attrs={"type": "date"})}


class TemplateForm(forms.Form):
    sections = forms.MultipleChoiceField(
        choices=SectionKey.choices, widget=forms.CheckboxSelectMultiple, required=False
    )
    default_owner = forms.CharField(max_length=120, required=False)
