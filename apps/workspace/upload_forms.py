from __future__ import annotations

from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from django import forms

from apps.core.logparse.loghub import compile_log_format


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


# Request bytes the form's fields do not account for, above which a file part was most likely
# sent and dropped: Django leaves out file parts whose name sanitises to nothing ("." or "..").
UNACCOUNTED_BYTES = 4096
NAMELESS_FILE = (
    "A file arrived without a usable name (such as “.” or “..”) and was left out: "
    "rename it and upload it again."
)


def unaccounted_bytes(request) -> int:
    """How much of a POST body neither its fields nor its files explain (multipart overhead
    is a few hundred bytes per part)."""
    try:
        length = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return 0
    fields = sum(len(k) + len(v) for k, values in request.POST.lists() for v in values)
    files = sum(f.size for values in request.FILES.lists() for f in values[1])
    return max(0, length - fields - files)


def _checked_header(value: str) -> str:
    """A loghub header the parser can use ('' for none), or a ValidationError saying why."""
    value = value.strip()
    if value:
        try:
            compile_log_format(value)
        except (ValueError, Exception) as exc:  # re.error included
            raise forms.ValidationError(f"Not a usable header layout: {exc}") from None
    return value


class LogInputForm(forms.Form):
    files = MultipleFileField(required=False)
    pasted = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 6}))
    log_format = forms.CharField(
        required=False,
        max_length=500,
        help_text="Optional header layout, e.g. <Date> <Time> <Level> <Component>: <Content>",
    )

    year = forms.IntegerField(
        required=False,
        min_value=1970,
        max_value=2100,
        help_text="For dates written without a year (syslog). A year in the log wins.",
    )
    timezone = forms.CharField(
        required=False,
        max_length=64,
        help_text="For times written without a zone, e.g. Europe/Paris. UTC when empty.",
    )

    def clean_timezone(self):
        value = self.cleaned_data["timezone"].strip()
        if value:
            if value not in available_timezones():
                raise forms.ValidationError(
                    f"Not a time zone name (IANA, e.g. Europe/Paris): {value}"
                )
            try:
                ZoneInfo(value)
            except (ZoneInfoNotFoundError, ValueError):
                raise forms.ValidationError(f"Not a time zone name: {value}") from None
        return value

    def clean_log_format(self):
        return _checked_header(self.cleaned_data["log_format"])

    def __init__(self, *args, unaccounted: int = 0, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.unaccounted = unaccounted

    def clean(self):
        data = super().clean()
        if not data.get("files") and not (data.get("pasted") or "").strip():
            if self.unaccounted > UNACCOUNTED_BYTES:
                raise forms.ValidationError(NAMELESS_FILE)
            raise forms.ValidationError("Choose at least one file or paste some log text.")
        return data


class NewIncidentForm(LogInputForm):
    title = forms.CharField(max_length=200)

    field_order = ["title", "files", "pasted", "log_format", "year", "timezone"]


class SourceHeaderForm(forms.Form):
    """A corrected header for one source; empty goes back to detecting it from the file."""

    log_format = forms.CharField(
        required=False,
        max_length=500,
        label="Header",
        help_text=(
            "loghub syntax: <Date> <Time> <Level> <Component>(\\[<Pid>\\])?: <Content>. "
            "Empty: learn it from the file again."
        ),
    )

    def clean_log_format(self):
        return _checked_header(self.cleaned_data["log_format"])
