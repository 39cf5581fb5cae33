from __future__ import annotations

from django import forms

from apps.ingestion.logparse.loghub import compile_log_format


class MultipleFileInput(forms.ClearableFileInput):
    allow_multiple_selected = True


class MultipleFileField(forms.FileField):
    def __init__(self, *args, **kwargs):
        kwargs.setdefault("widget", MultipleFileInput())
        super().__init__(*args, **kwargs)

    def clean(self, data, initial=None):
        single = super().clean
        if isinstance(data, list | tuple):
            return [single(item, initial) for item in data]
        return [single(data, initial)] if data else []


class LogInputForm(forms.Form):
    files = MultipleFileField(required=False)
    pasted = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 6}))
    log_format = forms.CharField(
        required=False,
        max_length=500,
        help_text="Optional header layout, e.g. <Date> <Time> <Level> <Component>: <Content>",
    )

    def clean_log_format(self):
        value = self.cleaned_data["log_format"].strip()
        if value:
            try:
                compile_log_format(value)
            except (ValueError, Exception) as exc:  # re.error included
                raise forms.ValidationError(f"Not a usable header layout: {exc}") from None
        return value

    def clean(self):
        data = super().clean()
        if not data.get("files") and not (data.get("pasted") or "").strip():
            raise forms.ValidationError("Choose at least one file or paste some log text.")
        return data


class NewIncidentForm(LogInputForm):
    title = forms.CharField(max_length=200)

    field_order = ["title", "files", "pasted", "log_format"]
