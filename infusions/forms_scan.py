"""The bedside scan of a syringe label (infusion session page)."""

from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _


class SyringeScanForm(forms.Form):
    code = forms.CharField(
        label=_("Scan the syringe label"),
        max_length=40,
        help_text=_("Scan the label's QR code (or type the syringe code) before connecting the syringe."),
        widget=forms.TextInput(attrs={"autocomplete": "off", "autocapitalize": "characters"}),
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["code"].widget.attrs["spellcheck"] = "false"
