"""Forms of a project's stream pages: ingest tokens, retention, and a range of the stream to
open an incident from."""

from __future__ import annotations

from django import forms

from apps.ingestion.tokens.models import Scope
from apps.streams.incidents import MAX_RANGE
from apps.streams.services import RETENTION_DAYS_MAX

# what <input type="datetime-local"> sends, with or without seconds (read as UTC)
DATETIME_FORMATS = ["%Y-%m-%dT%H:%M:%S", "%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M"]


class TokenForm(forms.Form):
    name = forms.CharField(max_length=100, required=False, help_text="e.g. otel-collector")
    scopes = forms.MultipleChoiceField(
        choices=Scope.choices,
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text="What the token may send; none ticked: everything.",
    )


class RetentionForm(forms.Form):
    days = forms.IntegerField(min_value=1, max_value=RETENTION_DAYS_MAX, label="Keep (days)")


class RangeForm(forms.Form):
    start = forms.DateTimeField(input_formats=DATETIME_FORMATS, label="From (UTC)")
    end = forms.DateTimeField(input_formats=DATETIME_FORMATS, label="To (UTC)")
    title = forms.CharField(max_length=200, required=False)

    def clean(self):
        data = super().clean()
        start, end = data.get("start"), data.get("end")
        if start and end:
            if end <= start:
                raise forms.ValidationError("The range must end after it starts.")
            if end - start > MAX_RANGE:
                raise forms.ValidationError("A range spans at most a day.")
        return data
