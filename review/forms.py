from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from ketatrial.protocol import COORDINATOR, INFUSION_PHYSICIAN, RATER

ANSWERERS = [
    (COORDINATOR, _("Coordinator")),
    (RATER, _("Rater")),
    (INFUSION_PHYSICIAN, _("Infusion physician")),
]


class RaiseForm(forms.Form):
    field = forms.ChoiceField(label=_("Field"), required=False)
    text = forms.CharField(
        label=_("Question"),
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_(
            "For a rating, name it by its date: never by period or timepoint (the rater is blinded)."
        ),
    )
    assignee_role = forms.ChoiceField(label=_("Assigned to"), choices=ANSWERERS)
    due_date = forms.DateField(label=_("Due"), required=False, widget=forms.DateInput(attrs={"type": "date"}))

    def __init__(self, *args: Any, fields: list[tuple[str, str]], assignee: str, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["field"].choices = [("", _("The whole form"))] + fields
        self.fields["assignee_role"].initial = assignee


class AnswerForm(forms.Form):
    text = forms.CharField(label=_("Answer"), widget=forms.Textarea(attrs={"rows": 3}))
    corrected = forms.BooleanField(
        label=_("I corrected the data in the form (the correction and its reason are in the audit trail)"),
        required=False,
    )


class CloseForm(forms.Form):
    reason = forms.CharField(label=_("Reason for closing"), widget=forms.Textarea(attrs={"rows": 2}))


class ReopenForm(forms.Form):
    text = forms.CharField(label=_("What is still unclear"), widget=forms.Textarea(attrs={"rows": 2}))


class VerifyForm(forms.Form):
    fields_verified = forms.MultipleChoiceField(
        label=_("Fields verified against the source (none ticked: the whole form)"),
        required=False,
        widget=forms.CheckboxSelectMultiple,
    )

    def __init__(self, *args: Any, fields: list[tuple[str, str]], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["fields_verified"].choices = fields


class LockForm(forms.Form):
    reason = forms.CharField(label=_("Reason"), required=False, max_length=500)


class UnlockForm(forms.Form):
    reason = forms.CharField(label=_("Reason for unlocking"), max_length=500)


class SignForm(forms.Form):
    username = forms.CharField(label=_("Username"))
    password = forms.CharField(label=_("Password"), widget=forms.PasswordInput)


class DeviationForm(forms.Form):
    participant = forms.ModelChoiceField(label=_("Participant"), queryset=None)
    category = forms.ChoiceField(label=_("Category"))
    occurred_on = forms.DateField(label=_("Date"), widget=forms.DateInput(attrs={"type": "date"}))
    description = forms.CharField(label=_("What happened"), widget=forms.Textarea(attrs={"rows": 3}))
    action = forms.CharField(
        label=_("Action taken"), required=False, widget=forms.Textarea(attrs={"rows": 2})
    )
    major = forms.BooleanField(label=_("Major (affects the primary analysis or safety)"), required=False)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        from participants.models import Participant
        from review.models import ProtocolDeviation

        super().__init__(*args, **kwargs)
        self.fields["participant"].queryset = Participant.objects.order_by("code")
        self.fields["participant"].label_from_instance = lambda p: p.code
        self.fields["category"].choices = ProtocolDeviation.Category.choices
