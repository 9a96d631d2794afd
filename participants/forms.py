from __future__ import annotations

from typing import Any

from crispy_forms.helper import FormHelper
from crispy_forms.layout import Submit
from django import forms
from django.conf import settings
from django.utils.translation import gettext_lazy as _

from participants.models import Participant
from participants.roles import ROLE_LABELS

ROLE_CHOICES = [(code, label) for code, label in ROLE_LABELS.items()]


def _helper(submit_label: Any) -> FormHelper:
    helper = FormHelper()
    helper.add_input(Submit("submit", submit_label))
    return helper


class ParticipantCreateForm(forms.ModelForm):
    class Meta:
        model = Participant
        fields = ["baseline_weight_kg", "height_cm"]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.helper = _helper(_("Enroll"))


class ParticipantEditForm(forms.ModelForm):
    reason = forms.CharField(
        label=_("Reason for the change"),
        max_length=500,
        help_text=_("Required: the audit trail keeps it with the old and new values."),
        widget=forms.Textarea(attrs={"rows": 2}),
    )

    class Meta:
        model = Participant
        fields = ["baseline_weight_kg", "height_cm"]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.helper = _helper(_("Save correction"))


class UserCreateForm(forms.Form):
    username = forms.CharField(label=_("Username"), max_length=150)
    first_name = forms.CharField(label=_("First name"), max_length=150)
    last_name = forms.CharField(label=_("Last name"), max_length=150)
    email = forms.EmailField(label=_("Email"))
    password = forms.CharField(label=_("Initial password"), widget=forms.PasswordInput(render_value=True))
    roles = forms.MultipleChoiceField(
        label=_("Roles"), choices=ROLE_CHOICES, widget=forms.CheckboxSelectMultiple, required=False
    )
    language = forms.ChoiceField(label=_("Language"), choices=settings.LANGUAGES)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.helper = _helper(_("Create user"))


class UserRolesForm(forms.Form):
    roles = forms.MultipleChoiceField(
        label=_("Roles"), choices=ROLE_CHOICES, widget=forms.CheckboxSelectMultiple, required=False
    )
    active = forms.BooleanField(label=_("Account active"), required=False)
    reason = forms.CharField(
        label=_("Reason for the change"), max_length=500, widget=forms.Textarea(attrs={"rows": 2})
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.helper = _helper(_("Save roles"))
