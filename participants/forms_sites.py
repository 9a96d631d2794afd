"""Forms of the sites: the data manager's site and account-site pages, and the site a
screening starts at."""

from __future__ import annotations

from typing import Any

from crispy_forms.helper import FormHelper
from crispy_forms.layout import Submit
from django import forms
from django.utils.translation import gettext_lazy as _

from participants.models import Site


class SiteForm(forms.Form):
    """A site's code (fixed once made: participant codes start with it) and name."""

    code = forms.CharField(
        label=_("Code"),
        max_length=8,
        help_text=_(
            "2-8 capital letters or digits; the codes of its screenings and participants start with it."
        ),
    )
    name = forms.CharField(label=_("Name"), max_length=200)

    def __init__(self, *args: Any, editing: bool = False, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if editing:
            self.fields["code"].disabled = True
            self.fields["code"].help_text = _("The code of a site does not change.")
        self.helper = FormHelper()
        self.helper.add_input(Submit("submit", _("Save site")))


class UserSitesForm(forms.Form):
    """The sites whose participants an account works with (user edit page)."""

    SUBMIT = "save_sites"

    sites = forms.ModelMultipleChoiceField(
        label=_("Sites"),
        queryset=Site.objects.order_by("code"),
        widget=forms.CheckboxSelectMultiple,
        required=False,
        help_text=_(
            "None ticked: every site for a trial-wide role (data manager, statistician, monitor, "
            "principal investigator), the protocol's site for site staff."
        ),
    )
    reason = forms.CharField(
        label=_("Reason for the change"), max_length=500, widget=forms.Textarea(attrs={"rows": 2})
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("prefix", "sites")
        super().__init__(*args, **kwargs)
        self.helper = FormHelper()
        self.helper.add_input(Submit(self.SUBMIT, _("Save sites")))


class ScreeningStartForm(forms.Form):
    """The site a screening starts at, among the coordinator's own (hidden when there is one)."""

    site = forms.ModelChoiceField(label=_("Site"), queryset=Site.objects.none(), empty_label=None)

    def __init__(self, *args: Any, sites: list[Site], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field = self.fields["site"]
        field.queryset = Site.objects.filter(pk__in=[s.pk for s in sites]).order_by("code")
        field.label_from_instance = lambda site: f"{site.code} — {site.name}"
        if len(sites) == 1:
            field.initial = sites[0].pk
            field.widget = forms.HiddenInput()
        else:
            field.widget.attrs["class"] = "form-select"
