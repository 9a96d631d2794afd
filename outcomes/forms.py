"""The export request form: what a package holds and why (services.export_request checks the
options against the blinding level again; the form only offers what the user's widest level has)."""

from __future__ import annotations

from typing import Any

from django import forms as django_forms
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from outcomes import export_options
from outcomes.levels import BLINDED
from outcomes.models import ExportForm, ExportIdentifiers, ExportVisits
from outcomes.services import PURPOSE_MAX

CHECK = {"class": "form-check-input"}


class ExportRequestForm(django_forms.Form):
    purpose = django_forms.CharField(
        label=_("Purpose of the export"),
        help_text=_("Recorded in the audit trail with who asked, when and for what."),
        max_length=PURPOSE_MAX,
        widget=django_forms.Textarea(attrs={"rows": 2, "class": "form-control"}),
    )
    forms = django_forms.MultipleChoiceField(
        label=_("Forms"), widget=django_forms.CheckboxSelectMultiple(attrs=CHECK)
    )
    visits = django_forms.MultipleChoiceField(
        label=_("Visits"), widget=django_forms.CheckboxSelectMultiple(attrs=CHECK)
    )
    timepoints = django_forms.MultipleChoiceField(
        label=_("Timepoints (none selected: every timepoint of the visits)"),
        help_text=_(
            "Rating timepoints narrow the ratings and MRS sessions narrow the MRS results; "
            "choosing none of a kind keeps all of that kind."
        ),
        required=False,
        widget=django_forms.SelectMultiple(attrs={"size": 8, "class": "form-select"}),
    )
    identifiers = django_forms.ChoiceField(
        label=_("Participant identifiers"),
        choices=ExportIdentifiers.choices,
        initial=ExportIdentifiers.STORED,
        widget=django_forms.RadioSelect(attrs=CHECK),
    )
    date_shift = django_forms.BooleanField(required=False, widget=django_forms.CheckboxInput(attrs=CHECK))

    def __init__(self, *args: Any, blinding: str, timepoints: list[str], **kwargs: Any) -> None:
        """`blinding`: the widest level the user may export at (its forms and visits are offered);
        `timepoints`: the codes of that level's data (services.export_timepoint_choices)."""
        super().__init__(*args, **kwargs)
        form_labels, visit_labels = dict(ExportForm.choices), dict(ExportVisits.choices)
        self.fields["forms"].choices = [(f, form_labels[f]) for f in export_options.allowed_forms(blinding)]
        # Ticked at first: what a blinded export may hold (the unblinded-only ones are ticked on purpose).
        self.fields["forms"].initial = list(export_options.allowed_forms(BLINDED))
        self.fields["visits"].choices = [
            (v, visit_labels[v]) for v in export_options.allowed_visits(blinding)
        ]
        self.fields["visits"].initial = list(export_options.allowed_visits(BLINDED))
        self.fields["timepoints"].choices = [(code, code) for code in timepoints]
        self.fields["date_shift"].label = gettext(
            "Shift every date of a participant by that participant's own offset (up to %(days)d days)"
        ) % {"days": export_options.DATE_SHIFT_MAX_DAYS}

    def options(self) -> export_options.ExportOptions:
        data = self.cleaned_data
        return export_options.ExportOptions(
            forms=tuple(data["forms"]),
            visits=tuple(data["visits"]),
            timepoints=tuple(data["timepoints"]),
            identifiers=data["identifiers"],
            date_shift=bool(data["date_shift"]),
        )
