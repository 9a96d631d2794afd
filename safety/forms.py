"""Safety forms: the adverse-event listing's filters, the suicide-risk follow-up and its closing."""

from __future__ import annotations

from typing import Any

from crispy_forms.helper import FormHelper
from crispy_forms.layout import Submit
from django import forms
from django.utils.translation import gettext_lazy as _

from infusions.models import AdverseEvent
from safety.models import SuicideRiskFollowUp
from safety.selectors import NON_SERIOUS, OPEN, RESOLVED, SERIOUS

DATE = {"type": "date"}
ANY = [("", _("Any"))]


class AdverseEventFilterForm(forms.Form):
    """The listing's filters (GET); every field optional."""

    participant = forms.CharField(label=_("Participant ID"), required=False, max_length=20)
    seriousness = forms.ChoiceField(
        label=_("Seriousness"),
        required=False,
        choices=[
            *ANY,
            (SERIOUS, _("Serious")),
            (NON_SERIOUS, _("Not serious")),
            (_("Seriousness criterion"), AdverseEvent.Criterion.choices),
        ],
    )
    severity = forms.ChoiceField(
        label=_("Severity"), required=False, choices=[*ANY, *AdverseEvent.Severity.choices]
    )
    relatedness = forms.ChoiceField(
        label=_("Causality"), required=False, choices=[*ANY, *AdverseEvent.Relatedness.choices]
    )
    state = forms.ChoiceField(
        label=_("Course"),
        required=False,
        choices=[*ANY, (OPEN, _("Open (not resolved)")), (RESOLVED, _("Resolved (final outcome)"))],
    )
    onset_from = forms.DateField(label=_("Onset from"), required=False, widget=forms.DateInput(attrs=DATE))
    onset_to = forms.DateField(label=_("Onset to"), required=False, widget=forms.DateInput(attrs=DATE))

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for field in self.fields.values():
            select = isinstance(field.widget, forms.Select)
            field.widget.attrs["class"] = (
                "form-select form-select-sm" if select else "form-control form-control-sm"
            )


class SuicideRiskFollowUpForm(forms.ModelForm):
    """The structured assessment of a suicide-risk item and what was done."""

    reason = forms.CharField(
        label=_("Reason for the correction"),
        required=False,
        max_length=300,
        help_text=_("Only when correcting an assessment already recorded."),
    )

    class Meta:
        model = SuicideRiskFollowUp
        fields = [
            "assessed_at",
            *SuicideRiskFollowUp.QUESTIONS,
            "risk_level",
            "safety_plan",
            "support_contacted",
            "referral",
            "hospitalised",
            "notes",
        ]
        widgets = {
            "assessed_at": forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
            **dict.fromkeys(SuicideRiskFollowUp.QUESTIONS, forms.RadioSelect),
            "risk_level": forms.RadioSelect,
            "notes": forms.Textarea(attrs={"rows": 3}),
        }

    def __init__(self, *args: Any, action: str = "", **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["assessed_at"].required = True
        self.fields["risk_level"].required = True
        self.fields["referral"].required = True
        for name in SuicideRiskFollowUp.QUESTIONS:
            self.fields[name].required = True
            # A radio list without the empty "---------" choice a blank model field brings.
            self.fields[name].choices = SuicideRiskFollowUp.Answer.choices
        self.fields["risk_level"].choices = SuicideRiskFollowUp.Risk.choices
        self.helper = FormHelper()
        self.helper.form_action = action
        self.helper.add_input(Submit("submit", _("Record the assessment")))

    def answers(self) -> dict[str, str]:
        return {q: self.cleaned_data[q] for q in SuicideRiskFollowUp.QUESTIONS}


class CloseForm(forms.Form):
    reason = forms.CharField(
        label=_("Reason for closing"),
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text=_("For example: risk reassessed as low at the next visit, safety plan in place."),
    )

    def __init__(self, *args: Any, action: str = "", **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.helper = FormHelper()
        self.helper.form_action = action
        self.helper.add_input(Submit("submit", _("Close the follow-up"), css_class="btn-danger"))
