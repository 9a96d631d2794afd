"""Forms of the unblinded pharmacist's pages: preparing a dose, the second pharmacist's check,
discarding a syringe that was not given, the controlled-drug register's waste and return lines."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from crispy_forms.helper import FormHelper
from crispy_forms.layout import Submit
from django import forms
from django.utils.translation import gettext_lazy as _

from ketatrial.trial import protocol


def _helper(submit_label: Any, css: str = "btn-primary") -> FormHelper:
    helper = FormHelper()
    helper.add_input(Submit("submit", submit_label, css_class=css))
    return helper


class PrepareDoseForm(forms.Form):
    """Pharmacist A's record of a preparation; the check is another pharmacist's, later."""

    period = forms.TypedChoiceField(label=_("Period"), choices=[(1, "1"), (2, "2")], coerce=int)
    infusion_number = forms.IntegerField(label=_("Infusion number"), min_value=1, max_value=8)
    # Bounded in __init__ by the plausible range of the protocol in force.
    weight_kg = forms.DecimalField(label=_("Weight measured today (kg)"), decimal_places=1)
    receipt = forms.ModelChoiceField(label=_("Ketamine lot"), queryset=None, required=False)

    def __init__(self, *args: Any, receipts: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # The plausible range of the protocol in force (the dosing service checks it again).
        p = protocol()
        self.fields["weight_kg"] = forms.DecimalField(
            label=_("Weight measured today (kg)"),
            min_value=Decimal(str(p.weight_min_kg)),
            max_value=Decimal(str(p.weight_max_kg)),
            decimal_places=1,
        )
        self.fields["receipt"].queryset = receipts
        self.helper = _helper(_("Record preparation"))


class PreparationCheckForm(forms.Form):
    """Pharmacist B's check: what B reads off the vial and the syringe, and the decision."""

    lot = forms.CharField(
        label=_("Lot read on the vial"),
        required=False,
        max_length=40,
        help_text=_("Empty when no ketamine vial was used."),
    )
    volume_drawn_ml = forms.DecimalField(
        label=_("Volume of ketamine drawn (mL), read on the syringe"),
        required=False,
        min_value=Decimal("0"),
        decimal_places=2,
        help_text=_("0 when no ketamine was drawn."),
    )
    decision = forms.ChoiceField(
        label=_("Decision"),
        choices=[
            ("confirm", _("Confirm: the preparation is right")),
            ("reject", _("Reject: destroy the syringe")),
        ],
        widget=forms.RadioSelect,
    )
    reason = forms.CharField(
        label=_("Reason (required to reject)"),
        required=False,
        max_length=500,
        widget=forms.Textarea(attrs={"rows": 2}),
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.helper = _helper(_("Record my check"))


class VialsOutForm(forms.Form):
    """Whole vials leaving a lot: wasted (broken, expired) or returned to the supplier."""

    kind = forms.ChoiceField(
        label=_("What happened"),
        choices=[
            ("wasted", _("Wasted (broken, expired...): needs a witness")),
            ("returned", _("Returned to the supplier")),
        ],
    )
    receipt = forms.ModelChoiceField(label=_("Lot"), queryset=None)
    vials = forms.IntegerField(label=_("Vials"), min_value=1)
    note = forms.CharField(label=_("What happened, or the return's reference"), max_length=500)

    def __init__(self, *args: Any, receipts: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["receipt"].queryset = receipts
        self.helper = _helper(_("Record vials out"))


class DiscardPreparationForm(forms.Form):
    """A pharmacist discards a syringe that was not given (expired, dropped...), with the reason."""

    preparation = forms.TypedChoiceField(
        label=_("Syringe to discard"),
        coerce=int,
        error_messages={
            "invalid_choice": _(
                "This syringe can no longer be discarded: it was given, or it is already discarded "
                "or rejected. Reload the page."
            )
        },
    )
    reason = forms.CharField(
        label=_("Reason"),
        max_length=500,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text=_("Past its beyond-use time, dropped, contaminated..."),
    )

    def __init__(self, *args: Any, choices: list[tuple[int, str]], **kwargs: Any) -> None:
        super().__init__(*args, prefix="discard", **kwargs)
        self.fields["preparation"].choices = [("", "---------"), *choices]
        # Its own button name: the page's other form has the "submit" one (ids stay unique).
        self.helper = FormHelper()
        self.helper.add_input(Submit("discard", _("Discard the syringe"), css_class="btn-danger"))
