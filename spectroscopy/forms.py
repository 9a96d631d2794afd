from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from spectroscopy.models import MRSUpload


class UploadForm(forms.Form):
    session_code = forms.ChoiceField(label=_("MRS session"))
    scanned_at = forms.DateTimeField(
        label=_("Scanned at"),
        help_text=_("From the scanner's log, local time. Each session's window is shown with it."),
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
    )
    confirm_reason = forms.CharField(
        label=_("Scan outside its session's window: why (e.g. scanner unavailable)"),
        required=False,
        max_length=300,
    )
    kind = forms.ChoiceField(label=_("What the file is"), choices=MRSUpload.Kind.choices)
    file = forms.FileField(
        label=_("File"),
        help_text=_(
            "NIfTI-MRS, or a vendor file converted with spec2nii: Siemens .dat, .rda, .dcm, .ima; "
            "Philips .sdat; GE .7."
        ),
    )
    companion = forms.FileField(label=_("SPAR header (Philips .sdat only)"), required=False)

    def __init__(self, *args: Any, sessions: list[tuple[str, str]], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["session_code"].choices = sessions


class KindCorrectionForm(forms.Form):
    """The right kind of an upload recorded under a wrong one, and why (for the audit trail)."""

    kind = forms.ChoiceField(label=_("Right kind"), choices=MRSUpload.Kind.choices)
    reason = forms.CharField(label=_("Reason for the correction"), max_length=300)


class QuantifyForm(forms.Form):
    upload = forms.IntegerField(widget=forms.HiddenInput)
    water = forms.IntegerField(required=False, widget=forms.HiddenInput)


class TissueForm(forms.Form):
    session_code = forms.ChoiceField(label=_("MRS session"))
    f_gm = forms.DecimalField(label=_("Grey matter fraction"), min_value=0, max_value=1, decimal_places=4)
    f_wm = forms.DecimalField(label=_("White matter fraction"), min_value=0, max_value=1, decimal_places=4)
    f_csf = forms.DecimalField(label=_("CSF fraction"), min_value=0, max_value=1, decimal_places=4)
    reason = forms.CharField(label=_("Reason (when correcting)"), required=False, max_length=300)

    def __init__(self, *args: Any, sessions: list[tuple[str, str]], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["session_code"].choices = sessions
