"""The structured suicide-risk follow-up: opened by a rating's suicide item, recorded by its rater
(or a principal investigator), closed by a principal investigator with a reason."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.urls import reverse
from django.utils import timezone

from clinimetry import selectors as rating_selectors
from clinimetry.examples import spread
from ketatrial.models import Notification
from safety import services
from safety.models import SuicideRiskFollowUp

ANSWERS = {
    "wish_to_be_dead": "yes",
    "thoughts_of_suicide": "yes",
    "method": "no",
    "intent": "no",
    "plan": "no",
    "behaviour": "no",
}


def _form(**extra: str) -> dict[str, str]:
    return {
        "assessed_at": timezone.localtime().strftime("%Y-%m-%dT%H:%M"),
        **ANSWERS,
        "risk_level": "moderate",
        "safety_plan": "on",
        "support_contacted": "on",
        "referral": "outpatient",
        "notes": "Sister stays with her tonight; review tomorrow.",
        **extra,
    }


def _flag(participant, rater, client_for):  # type: ignore[no-untyped-def]
    """The rater saves a MADRS whose item 10 reaches the threshold, through the rating page."""
    items = {**spread("madrs", 30), "10": 4}
    data = {f"item_{k}": str(v) for k, v in items.items()}
    data.update(
        {
            "rated_at": (timezone.localtime() - timedelta(minutes=5)).strftime("%Y-%m-%dT%H:%M"),
            "recall_period": "past_week",
            "interview_guide": "sigh_d",
            "mode": "in_person",
        }
    )
    return client_for(rater).post(rating_selectors.rate_url(participant.pk, "madrs", "baseline"), data)


def test_a_suicide_risk_item_opens_a_follow_up_the_rater_records_and_the_principal_investigator_closes(
    participant, rater, principal_investigator, client_for
) -> None:
    response = _flag(participant, rater, client_for)
    followup = SuicideRiskFollowUp.objects.get()
    assert response.status_code == 302
    assert response.url == reverse("safety:suicide_followup", args=[followup.pk])
    assert followup.is_open and not followup.is_assessed and followup.participant == participant
    note = Notification.objects.get(recipient=principal_investigator)
    assert note.kind == "suicide_risk" and note.url == response.url
    assert note.topic == f"safety.suicideriskfollowup:{followup.pk}"

    rater_client = client_for(rater)
    page = rater_client.get(response.url, HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "suicide-risk procedure" in page and "safety plan" in page
    assert "Close the follow-up" not in page
    # Nothing of the rating's place in the schedule reaches the strictly blinded rater.
    assert "baseline" not in page.lower() and "period" not in page.lower()
    record = reverse("safety:suicide_followup_record", args=[followup.pk])
    refused = rater_client.post(record, _form(risk_level=""), HTTP_ACCEPT_LANGUAGE="en")
    assert refused.status_code == 400 and "Sister stays with her tonight" in refused.content.decode()
    assert rater_client.post(record, _form()).status_code == 302
    followup.refresh_from_db()
    assert followup.assessed_by == rater and followup.risk_level == "moderate" and followup.safety_plan
    assert (followup.wish_to_be_dead, followup.method, followup.referral) == ("yes", "no", "outpatient")
    assert not followup.hospitalised
    recorded = Notification.objects.get(
        recipient=principal_investigator, subject__startswith="Suicide-risk follow-up"
    )
    assert recorded.url == response.url
    # A correction needs its reason.
    again = rater_client.post(record, _form(risk_level="high"), HTTP_ACCEPT_LANGUAGE="en")
    assert again.status_code == 400 and "give the reason for the correction" in again.content.decode()
    assert rater_client.post(record, _form(risk_level="high", reason="Re-interviewed")).status_code == 302
    assert (
        rater_client.post(
            reverse("safety:suicide_followup_close", args=[followup.pk]), {"reason": "x"}
        ).status_code
        == 403
    )

    pi = client_for(principal_investigator)
    close = reverse("safety:suicide_followup_close", args=[followup.pk])
    assert "Close the follow-up" in pi.get(response.url, HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert pi.post(close, {"reason": ""}).status_code == 400
    assert (
        pi.post(close, {"reason": "Risk low at the next day's review; safety plan in place"}).status_code
        == 302
    )
    followup.refresh_from_db()
    assert not followup.is_open and followup.closed_by == principal_investigator
    assert followup.close_reason == "Risk low at the next day's review; safety plan in place"
    reasons = [h.history_change_reason for h in followup.history.order_by("history_date", "history_id")]
    assert reasons == [
        "opened: a suicide-risk item",
        "suicide-risk assessment recorded",
        "Re-interviewed",
        "closed: Risk low at the next day's review; safety plan in place",
    ]
    closed_page = rater_client.get(response.url, HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "Closed" in closed_page and "Record the assessment" not in closed_page
    with pytest.raises(ValidationError, match="closed"):
        services.suicide_followup_record(
            followup=followup,
            by=rater,
            now=timezone.now(),
            assessed_at=timezone.now() - timedelta(minutes=1),
            answers=ANSWERS,
            risk_level="low",
            safety_plan=True,
            support_contacted=False,
            referral="none",
            hospitalised=False,
            notes="",
            reason="late",
        )


def test_only_a_principal_investigator_closes_and_only_once_the_assessment_is_recorded(
    participant, rater, principal_investigator, monitor, client_for
) -> None:
    _flag(participant, rater, client_for)
    followup = SuicideRiskFollowUp.objects.get()
    with pytest.raises(PermissionDenied):
        services.suicide_followup_close(followup=followup, reason="x", by=monitor, now=timezone.now())
    with pytest.raises(ValidationError, match="Record the assessment"):
        services.suicide_followup_close(
            followup=followup, reason="x", by=principal_investigator, now=timezone.now()
        )
    # The PI may record it too (at the participant's bedside, say).
    services.suicide_followup_record(
        followup=followup,
        by=principal_investigator,
        now=timezone.now(),
        assessed_at=timezone.now() - timedelta(minutes=1),
        answers=ANSWERS,
        risk_level="high",
        safety_plan=True,
        support_contacted=True,
        referral="emergency",
        hospitalised=True,
        notes="Admitted to the psychiatric ward.",
    )
    with pytest.raises(ValidationError, match="reason"):
        services.suicide_followup_close(
            followup=followup, reason=" ", by=principal_investigator, now=timezone.now()
        )
    services.suicide_followup_close(
        followup=followup,
        reason="Admitted; care handed to the ward",
        by=principal_investigator,
        now=timezone.now(),
    )
    with pytest.raises(ValidationError, match="already closed"):
        services.suicide_followup_close(
            followup=followup, reason="x", by=principal_investigator, now=timezone.now()
        )
    # The monitor reads it; another rater does not even learn that it exists.
    assert client_for(monitor).get(reverse("safety:suicide_followup", args=[followup.pk])).status_code == 200


def test_another_rater_cannot_see_or_record_the_follow_up(
    participant, rater, make_user, client_for, infusion_physician
) -> None:
    _flag(participant, rater, client_for)
    followup = SuicideRiskFollowUp.objects.get()
    other = client_for(make_user("rater2", "rater"))
    assert other.get(reverse("safety:suicide_followup", args=[followup.pk])).status_code == 404
    assert (
        other.post(reverse("safety:suicide_followup_record", args=[followup.pk]), _form()).status_code == 404
    )
    assert (
        client_for(infusion_physician).get(reverse("safety:suicide_followup", args=[followup.pk])).status_code
        == 403
    )
    with pytest.raises(PermissionDenied):
        services.suicide_followup_record(
            followup=followup,
            by=infusion_physician,
            now=timezone.now(),
            assessed_at=timezone.now() - timedelta(minutes=1),
            answers=ANSWERS,
            risk_level="low",
            safety_plan=False,
            support_contacted=False,
            referral="none",
            hospitalised=False,
            notes="",
        )


def test_a_corrected_rating_that_stays_flagged_keeps_its_one_open_follow_up(
    participant, rater, client_for
) -> None:
    _flag(participant, rater, client_for)
    from clinimetry import services as ratings
    from clinimetry.models import Assessment

    assessment = Assessment.objects.get()
    ratings.assessment_save(
        participant=participant,
        instrument="madrs",
        task_code="baseline",
        items={**spread("madrs", 31), "10": 5},
        rated_at=assessment.rated_at,
        recall_period="past_week",
        interview_guide="none",
        mode="in_person",
        by=rater,
        now=timezone.now(),
        reason="Item 10 re-scored",
    )
    assert SuicideRiskFollowUp.objects.count() == 1
    # The old procedure link of the rating leads to its follow-up.
    response = client_for(rater).get(reverse("clinimetry:safety", args=[assessment.pk]))
    assert response.status_code == 302 and response.url.endswith(
        f"/safety/suicide-risk/{SuicideRiskFollowUp.objects.get().pk}/"
    )
