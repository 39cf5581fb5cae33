"""The owner's forms: a channel (its secret part typed once, then only sealed) and a rule."""

from __future__ import annotations

from django import forms
from django.core.validators import URLValidator, validate_email

from apps.alerts import quiet
from apps.alerts.models import AlertRule, Channel

INPUT = "mt-1 w-full rounded border border-slate-300 px-2 py-1"


class ChannelForm(forms.Form):
    kind = forms.ChoiceField(choices=Channel.Kind.choices)
    name = forms.CharField(max_length=80)
    url = forms.CharField(
        required=False,
        max_length=2000,
        label="Webhook URL",
        help_text="Slack, Teams and webhooks: the URL to post to. PagerDuty: leave empty for "
        "PagerDuty's own Events API (or give another Events v2 endpoint). Never shown again.",
        widget=forms.PasswordInput(render_value=False),
    )
    routing_key = forms.CharField(
        required=False,
        max_length=64,
        label="PagerDuty routing key",
        widget=forms.PasswordInput(render_value=False),
    )
    recipients = forms.CharField(
        required=False, widget=forms.Textarea(attrs={"rows": 2}), help_text="One address a line."
    )

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        for field in self.fields.values():
            field.widget.attrs.setdefault("class", INPUT)

    def clean(self) -> dict:
        data = super().clean()
        kind, url = data.get("kind"), (data.get("url") or "").strip()
        needs_url = kind in (Channel.Kind.SLACK, Channel.Kind.TEAMS, Channel.Kind.WEBHOOK)
        if needs_url and not url:
            self.add_error("url", "This channel needs its webhook URL.")
        if url:
            try:
                URLValidator(schemes=["https", "http"])(url)
            except forms.ValidationError:
                self.add_error("url", "Enter an http(s) URL.")
        data["url"] = url
        if kind == Channel.Kind.PAGERDUTY and not (data.get("routing_key") or "").strip():
            self.add_error("routing_key", "PagerDuty needs the integration's routing key.")
        if kind == Channel.Kind.EMAIL:
            addresses = [
                a.strip() for a in (data.get("recipients") or "").splitlines() if a.strip()
            ]
            if not addresses:
                self.add_error("recipients", "Give at least one address.")
            for address in addresses:
                try:
                    validate_email(address)
                except forms.ValidationError:
                    self.add_error("recipients", f"Not an e-mail address: {address}")
            data["recipients"] = "\n".join(addresses)
        return data


OPTIONAL = ("window_minutes", "min_errors", "error_percent", "quiet_timezone")


class RuleForm(forms.ModelForm):
    class Meta:
        model = AlertRule
        fields = [
            "name",
            "event",
            "min_severity",
            "category",
            "service",
            "window_minutes",
            "min_errors",
            "error_percent",
            "channels",
            "group_seconds",
            "renotify_minutes",
            "quiet_start",
            "quiet_end",
            "quiet_timezone",
        ]
        labels = {
            "min_severity": "Severity at least",
            "category": "Finding category (empty: any)",
            "service": "Service (stream rules; empty: each service)",
            "window_minutes": "Window (minutes): for the error rate, or after a deploy",
            "min_errors": "At least this many error records in the window",
            "error_percent": "Error rate: errors at least this % of the service's records",
            "group_seconds": "Group a burst for (seconds)",
            "renotify_minutes": "Remind every (minutes, 0: never)",
            "quiet_start": "Quiet hours from (HH:MM)",
            "quiet_end": "Quiet hours until (HH:MM)",
            "quiet_timezone": "Quiet hours time zone",
        }
        help_texts = {
            "quiet_end": "Messages due in quiet hours are held and sent when they end, if the "
            "incident is still open; resolves and acknowledgements are not held. "
            "22:00 to 07:00 crosses midnight; leave both empty for none.",
            "quiet_timezone": "An IANA name: Europe/Berlin, America/New_York, UTC.",
        }
        widgets = {
            "channels": forms.CheckboxSelectMultiple,
            "quiet_start": forms.TimeInput(attrs={"type": "time"}),
            "quiet_end": forms.TimeInput(attrs={"type": "time"}),
        }

    def __init__(self, *args, project, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["channels"].queryset = Channel.objects.filter(project=project)
        for name, field in self.fields.items():
            if name != "channels":
                field.widget.attrs.setdefault("class", INPUT)
        for name in OPTIONAL:  # a rule of another event leaves them out: the defaults
            self.fields[name].required = False

    def clean_quiet_timezone(self) -> str:
        name = (self.cleaned_data.get("quiet_timezone") or "UTC").strip()
        if not quiet.valid_zone(name):
            raise forms.ValidationError(f"Unknown time zone: {name}")
        return name

    def clean(self) -> dict:
        data = super().clean()
        start, end = data.get("quiet_start"), data.get("quiet_end")
        if (start is None) != (end is None):
            self.add_error("quiet_end", "Give both ends of the quiet hours, or neither.")
        for name in OPTIONAL:
            if data.get(name) in (None, ""):
                data[name] = AlertRule._meta.get_field(name).get_default()
        percent = data.get("error_percent")
        if percent is not None and not 0 <= percent <= 100:
            self.add_error("error_percent", "A percentage: 0 to 100.")
        return data
