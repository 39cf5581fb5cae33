"""Forms of the Team page and of the invitation accept page."""

from __future__ import annotations

from django import forms
from django.contrib.auth import get_user_model
from django.contrib.auth.forms import UserCreationForm

from apps.tenants.models import Role

INPUT = "mt-1 block w-full rounded border border-slate-300 px-3 py-2"


class InviteForm(forms.Form):
    email = forms.EmailField(
        label="E-mail address", widget=forms.EmailInput(attrs={"class": INPUT})
    )
    role = forms.ChoiceField(
        choices=Role.choices,
        initial=Role.MEMBER,
        widget=forms.Select(attrs={"class": "mt-1 rounded border border-slate-300 px-2 py-2"}),
    )


class RoleForm(forms.Form):
    role = forms.ChoiceField(choices=Role.choices)


class InviteSignUpForm(UserCreationForm):
    """A new account for the invited address: username and password (the e-mail is the
    invitation's, so possession of the link stands for the address)."""

    class Meta(UserCreationForm.Meta):
        model = get_user_model()
        fields = ("username",)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for field in self.fields.values():
            field.widget.attrs["class"] = INPUT
