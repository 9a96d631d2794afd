from __future__ import annotations

from typing import Any

from crispy_forms.helper import FormHelper
from crispy_forms.layout import Submit
from django import forms
from django.utils.translation import gettext_lazy as _

from clinimetry.forms import scale_item_fields
from infusions.dissociation import BPRS_POSITIVE_ITEMS, CADSS_ITEMS
from infusions.models import AdverseEvent, VitalSigns
from infusions.services import PRECHECKS

DT = {"type": "datetime-local"}


def _helper(label: Any, action: str = "") -> FormHelper:
    helper = FormHelper()
    helper.form_action = action
    helper.add_input(Submit("submit", label))
    return helper


CLOSED_DAY_REASON_LABEL = _("Reason to keep a visit on a closed day")


class ScheduleForm(forms.Form):
    day1 = forms.DateField(label=_("Day 1 (first infusion)"), widget=forms.DateInput(attrs={"type": "date"}))
    reason = forms.CharField(label=_("Reason (when moving day 1)"), required=False, max_length=300)
    # Asked only after the warning that a visit falls on a closed day (the timeline shows it).
    closed_day_reason = forms.CharField(
        label=CLOSED_DAY_REASON_LABEL, required=False, max_length=300, widget=forms.HiddenInput
    )

    def __init__(self, *args: Any, action: str = "", **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.helper = _helper(_("Save day 1"), action)


class RescheduleForm(forms.Form):
    period = forms.IntegerField(widget=forms.HiddenInput)
    number = forms.IntegerField(widget=forms.HiddenInput)
    new_date = forms.DateField(label=_("New date"), widget=forms.DateInput(attrs={"type": "date"}))
    reason = forms.CharField(label=_("Reason (required outside the window)"), required=False, max_length=300)
    closed_day_reason = forms.CharField(label=CLOSED_DAY_REASON_LABEL, required=False, max_length=300)


class PlannedTimeForm(forms.Form):
    period = forms.IntegerField(widget=forms.HiddenInput)
    number = forms.IntegerField(widget=forms.HiddenInput)
    planned_time = forms.TimeField(
        label=_("Planned start time"), widget=forms.TimeInput(attrs={"type": "time"})
    )
    reason = forms.CharField(label=_("Reason"), max_length=300)


class MissedForm(forms.Form):
    period = forms.IntegerField(widget=forms.HiddenInput)
    number = forms.IntegerField(widget=forms.HiddenInput)
    reason = forms.CharField(label=_("Why was it missed?"), max_length=300)


class StartForm(forms.Form):
    syringe_code = forms.CharField(label=_("Syringe code (scan or type)"), max_length=20)
    pump_rate_ml_h = forms.DecimalField(label=_("Pump rate (mL/h)"), decimal_places=1, max_digits=6)
    started_at = forms.DateTimeField(label=_("Start time"), widget=forms.DateTimeInput(attrs=DT))

    def __init__(self, *args: Any, action: str = "", **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for key, label in PRECHECKS:
            self.fields[f"check_{key}"] = forms.BooleanField(label=label, required=False)
        self.order_fields(
            [f"check_{k}" for k, _l in PRECHECKS] + ["syringe_code", "pump_rate_ml_h", "started_at"]
        )
        self.helper = _helper(_("Start infusion"), action)

    def prechecks(self) -> dict[str, bool]:
        return {key: bool(self.cleaned_data.get(f"check_{key}")) for key, _l in PRECHECKS}


# The vitals form's choice for a reading between the protocol times (services: minute None).
EXTRA_READING = "extra"


def _minute(value: str) -> int | None:
    return None if value == EXTRA_READING else int(value)


class VitalsForm(forms.Form):
    minute = forms.TypedChoiceField(label=_("Time point"), coerce=_minute)
    measured_at = forms.DateTimeField(label=_("Measured at"), widget=forms.DateTimeInput(attrs=DT))
    # Range checks live in the service (one place); the browser only keeps the digits.
    systolic = forms.IntegerField(label=_("Systolic (mmHg)"), required=False)
    diastolic = forms.IntegerField(label=_("Diastolic (mmHg)"), required=False)
    heart_rate = forms.IntegerField(label=_("Heart rate (bpm)"), required=False)
    spo2 = forms.IntegerField(label=_("SpO2 (%)"), required=False)
    confirm_reason = forms.CharField(
        label=_("Unusual value confirmed: how (e.g. measured again)"), required=False, max_length=300
    )

    def __init__(self, *args: Any, minutes: list[int], action: str = "", **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        from infusions.vitals import PLAUSIBLE, UNUSUAL_OUTSIDE

        # The ranges on the form: possible (outside: refused), usual (outside: confirm with a reason).
        for name in ("systolic", "diastolic", "heart_rate", "spo2"):
            (low, high), (usual_low, usual_high) = PLAUSIBLE[name], UNUSUAL_OUTSIDE[name]
            self.fields[name].help_text = _("possible %(low)s-%(high)s; usual %(ulow)s-%(uhigh)s") % {
                "low": low,
                "high": high,
                "ulow": usual_low,
                "uhigh": usual_high,
            }
        self.fields["minute"].choices = [
            (m, _("before start") if m == -1 else f"{m} min") for m in minutes
        ] + [(EXTRA_READING, _("Extra reading (unscheduled), at the time measured"))]
        self.helper = _helper(_("Record vitals"), action)


class AlertActionForm(forms.Form):
    vitals = forms.IntegerField(widget=forms.HiddenInput)
    action = forms.ChoiceField(label=_("Action"), choices=VitalSigns.Action.choices, widget=forms.RadioSelect)
    reason = forms.CharField(label=_("Reason"), required=False, max_length=500)


class DissociationForm(forms.Form):
    prefix = "dis"  # the vitals form on the same page also has a "minute" field
    minute = forms.TypedChoiceField(
        label=_("Time point"), coerce=int, choices=[(0, _("before start")), (40, "40 min")]
    )
    # Empty means now; a paper form entered after a downtime gives its real time (conduct/paper.py).
    rated_at = forms.DateTimeField(
        label=_("Rated at"),
        required=False,
        widget=forms.DateTimeInput(attrs=DT),
        help_text=_("Leave empty to record it now; when entering a paper form, the time written on it."),
    )

    def __init__(self, *args: Any, action: str = "", **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Named, with item-specific guidance, from the scale registry (clinimetry/scales.py, items.py).
        self.fields.update(scale_item_fields("cadss", prefix="cadss_"))
        for name in BPRS_POSITIVE_ITEMS:
            self.fields[f"bprs_{name}"] = forms.IntegerField(
                label=_("BPRS: %s") % name.replace("_", " "), min_value=1, max_value=7
            )
        self.helper = _helper(_("Record CADSS and BPRS+"), action)

    def items(self) -> tuple[list[int], list[int]]:
        d = self.cleaned_data
        return [d[f"cadss_{n}"] for n in range(1, CADSS_ITEMS + 1)], [
            d[f"bprs_{n}"] for n in BPRS_POSITIVE_ITEMS
        ]


class StopForm(forms.Form):
    ended_at = forms.DateTimeField(label=_("Stop time"), widget=forms.DateTimeInput(attrs=DT))
    interruptions = forms.CharField(
        label=_("Interruptions"), required=False, widget=forms.Textarea(attrs={"rows": 2})
    )

    def __init__(self, *args: Any, action: str = "", **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.helper = _helper(_("Record stop"), action)


class PauseForm(forms.Form):
    prefix = "pause"
    paused_at = forms.DateTimeField(label=_("Pump stopped at"), widget=forms.DateTimeInput(attrs=DT))
    pause_reason = forms.CharField(label=_("Reason for the pause"), max_length=500)

    def __init__(self, *args: Any, action: str = "", **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.helper = _helper(_("Pause the infusion"), action)


class ResumeForm(forms.Form):
    prefix = "resume"
    resumed_at = forms.DateTimeField(label=_("Pump restarted at"), widget=forms.DateTimeInput(attrs=DT))

    def __init__(self, *args: Any, action: str = "", **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.helper = _helper(_("Resume the infusion"), action)


class DischargeForm(forms.Form):
    discharged_at = forms.DateTimeField(label=_("Discharge time"), widget=forms.DateTimeInput(attrs=DT))

    def __init__(self, *args: Any, action: str = "", **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.helper = _helper(_("Discharge"), action)


class AdverseEventForm(forms.ModelForm):
    """Report an adverse event; any seriousness criterion makes it serious (ICH E2A)."""

    seriousness_criteria = forms.MultipleChoiceField(
        label=_("Seriousness criteria"),
        choices=AdverseEvent.Criterion.choices,
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text=_(
            "Tick every criterion the event meets: any one makes it a serious adverse event, which "
            "needs a narrative and its expectedness. Leave all empty for a non-serious event."
        ),
    )

    class Meta:
        model = AdverseEvent
        fields = [
            "term",
            "category",
            "onset",
            "severity",
            "seriousness_criteria",
            "relatedness",
            "expectedness",
            "action",
            "outcome",
            "outcome_date",
            "narrative",
        ]
        widgets = {
            "onset": forms.DateTimeInput(attrs=DT, format="%Y-%m-%dT%H:%M"),
            "outcome_date": forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
            "narrative": forms.Textarea(attrs={"rows": 4}),
        }
        help_texts = {
            "outcome_date": _("For a final outcome: recovered, recovered with sequelae or fatal."),
            "narrative": _(
                "Required for a serious event: what happened, when, what was done and how it went."
            ),
        }

    def __init__(self, *args: Any, action: str = "", submit: Any = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.helper = _helper(submit or _("Report adverse event"), action)


class AdverseEventEditForm(AdverseEventForm):
    """Change a reported adverse event: the reason goes to the audit trail."""

    reason = forms.CharField(label=_("Reason for the change"), max_length=300)

    def __init__(self, *args: Any, action: str = "", **kwargs: Any) -> None:
        super().__init__(*args, action=action, submit=_("Save the changes"), **kwargs)

    def changes(self) -> dict[str, Any]:
        return {name: self.cleaned_data[name] for name in self.Meta.fields}


class AdverseEventFollowUpForm(forms.Form):
    on = forms.DateField(label=_("Date of the information"), widget=forms.DateInput(attrs={"type": "date"}))
    note = forms.CharField(
        label=_("Follow-up note"),
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_("New information: course, treatment, test results, contacts with other carers."),
    )

    def __init__(self, *args: Any, action: str = "", **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.helper = _helper(_("Add the follow-up"), action)


WEEKDAYS = [
    (0, _("Monday")),
    (1, _("Tuesday")),
    (2, _("Wednesday")),
    (3, _("Thursday")),
    (4, _("Friday")),
    (5, _("Saturday")),
    (6, _("Sunday")),
]


class ClosedDayForm(forms.Form):
    day = forms.DateField(label=_("Day"), widget=forms.DateInput(attrs={"type": "date"}))
    name = forms.CharField(label=_("Name (holiday or why the site is closed)"), max_length=200)

    def __init__(self, *args: Any, action: str = "", **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.helper = _helper(_("Add the closed day"), action)


class ClosedDayRemoveForm(forms.Form):
    closed_day = forms.IntegerField(widget=forms.HiddenInput)
    reason = forms.CharField(label=_("Reason"), max_length=300)


class ClosedWeekdaysForm(forms.Form):
    weekdays = forms.TypedMultipleChoiceField(
        label=_("Weekdays the site is closed"),
        choices=WEEKDAYS,
        coerce=int,
        required=False,
        widget=forms.CheckboxSelectMultiple,
    )
    reason = forms.CharField(label=_("Reason for the change"), max_length=300)

    def __init__(self, *args: Any, action: str = "", **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.helper = _helper(_("Save the weekdays"), action)


class StatutoryHolidaysForm(forms.Form):
    year = forms.IntegerField(label=_("Year"), min_value=2000, max_value=2100)

    def __init__(self, *args: Any, action: str = "", **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.helper = _helper(_("Add the statutory holidays of this year"), action)
