"""Forms of what a site also records. A form that changes a saved record asks for the reason,
which goes to the audit trail; a refusal of the service lands beside what the person typed."""

from __future__ import annotations

from typing import Any

from crispy_forms.helper import FormHelper
from crispy_forms.layout import Submit
from django import forms
from django.contrib.auth import get_user_model
from django.utils.translation import gettext_lazy as _

from conduct.models import (
    TASK_LABELS,
    ChildbearingPotential,
    ConcomitantMedication,
    Delegation,
    PregnancyTest,
    PriorTreatment,
    TrainingRecord,
)
from participants.roles import ROLE_LABELS

DATE = {"type": "date"}
DATETIME = {"type": "datetime-local"}


def _helper(label: Any, action: str = "") -> FormHelper:
    helper = FormHelper()
    helper.form_action = action
    helper.add_input(Submit("submit", label))
    return helper


class _Edit:
    """A reason field when the form changes a saved record."""

    def _add_reason(self, editing: bool) -> None:
        if editing:
            self.fields["reason"] = forms.CharField(  # type: ignore[attr-defined]
                label=_("Reason for the change"), max_length=500
            )

    def values(self) -> dict[str, Any]:
        data = self.cleaned_data  # type: ignore[attr-defined]
        return {name: data[name] for name in self.Meta.fields}  # type: ignore[attr-defined]


class PriorTreatmentForm(_Edit, forms.ModelForm):
    class Meta:
        model = PriorTreatment
        fields = [
            "treatment",
            "dose",
            "started_on",
            "stopped_on",
            "adequate",
            "duration_weeks",
            "dose_adequate",
            "response",
        ]
        widgets = {
            "started_on": forms.DateInput(attrs=DATE, format="%Y-%m-%d"),
            "stopped_on": forms.DateInput(attrs=DATE, format="%Y-%m-%d"),
        }
        help_texts = {
            "adequate": _("Long enough at an adequate dose to judge the response (e.g. 4 weeks or more)."),
            "duration_weeks": _("Weeks at an adequate dose."),
        }

    def __init__(self, *args: Any, action: str = "", editing: bool = False, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._add_reason(editing)
        self.helper = _helper(_("Save the changes") if editing else _("Add the prior treatment"), action)


class MedicationForm(_Edit, forms.ModelForm):
    class Meta:
        model = ConcomitantMedication
        fields = ["name", "drug_class", "dose", "unit", "route", "started_on", "stopped_on", "indication"]
        widgets = {
            "started_on": forms.DateInput(attrs=DATE, format="%Y-%m-%d"),
            "stopped_on": forms.DateInput(attrs=DATE, format="%Y-%m-%d"),
        }
        help_texts = {
            "drug_class": _(
                "An antidepressant started after randomization is recorded as a relapse event (new "
                "treatment)."
            ),
        }

    def __init__(self, *args: Any, action: str = "", editing: bool = False, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._add_reason(editing)
        self.helper = _helper(_("Save the changes") if editing else _("Add the medication"), action)


class ChildbearingPotentialForm(forms.ModelForm):
    reason = forms.CharField(
        label=_("Reason for the change"),
        max_length=500,
        required=False,
        help_text=_("Only when changing what is recorded."),
    )

    class Meta:
        model = ChildbearingPotential
        fields = ["of_childbearing_potential", "assessed_on", "note"]
        widgets = {
            "assessed_on": forms.DateInput(attrs=DATE, format="%Y-%m-%d"),
            "note": forms.Textarea(attrs={"rows": 2}),
        }
        help_texts = {
            "of_childbearing_potential": _(
                "Ticked: a negative pregnancy test is needed before every infusion."
            ),
        }

    def __init__(self, *args: Any, action: str = "", **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.helper = _helper(_("Save"), action)


class PregnancyTestForm(_Edit, forms.ModelForm):
    class Meta:
        model = PregnancyTest
        fields = ["tested_at", "kind", "result"]
        widgets = {"tested_at": forms.DateTimeInput(attrs=DATETIME, format="%Y-%m-%dT%H:%M")}
        help_texts = {"tested_at": _("The real time of the test (also when entering a paper form later).")}

    def __init__(self, *args: Any, action: str = "", editing: bool = False, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._add_reason(editing)
        self.helper = _helper(_("Save the changes") if editing else _("Record the test"), action)


class DelegationForm(_Edit, forms.ModelForm):
    tasks = forms.MultipleChoiceField(
        label=_("Delegated tasks"),
        choices=list(TASK_LABELS.items()),
        widget=forms.CheckboxSelectMultiple,
        help_text=_("Tasks of the chosen role only (the capabilities the role grants in the system)."),
    )

    class Meta:
        model = Delegation
        fields = ["staff", "role", "tasks", "starts_on", "ends_on"]
        widgets = {
            "starts_on": forms.DateInput(attrs=DATE, format="%Y-%m-%d"),
            "ends_on": forms.DateInput(attrs=DATE, format="%Y-%m-%d"),
        }

    def __init__(self, *args: Any, action: str = "", editing: bool = False, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["staff"].queryset = get_user_model().objects.filter(is_active=True).order_by("username")
        self.fields["role"].choices = [("", "---------"), *((r, label) for r, label in ROLE_LABELS.items())]
        self._add_reason(editing)
        self.helper = _helper(_("Save the changes") if editing else _("Add to the delegation log"), action)


class TrainingForm(_Edit, forms.ModelForm):
    class Meta:
        model = TrainingRecord
        fields = ["staff", "course", "completed_on", "certificate", "expires_on"]
        widgets = {
            "completed_on": forms.DateInput(attrs=DATE, format="%Y-%m-%d"),
            "expires_on": forms.DateInput(attrs=DATE, format="%Y-%m-%d"),
        }
        help_texts = {"certificate": _("Certificate number or where the certificate is filed.")}

    def __init__(self, *args: Any, action: str = "", editing: bool = False, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["staff"].queryset = get_user_model().objects.filter(is_active=True).order_by("username")
        self._add_reason(editing)
        self.helper = _helper(_("Save the changes") if editing else _("Add the training record"), action)
