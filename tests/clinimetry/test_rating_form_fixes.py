"""Rating form fixes (issue 15, item 7): the recall period offered first follows the timepoint,
every MADRS and CADSS item has guidance of its own in English and Spanish, every item can be
cleared, and the page before signing shows every item's score."""

from __future__ import annotations

import dataclasses
import re
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.html import escape

from clinimetry import items, scales, selectors, services
from clinimetry.forms import AssessmentForm, scale_item_fields
from ketatrial.protocol import DEFAULT_PROTOCOL, protocol_with_overrides
from tests.clinimetry.test_assessments import HDRS_BASE
from tests.factories import enrolled

RULES = DEFAULT_PROTOCOL.rating_recall_by_timepoint


@pytest.mark.parametrize(
    ("serves", "recall"),
    [
        (("baseline",), "past_week"),
        (("4h after infusion 1",), "since_last"),
        (("4h after last infusion 8",), "since_last"),
        (("24h after infusion 1",), "past_24h"),
        (("24h after last infusion 4",), "past_24h"),
        (("72h after last infusion 8",), "since_last"),
        (("pre-dose infusion 3",), "since_last"),
        (("pre-dose infusion 2", "72h after infusion 1"), "since_last"),
        (("follow-up week 1",), "past_week"),
        (("follow-up week 12",), "past_week"),
        (("end of study (relapse)",), "past_week"),
    ],
)
def test_the_recall_period_offered_first_follows_the_timepoint(serves: tuple[str, ...], recall: str) -> None:
    assert scales.recall_default(serves, by_timepoint=RULES, otherwise="past_week") == recall


def test_the_study_team_changes_the_recall_rule_in_the_protocol_overrides() -> None:
    changed = protocol_with_overrides(
        {"rating_recall_by_timepoint": [["4h", "past_24h"]], "rating_recall_default": "since_last"}
    )
    assert changed.rating_recall_by_timepoint == (("4h", "past_24h"),)
    rule = {"by_timepoint": changed.rating_recall_by_timepoint, "otherwise": changed.rating_recall_default}
    assert scales.recall_default(("4h after infusion 1",), **rule) == "past_24h"
    assert scales.recall_default(("24h after infusion 1",), **rule) == "since_last"


def test_every_recall_rule_names_a_recall_period_the_form_offers() -> None:
    offered = {value for value, _label in AssessmentForm(instrument="madrs").fields["recall_period"].choices}
    assert {recall for _kind, recall in RULES} | {DEFAULT_PROTOCOL.rating_recall_default} <= offered


def _selected_recall(html: str) -> str:
    select = re.search(r'<select name="recall_period".*?</select>', html, re.S)
    assert select is not None
    chosen = re.findall(r'<option value="([a-z_0-9]+)" selected>', select.group(0))
    assert len(chosen) == 1
    return chosen[0]


@pytest.mark.django_db
def test_the_baseline_rating_page_offers_the_past_week(rater, coordinator, client_for) -> None:
    person = enrolled(coordinator)
    html = client_for(rater).get(selectors.rate_url(person.pk, "madrs", "baseline")).content.decode()
    assert _selected_recall(html) == "past_week"


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("code", "serves", "recall"),
    [
        ("p1-4h-inf1", ("4h after infusion 1",), "since_last"),
        ("p2-24h-inf4", ("24h after last infusion 4",), "past_24h"),
    ],
)
def test_a_post_infusion_rating_page_offers_a_shorter_recall_and_names_no_timepoint(
    rater, coordinator, client_for, monkeypatch, code, serves, recall
) -> None:
    person = enrolled(coordinator)
    now = timezone.now()
    task = selectors.RatingTask(
        person, code, "label", 1, now, now - timedelta(hours=1), now + timedelta(hours=1)
    )
    task = dataclasses.replace(task, serves=serves)
    monkeypatch.setattr(selectors, "task_for_rater", lambda participant, ref, now: task)
    response = client_for(rater).get(selectors.rate_url(person.pk, "hdrs17", code))
    html = response.content.decode()
    assert response.status_code == 200
    assert _selected_recall(html) == recall
    page = html.split("<main", 1)[1].split(task.ref)  # the opaque name may hold any letters
    for word in ("p1-4h", "p2-24h", "-inf", "4h after", "24h after", "infusion", "Period 1", "Period 2"):
        assert all(word not in part for part in page), word


def test_every_madrs_and_cadss_item_has_guidance_of_its_own_in_english_and_spanish() -> None:
    for key, scale in (("madrs", scales.MADRS), ("cadss", scales.CADSS)):
        guidance = items.GUIDANCE[key]
        assert set(guidance) == {i.code for i in scale.items}, key
        for code, (english, spanish) in guidance.items():
            assert len(english) > 40 and len(spanish) > 40, (key, code)
            assert english != spanish, (key, code)
        assert len({en for en, _es in guidance.values()}) == len(guidance), f"{key}: shared guidance"
        assert len({es for _en, es in guidance.values()}) == len(guidance), f"{key}: shared guidance"
    assert len(scales.CADSS.items) == 23 and scales.CADSS.total_max == 92


def test_every_cadss_item_has_a_name_of_its_own_and_a_line_per_score_in_both_languages() -> None:
    table = items.item_table("cadss")
    assert list(table) == [str(n) for n in range(1, 24)]
    assert len({en for en, _es, _g in table.values()}) == 23
    assert len({es for _en, es, _g in table.values()}) == 23
    for _en, _es, guide in table.values():
        assert set(guide) == {0, 1, 2, 3, 4}
        assert all(en and es and en != es for en, es in guide.values())


def test_the_spanish_catalogue_holds_the_guidance_and_the_cadss_wording() -> None:
    """Fails until the translator loads items.spanish_catalogue() into locale/ (issue 15)."""
    pairs = {en: es for en, es in items.spanish_catalogue().items() if en in _new_wording()}
    with translation.override("es"):
        missing = [en for en, es in pairs.items() if translation.gettext(en) != es]
    assert missing == []


def _new_wording() -> set[str]:
    wording = {en for guidance in items.GUIDANCE.values() for en, _es in guidance.values()}
    for en, _es, guide in items.CADSS_ITEMS_TEXT.values():
        wording |= {en, *(g for g, _g in guide.values())}
    return wording


def test_the_cadss_fields_carry_each_item_s_name_range_and_guidance() -> None:
    fields = scale_item_fields("cadss", prefix="cadss_")
    assert list(fields) == [f"cadss_{n}" for n in range(1, 24)]
    first, last = fields["cadss_1"], fields["cadss_23"]
    assert first.label == "1. Slow motion"
    assert (first.min_value, first.max_value) == (0, 4)
    assert str(first.help_text).startswith(items.CADSS_GUIDANCE["1"][0])
    assert "4 Extremely" in str(first.help_text)
    assert str(last.help_text).startswith(items.CADSS_GUIDANCE["23"][0])


@pytest.mark.django_db
def test_the_rating_page_shows_each_madrs_item_s_guidance_and_a_clear_control_per_item(
    rater, coordinator, client_for
) -> None:
    person = enrolled(coordinator)
    html = client_for(rater).get(selectors.rate_url(person.pk, "madrs", "baseline")).content.decode()
    for code, (english, _es) in items.MADRS_GUIDANCE.items():
        shown = escape(english)
        assert f'aria-describedby="id_item_{code}_guidance"' in html
        assert f'id="id_item_{code}_guidance">{shown}</p>' in html
    assert html.count('class="btn btn-link btn-sm p-0 item-clear"') == 10
    assert 'data-instead-label="' in html


@pytest.mark.django_db
def test_the_page_before_signing_shows_every_item_its_score_and_what_is_missing(
    rater, coordinator, client_for
) -> None:
    person = enrolled(coordinator)
    entered = {**HDRS_BASE, "5": None}  # 16A rated (1), so 16B is not applicable; 5 missing
    saved = services.assessment_save(
        participant=person,
        instrument="hdrs17",
        task_code="baseline",
        items=entered,
        rated_at=timezone.now() - timedelta(minutes=5),
        recall_period="past_week",
        interview_guide="sigh_d",
        mode="in_person",
        by=rater,
        now=timezone.now(),
    )
    response = client_for(rater).get(reverse("clinimetry:assessment", args=[saved.pk]))
    html = response.content.decode()
    table = html.split('id="item-scores"', 1)[1].split("</table>", 1)[0]
    assert "Review every item before signing." in table
    rows = re.findall(
        r"<tr[^>]*><th scope=\"row\"[^>]*>(.*?)</th><td[^>]*>(.*?)</td><td>(.*?)</td></tr>", table
    )
    assert [r[0].split(".")[0] for r in rows[:-1]] == [i.code for i in scales.HDRS17.items]
    by_code = {r[0].split(".")[0]: r for r in rows[:-1]}
    assert by_code["1"] == ("1. Depressed mood", "2", "Reported spontaneously")
    assert by_code["16A"][1:] == ("1", "Probable loss linked to the illness")
    assert by_code["16B"][1:] == ("—", "not applicable: 16A is rated")
    assert by_code["5"][1:] == ("—", "not rated (missing)")
    total = rows[-1]
    assert total[0] == "Total" and "missing: 5" in total[2]
    assert html.index('id="item-scores"') < html.index(reverse("clinimetry:sign", args=[saved.pk]))


@pytest.mark.django_db
def test_the_fields_below_the_items_name_their_error_message(rater, coordinator, client_for) -> None:
    """A field below the items refused (the interview guide, the mode) is read with its message:
    the widget's aria-describedby names the message's id and the message carries it (the items'
    messages already did)."""
    person = enrolled(coordinator)
    url = selectors.rate_url(person.pk, "madrs", "baseline")
    html = client_for(rater).post(url, {"recall_period": "past_week"}).content.decode()
    for name in ("interview_guide", "mode"):
        assert f'id="id_{name}_error"' in html, name
    guide = re.search(r"<select[^>]*name=\"interview_guide\"[^>]*>", html).group(0)  # type: ignore[union-attr]
    assert 'aria-describedby="id_interview_guide_error"' in guide and 'aria-invalid="true"' in guide
    assert '<fieldset aria-describedby="id_mode_error">' in html
