from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django import forms
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from clinimetry import scales
from clinimetry.items import item_guidance, item_table
from clinimetry.models import Assessment, BlindingGuess, RelapseEvent
from clinimetry.services import NOTHING_RATED


def unrated_items(instrument: str, items: Mapping[str, int | None]) -> tuple[str, ...]:
    """The counted items with no entry at all, in the scale's order (HDRS-17 16 when neither 16A
    nor 16B is rated; an entry meaning "not assessed" is an entry). Every counted item when
    nothing is rated."""
    scale = scales.get(instrument)
    return tuple(
        counted
        for counted in scale.counted
        if all(items.get(member.code) is None for member in scale.members(counted))
    )


def scale_item_fields(instrument: str, *, prefix: str) -> dict[str, forms.Field]:
    """Number fields for the items of a scale entered as numbers (CADSS on the infusion session
    page), for a form's __init__ (so in the request's language): each labelled with its number
    and short name, limited to its valid scores, with its guidance (what it covers, how to
    anchor it) and the meaning of each score as help text."""
    scale = scales.get_any(instrument)
    table = item_table(instrument)
    fields: dict[str, forms.Field] = {}
    for item in scale.items:
        name, _es, guide = table[item.code]
        guidance = item_guidance(instrument, item.code)
        steps = " · ".join(f"{score} {_(text)}" for score, (text, _t) in guide.items())
        fields[f"{prefix}{item.code}"] = forms.IntegerField(
            label=f"{item.code}. {_(name)}",
            min_value=min(item.choices),
            max_value=max(item.choices),
            help_text=f"{_(guidance)} ({steps})" if guidance else steps,
        )
    return fields


class AssessmentForm(forms.Form):
    """Items as radio choices of their valid scores only; a tampered value is refused beside it.
    Nothing rated is refused; some items not rated are refused until the rater confirms them."""

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
    # The items the rater confirmed leaving unrated, as the page listed them ("3,16"): a partial
    # rating is saved only on a second, confirmed submission (see clean()).
    partial_confirmed = forms.CharField(required=False, max_length=200)

    META_FIELDS = ("rated_at", "recall_period", "interview_guide", "mode", "reason")

    def __init__(self, *args: Any, instrument: str, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.instrument = instrument
        # Set by clean() when the rating is refused as partial: the items not rated.
        self.unrated: tuple[str, ...] = ()
        self.item_names: list[str] = []
        for code, (name, _es, guide) in item_table(instrument).items():
            field_name = f"item_{code}"
            guidance = item_guidance(instrument, code)
            self.fields[field_name] = forms.TypedChoiceField(
                label=f"{code}. {_(name)}",
                choices=[(score, f"{score} — {_(text)}") for score, (text, _t) in guide.items()],
                coerce=int,
                empty_value=None,
                required=False,
                widget=forms.RadioSelect,
                # What the item covers and how to anchor it (MADRS; HDRS-17's anchors say it).
                help_text=_(guidance) if guidance else "",
            )
            self.item_names.append(field_name)

    def items_field_list(self) -> list[forms.BoundField]:
        return [self[name] for name in self.item_names]

    def meta_field_list(self) -> list[forms.BoundField]:
        return [self[name] for name in self.META_FIELDS]

    def partial_prompt(self) -> dict[str, Any] | None:
        """The "save anyway as a partial rating" checkbox: after a refusal, for the items it
        listed; ticked already when the rater confirmed and another error brought the form back."""
        if self.unrated:
            return {"items": self._shown(self.unrated), "value": ",".join(self.unrated), "checked": False}
        confirmed = self._confirmed()
        if confirmed:
            return {"items": self._shown(confirmed), "value": ",".join(confirmed), "checked": True}
        return None

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
        if not any(name in self.errors for name in self.item_names):
            self._refuse_empty_or_unconfirmed_partial(data)
        return data

    def _shown(self, counted: tuple[str, ...]) -> str:
        """Counted items as the page numbers them ("16A/16B" for HDRS-17 item 16)."""
        scale = scales.get(self.instrument)
        return ", ".join("/".join(m.code for m in scale.members(c)) for c in counted)

    def _confirmed(self) -> tuple[str, ...]:
        """The items the submission confirms leaving unrated (items of this scale only)."""
        if not self.is_bound:
            return ()
        given = {c.strip() for c in str(self.data.get("partial_confirmed") or "").split(",")}
        return tuple(c for c in scales.get(self.instrument).counted if c in given)

    def _refuse_empty_or_unconfirmed_partial(self, data: dict[str, Any]) -> None:
        """Nothing rated: refused, always. Some items not rated: refused until the rater confirms
        those items (a partial rating is scored by the protocol's missing-item rule, so it must be
        meant). The confirmation covers the items it listed: another item left empty since then
        asks again."""
        unrated = unrated_items(self.instrument, self.items())
        if len(unrated) == len(scales.get(self.instrument).counted):
            raise forms.ValidationError(NOTHING_RATED, code="nothing_rated")
        if unrated and not set(unrated) <= set(self._confirmed()):
            self.unrated = unrated
            self.add_error(
                None,
                forms.ValidationError(
                    _(
                        "Not saved: items not rated: %(items)s. Rate them, or confirm below that "
                        "this is a partial rating and save again."
                    )
                    % {"items": self._shown(unrated)},
                    code="partial",
                ),
            )


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
