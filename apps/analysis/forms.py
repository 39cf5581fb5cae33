from __future__ import annotations

from decimal import Decimal

from django import forms

from apps.analysis.models import AISettings
from apps.analysis.services import kept_api_key, local_only_problem

_INPUT = "w-full rounded border border-slate-300 px-2 py-1"


class AISettingsForm(forms.Form):
    """The tenant's provider. The API key is write-only: never rendered back, empty = keep."""

    provider = forms.ChoiceField(
        choices=AISettings.Provider.choices, widget=forms.Select(attrs={"class": _INPUT})
    )
    base_url = forms.URLField(
        required=False,
        label="Base URL",
        max_length=500,
        assume_scheme="https",
        help_text=(
            "e.g. https://api.openai.com/v1, or http://127.0.0.1:11434/v1 (Ollama) when the "
            "operator allows that address (LLM_EGRESS_ALLOW)"
        ),
        widget=forms.URLInput(attrs={"class": _INPUT, "placeholder": "https://…/v1"}),
    )
    model = forms.CharField(
        required=False, max_length=200, widget=forms.TextInput(attrs={"class": _INPUT})
    )
    api_key = forms.CharField(
        required=False,
        max_length=500,
        strip=True,
        label="API key",
        help_text=(
            "Write-only: leave empty to keep the stored key. A base URL on another host drops "
            "the stored key unless a new one is typed here."
        ),
        widget=forms.PasswordInput(
            render_value=False, attrs={"class": _INPUT, "autocomplete": "new-password"}
        ),
    )
    clear_api_key = forms.BooleanField(required=False, label="Remove the stored API key")
    # per attempt; up to 3 attempts (SDK retries) × 2 (one repair round) must stay well inside
    # the worker's task timeout (Q_TIMEOUT, 1800 s by default)
    timeout_seconds = forms.IntegerField(
        min_value=1,
        max_value=240,
        initial=60,
        help_text="Per attempt (at most 240 s).",
        widget=forms.NumberInput(attrs={"class": _INPUT}),
    )
    max_tokens = forms.IntegerField(
        min_value=64,
        max_value=32000,
        initial=2000,
        widget=forms.NumberInput(attrs={"class": _INPUT}),
    )
    price_per_1k_tokens = forms.DecimalField(
        required=False,
        min_value=Decimal(0),
        max_digits=10,
        decimal_places=6,
        label="Price per 1k tokens",
        help_text="Optional; shown as a cost estimate in the preview.",
        widget=forms.NumberInput(attrs={"class": _INPUT, "step": "0.000001"}),
    )
    local_endpoints_only = forms.BooleanField(
        required=False,
        label="Allow only local endpoints",
        help_text="Refuse endpoints outside loopback and private networks (data stays in-house).",
    )

    @classmethod
    def from_settings(cls, ai: AISettings, data=None) -> AISettingsForm:
        initial = {
            "provider": ai.provider,
            "base_url": ai.base_url,
            "model": ai.model,
            "timeout_seconds": ai.timeout_seconds,
            "max_tokens": ai.max_tokens,
            "price_per_1k_tokens": ai.price_per_1k_tokens,
            "local_endpoints_only": ai.local_endpoints_only,
        }
        return cls(data, initial=initial)

    def clean_base_url(self) -> str:
        url = self.cleaned_data.get("base_url") or ""
        if url and not url.lower().startswith(("http://", "https://")):
            raise forms.ValidationError("Use an http:// or https:// URL.")
        return url

    def clean(self) -> dict:
        data = super().clean()
        if data.get("provider") != AISettings.Provider.OPENAI:
            return data
        if not data.get("base_url") and "base_url" not in self.errors:
            self.add_error("base_url", "Required for an OpenAI-compatible endpoint.")
        if not data.get("model"):
            self.add_error("model", "Required for an OpenAI-compatible endpoint.")
        url = data.get("base_url")
        if url and data.get("local_endpoints_only") and local_only_problem(url):
            self.add_error(
                "base_url",
                "The policy allows only local endpoints (loopback or private network).",
            )
        return data

    def unsaved_settings(self, stored: AISettings) -> AISettings:
        """The settings as submitted (not saved): what *Test connection* tries. The stored key
        comes along only while the base URL stays on its origin (`services.kept_api_key`)."""
        d = self.cleaned_data
        base_url = d.get("base_url") or ""
        sealed = kept_api_key(
            stored, base_url, new_key=d.get("api_key") or "", clear=d.get("clear_api_key") or False
        )
        return AISettings(
            pk=AISettings.SINGLETON_PK,
            provider=d["provider"],
            base_url=base_url,
            model=d.get("model") or "",
            api_key_sealed=sealed,
            timeout_seconds=d["timeout_seconds"],
            max_tokens=d["max_tokens"],
            price_per_1k_tokens=d.get("price_per_1k_tokens"),
            local_endpoints_only=d.get("local_endpoints_only") or False,
        )
