from __future__ import annotations

from decimal import Decimal
from typing import Any

from crispy_forms.helper import FormHelper
from crispy_forms.layout import Submit
from django import forms
from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.utils.translation import gettext_lazy as _

from ketatrial.trial import protocol
from participants.models import Participant
from participants.roles import ROLE_LABELS

ROLE_CHOICES = [(code, label) for code, label in ROLE_LABELS.items()]


def _helper(submit_label: Any) -> FormHelper:
    helper = FormHelper()
    helper.add_input(Submit("submit", submit_label))
    return helper


def _confirm_field() -> forms.CharField:
    return forms.CharField(
        label=_("Unusual value confirmed: how (e.g. weighed again, date checked in the source)"),
        required=False,
        max_length=300,
    )


def _show_ranges(form: forms.Form) -> None:
    """The ranges on the form: possible (outside: refused), usual (outside: confirm with a reason)."""
    p = protocol()
    form.fields["baseline_weight_kg"].help_text = _(
        "possible %(low)s-%(high)s kg; usual %(ulow)s-%(uhigh)s kg"
    ) % {
        "low": f"{p.weight_min_kg:g}",
        "high": f"{p.weight_max_kg:g}",
        "ulow": f"{p.weight_usual_min_kg:g}",
        "uhigh": f"{p.weight_usual_max_kg:g}",
    }
    form.fields["baseline_date"].help_text = _(
        "after consent, not in the future; usual: within the last %(days)s days"
    ) % {"days": p.baseline_date_usual_days}


class ParticipantEditForm(forms.ModelForm):
    confirm_reason = _confirm_field()
    reason = forms.CharField(
        label=_("Reason for the change"),
        max_length=500,
        help_text=_("Required: the audit trail keeps it with the old and new values."),
        widget=forms.Textarea(attrs={"rows": 2}),
    )

    class Meta:
        model = Participant
        fields = ["baseline_weight_kg", "height_cm", "baseline_date"]
        widgets = {"baseline_date": forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")}

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # The protocol's plausible weight range (the model holds physical bounds only).
        p = protocol()
        weight = self.fields["baseline_weight_kg"]
        weight.min_value, weight.max_value = Decimal(str(p.weight_min_kg)), Decimal(str(p.weight_max_kg))
        weight.validators = [
            *weight.validators,
            MinValueValidator(weight.min_value),
            MaxValueValidator(weight.max_value),
        ]
        _show_ranges(self)
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
    # Empty: no saved choice, so the pages follow the browser's language until the user picks one.
    language = forms.ChoiceField(
        label=_("Language"),
        choices=[("", _("The browser's language")), *settings.LANGUAGES],
        required=False,
    )

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


class UserAccessForm(forms.Form):
    """The account's last day of access and a reset of its second factor (user edit page)."""

    SUBMIT = "save_access"

    access_until = forms.DateField(
        label=_("Last day of access"),
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
        help_text=_("From the next day this account can no longer sign in. Empty: no end."),
    )
    reset_second_factor = forms.BooleanField(
        label=_("Reset the second factor (lost or replaced phone)"),
        required=False,
        help_text=_("The person sets up their authenticator app again at their next sign-in."),
    )
    reason = forms.CharField(
        label=_("Reason for the change"), max_length=500, widget=forms.Textarea(attrs={"rows": 2})
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("prefix", "access")
        super().__init__(*args, **kwargs)
        self.helper = FormHelper()
        self.helper.add_input(Submit(self.SUBMIT, _("Save access")))


YES_NO = [("yes", _("Yes")), ("no", _("No"))]


class ConsentForm(forms.Form):
    version = forms.CharField(label=_("Consent version"), max_length=20)
    consented_at = forms.DateTimeField(
        label=_("Date and time of consent"), widget=forms.DateTimeInput(attrs={"type": "datetime-local"})
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.helper = _helper(_("Record consent"))


class DeclineForm(forms.Form):
    reason = forms.CharField(label=_("Reason for declining"), max_length=500)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.helper = _helper(_("Record decline"))
        self.helper.form_class = "mt-2"


class EligibilityForm(forms.Form):
    """One yes/no per criterion of the screening's own protocol version, plus the HDRS-17 total."""

    hdrs17_total = forms.IntegerField(
        label=_("Screening HDRS-17 total"), min_value=0, max_value=52, required=False
    )
    reason = forms.CharField(
        label=_("Reason for the change"),
        max_length=500,
        required=False,
        help_text=_("Required when an earlier assessment is corrected."),
    )

    def __init__(self, *args: Any, inclusion: list[str], exclusion: list[str], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for i, text in enumerate(inclusion):
            self.fields[f"inc_{i}"] = forms.ChoiceField(
                label=text, choices=YES_NO, widget=forms.RadioSelect, required=False
            )
        for i, text in enumerate(exclusion):
            self.fields[f"exc_{i}"] = forms.ChoiceField(
                label=text, choices=YES_NO, widget=forms.RadioSelect, required=False
            )
        self.inclusion_names = [f"inc_{i}" for i in range(len(inclusion))]
        self.exclusion_names = [f"exc_{i}" for i in range(len(exclusion))]
        self.order_fields([*self.inclusion_names, *self.exclusion_names, "hdrs17_total", "reason"])
        self.helper = _helper(_("Save eligibility"))

    @staticmethod
    def _answer(value: str) -> bool | None:
        return {"yes": True, "no": False}.get(value)

    def answers(self) -> tuple[list[bool | None], list[bool | None]]:
        data = self.cleaned_data
        return (
            [self._answer(data.get(n, "")) for n in self.inclusion_names],
            [self._answer(data.get(n, "")) for n in self.exclusion_names],
        )

    @staticmethod
    def initial_from(
        inclusion_met: list[bool | None], exclusion_present: list[bool | None], hdrs: int | None
    ) -> dict[str, Any]:
        def code(v: bool | None) -> str:
            return "" if v is None else ("yes" if v else "no")

        initial: dict[str, Any] = {f"inc_{i}": code(v) for i, v in enumerate(inclusion_met)}
        initial.update({f"exc_{i}": code(v) for i, v in enumerate(exclusion_present)})
        initial["hdrs17_total"] = hdrs
        return initial


class EnrollForm(forms.Form):
    full_name = forms.CharField(label=_("Full name"), max_length=200)
    date_of_birth = forms.DateField(label=_("Date of birth"), widget=forms.DateInput(attrs={"type": "date"}))
    phone = forms.CharField(label=_("Phone"), max_length=40, required=False)
    address = forms.CharField(label=_("Address"), max_length=300, required=False)
    baseline_weight_kg = forms.DecimalField(label=_("Baseline weight (kg)"), decimal_places=1)
    height_cm = forms.DecimalField(label=_("Height (cm)"), min_value=120, max_value=230, decimal_places=1)
    baseline_date = forms.DateField(
        label=_("Baseline assessment date"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    stratum = forms.ChoiceField(label=_("Stratum"), required=False)

    def __init__(self, *args: Any, strata: tuple[str, ...], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # The protocol's plausible weight range (the one the dosing service applies).
        p = protocol()
        self.fields["baseline_weight_kg"] = forms.DecimalField(
            label=_("Baseline weight (kg)"),
            min_value=Decimal(str(p.weight_min_kg)),
            max_value=Decimal(str(p.weight_max_kg)),
            decimal_places=1,
        )
        self.fields["confirm_reason"] = _confirm_field()
        _show_ranges(self)
        self.fields["stratum"].choices = [(s, s or _("(none)")) for s in strata]
        if strata == ("",):
            self.fields["stratum"].widget = forms.HiddenInput()
        self.helper = _helper(_("Enroll"))


class RandomizeForm(forms.Form):
    """One click must not randomize: the coordinator ticks a confirmation that names the
    participant, and the name comes back with it (a confirmation for one participant never
    randomizes another)."""

    confirm = forms.BooleanField(widget=forms.CheckboxInput(attrs={"class": "form-check-input"}))
    participant_code = forms.CharField(widget=forms.HiddenInput)

    def __init__(self, *args: Any, participant_code: str, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.participant_code = participant_code
        self.fields["participant_code"].initial = participant_code
        self.fields["confirm"].label = _("I confirm randomizing participant %(code)s.") % {
            "code": participant_code
        }
        self.fields["confirm"].error_messages["required"] = _(
            "Not randomized: tick “I confirm randomizing participant %(code)s” first."
        ) % {"code": participant_code}

    def clean_participant_code(self) -> str:
        code = self.cleaned_data["participant_code"]
        if code != self.participant_code:
            raise forms.ValidationError(_("Not randomized: the confirmation was for another participant."))
        return code


class DispositionForm(forms.Form):
    status = forms.ChoiceField(label=_("Disposition"))
    on = forms.DateField(label=_("Date"), widget=forms.DateInput(attrs={"type": "date"}))
    reason = forms.CharField(
        label=_("Reason"), max_length=500, required=False, widget=forms.Textarea(attrs={"rows": 2})
    )

    def __init__(self, *args: Any, choices: list[tuple[str, Any]], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["status"].choices = choices
        self.helper = _helper(_("Record disposition"))


class UnblindingRequestForm(forms.Form):
    reason = forms.CharField(
        label=_("Clinical reason"),
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_("Unblind only when the treatment of a medical emergency depends on knowing the product."),
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.helper = _helper(_("Request emergency unblinding"))


class UnblindingExecuteForm(forms.Form):
    people_informed = forms.CharField(label=_("Who was told the allocation"), max_length=500)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.helper = _helper(_("Execute unblinding"))


class _ReplaceListFields(forms.Form):
    """Replacing the active list is a deliberate act: ticked, with the reason (refused anyway once
    a participant is randomized)."""

    replace = forms.BooleanField(label=_("Replace the unused active list"), required=False)
    replace_reason = forms.CharField(
        label=_("Reason for replacing it"),
        required=False,
        max_length=500,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text=_("Only before the first randomization; kept in the audit trail."),
    )

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("replace") and not (data.get("replace_reason") or "").strip():
            self.add_error("replace_reason", _("Give the reason for replacing the active list."))
        # The service sees a reason only when replacing was ticked.
        data["replace_reason"] = (data.get("replace_reason") or "").strip() if data.get("replace") else ""
        data.pop("replace", None)
        return data


class GenerateListForm(_ReplaceListFields):
    """A permuted-block list over the protocol's strata (a list with other strata is refused)."""

    n_per_stratum = forms.IntegerField(
        label=_("Participants per stratum (at least)"), min_value=2, max_value=2000
    )
    block_sizes = forms.CharField(
        label=_("Block sizes"), initial="2,4", help_text=_("Comma-separated even numbers.")
    )
    seed = forms.IntegerField(
        label=_("Seed"),
        required=False,
        min_value=0,
        help_text=_("Empty: a new random seed, recorded with the list."),
    )
    field_order = ["n_per_stratum", "block_sizes", "seed", "replace", "replace_reason"]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.helper = _helper(_("Generate list"))

    def clean_block_sizes(self) -> tuple[int, ...]:
        try:
            sizes = tuple(int(x) for x in self.cleaned_data["block_sizes"].split(",") if x.strip())
        except ValueError:
            raise forms.ValidationError(_("Give whole numbers separated by commas.")) from None
        if not sizes or any(s <= 0 or s % 2 for s in sizes):
            raise forms.ValidationError(_("Block sizes must be positive even numbers (1:1)."))
        return sizes


class UploadListForm(_ReplaceListFields):
    csv_file = forms.FileField(
        label=_("Allocation list (CSV)"),
        help_text=_("Columns: stratum, sequence_no, block_no, block_size, sequence, kit_code."),
    )
    field_order = ["csv_file", "replace", "replace_reason"]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.helper = _helper(_("Upload list"))


class KitUnavailableForm(forms.Form):
    """A damaged or lost kit taken out of use; its slot and sequence stay."""

    kit_code = forms.CharField(label=_("Kit code"), max_length=40)
    reason = forms.CharField(
        label=_("What happened to the kit"), max_length=500, widget=forms.Textarea(attrs={"rows": 2})
    )


class KitReplaceForm(forms.Form):
    """A replacement kit for the slot of a kit out of use: same slot, same sequence."""

    kit_code = forms.CharField(label=_("Kit out of use"), max_length=40)
    new_kit_code = forms.CharField(label=_("Replacement kit code"), max_length=40)
    reason = forms.CharField(
        label=_("Reason for the replacement"), max_length=500, widget=forms.Textarea(attrs={"rows": 2})
    )


class ReceiptForm(forms.Form):
    lot = forms.CharField(label=_("Lot"), max_length=40)
    vials = forms.IntegerField(label=_("Vials received"), min_value=1)
    mg_per_vial = forms.DecimalField(label=_("mg per vial"), min_value=1, decimal_places=1)
    ml_per_vial = forms.DecimalField(label=_("mL per vial"), min_value=Decimal("0.1"), decimal_places=2)
    expiry_date = forms.DateField(label=_("Expiry date"), widget=forms.DateInput(attrs={"type": "date"}))

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.helper = _helper(_("Record receipt"))


class StockCountForm(forms.Form):
    receipt = forms.ModelChoiceField(label=_("Lot"), queryset=None)
    vials_counted = forms.IntegerField(label=_("Vials counted"), min_value=0)
    note = forms.CharField(label=_("Note"), required=False, max_length=500)

    def __init__(self, *args: Any, receipts: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["receipt"].queryset = receipts
        self.helper = _helper(_("Record count"))
