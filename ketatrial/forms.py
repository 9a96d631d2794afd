from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from django import forms
from django.conf import settings
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _


class LanguageForm(forms.Form):
    language = forms.ChoiceField(label=_("Language"), choices=settings.LANGUAGES)
    next = forms.CharField(required=False, widget=forms.HiddenInput)


T = TypeVar("T")


def run_service(form: forms.Form, call: Callable[[dict[str, Any]], T]) -> T | None:
    """Call a service with the form's cleaned data. A refusal lands on the form beside what the
    person typed (nothing is lost); None means the form must be shown again."""
    if not form.is_valid():
        return None
    try:
        return call(form.cleaned_data)
    except ValidationError as exc:
        form.add_error(None, exc)
        return None


class AuditFilterForm(forms.Form):
    """The audit trail's filters (GET). Every field optional; the choices are what the reader may
    see: the forms (models) of the visibility rule, the users, the roles, the three actions."""

    participant = forms.CharField(label=_("Participant ID"), required=False, max_length=20)
    form = forms.ChoiceField(label=_("Form"), required=False)
    user = forms.TypedChoiceField(label=_("User"), required=False, coerce=int, empty_value=None)
    role = forms.ChoiceField(label=_("Role"), required=False)
    action = forms.ChoiceField(label=_("Action"), required=False)
    date_from = forms.DateField(
        label=_("From"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    date_to = forms.DateField(label=_("To"), required=False, widget=forms.DateInput(attrs={"type": "date"}))

    def __init__(
        self,
        *args: Any,
        forms_: list[tuple[str, str]],
        users: list[tuple[int, str]],
        roles: list[tuple[str, str]],
        actions: list[tuple[str, str]],
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        anything = [("", _("any"))]
        self.fields["form"].choices = anything + forms_
        self.fields["user"].choices = anything + users
        self.fields["role"].choices = anything + roles
        self.fields["action"].choices = anything + actions
        for field in self.fields.values():
            select = isinstance(field.widget, forms.Select)
            field.widget.attrs["class"] = (
                "form-select form-select-sm" if select else "form-control form-control-sm"
            )

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        start, end = data.get("date_from"), data.get("date_to")
        if start and end and start > end:
            raise ValidationError(_("The first day comes after the last; swap them."))
        data["participant"] = (data.get("participant") or "").strip().upper()
        return data
