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
