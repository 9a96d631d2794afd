from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from clinimetry import scales
from clinimetry.items import item_table
from clinimetry.models import Assessment, BlindingGuess, RelapseEvent


class AssessmentForm(forms.Form):
    """Items as radio choices of their valid scores only; a tampered value is refused beside it."""

    rated_at = forms.DateTimeField(
        label=gettext_lazy("Date and time of the interview"),
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}),
    )
    recall_period = forms.ChoiceField(label=gettext_lazy("Recall period"), choices=Assessment.Recall.choices)
    interview_guide = forms.ChoiceField(
        label=gettext_lazy("Interview guide"), choices=Assessment.Guide.choices
    )
    mode = forms.ChoiceField(
        label=gettext_lazy("Mode"), choices=Assessment.Mode.choices, widget=forms.RadioSelect
    )
    reason = forms.CharField(label=gettext_lazy("Reason for the correction"), required=False, max_length=500)

    def __init__(self, *args: Any, instrument: str, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.instrument = instrument
        self.item_names: list[str] = []
        for code, (name, _es, guide) in item_table(instrument).items():
            field_name = f"item_{code}"
            self.fields[field_name] = forms.TypedChoiceField(
                label=f"{code}. {_(name)}",
                choices=[(score, f"{score} — {_(text)}") for score, (text, _t) in guide.items()],
                coerce=int,
                empty_value=None,
                required=False,
                widget=forms.RadioSelect,
            )
            self.item_names.append(field_name)

    def items_field_list(self) -> list[forms.BoundField]:
        return [self[name] for name in self.item_names]

    def items(self) -> dict[str, int | None]:
        return {name.removeprefix("item_"): self.cleaned_data.get(name) for name in self.item_names}

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        for group in scales.get(self.instrument).alternatives:  # HDRS-17: 16A or 16B, not both
            given = [code for code in group if data.get(f"item_{code}") is not None]
            if len(given) > 1:
                self.add_error(
                    f"item_{given[-1]}",
                    _("Rate item %(item)s once: %(choices)s, not both.")
                    % {
                        "item": scales.get(self.instrument).item(group[0]).counted,
                        "choices": " or ".join(group),
                    },
                )
        return data


class SignForm(forms.Form):
    password = forms.CharField(
        label=gettext_lazy("Your password (electronic signature)"), widget=forms.PasswordInput
    )


class RelapseEventForm(forms.Form):
    kind = forms.ChoiceField(label=gettext_lazy("Event"), choices=RelapseEvent.Kind.choices)
    occurred_at = forms.DateTimeField(
        label=gettext_lazy("Date"), widget=forms.DateTimeInput(attrs={"type": "datetime-local"})
    )
    note = forms.CharField(label=gettext_lazy("Note"), required=False, max_length=500)


class BlindingGuessForm(forms.Form):
    """One guess of the product received in the period asked about."""

    occasion = forms.ChoiceField(label=gettext_lazy("Occasion"), choices=BlindingGuess.Occasion.choices)
    guesser = forms.ChoiceField(label=gettext_lazy("Whose guess"), choices=BlindingGuess.Guesser.choices)
    guess = forms.ChoiceField(
        label=gettext_lazy("Which product was given in the period asked about?"),
        choices=BlindingGuess.Guess.choices,
        widget=forms.RadioSelect,
    )
    confidence = forms.TypedChoiceField(
        label=gettext_lazy("How sure"),
        choices=BlindingGuess.Confidence.choices,
        coerce=int,
        empty_value=None,
        required=False,
        widget=forms.RadioSelect,
        help_text=gettext_lazy('Leave empty for "don\'t know".'),
    )
    reason = forms.CharField(label=gettext_lazy("Reason for a correction"), required=False, max_length=500)

    def __init__(self, *args: Any, guessers: list[str], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field = self.fields["guesser"]
        field.choices = [c for c in BlindingGuess.Guesser.choices if c[0] in guessers]  # type: ignore[attr-defined]
