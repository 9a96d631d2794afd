"""A syringe's beyond-use time, enforced: past it the bedside scan says STOP (EXPIRED) and the
infusion does not start; a syringe that was not given is discarded by a pharmacist with the reason
(destroyed in the register, witnessed) and its infusion prepared again. The same for ketamine and
placebo: what the blinded infusion team sees does not tell them apart."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from decimal import Decimal

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404
from django.urls import reverse
from django.utils import timezone

from infusions import services as infusion_services
from infusions.models import InfusionVisit
from ketatrial.timefmt import local_minute
from participants import allocation
from participants.allocation.pharmacy import (
    beyond_use_at,
    preparation_discard,
    preparation_rows,
    scan_message,
)
from participants.models import AllocationSlot, DosePreparation, Participant, RegisterEntry, SyringeScan
from tests.factories import randomized
from tests.infusions.factories import prepared_and_checked

# The real clock: the pages scan and list at timezone.now(). The participant was randomized three
# days ago; the syringes were prepared two days ago, so they expired yesterday, on day 1.
NOW = timezone.now()
PREPARED = NOW - timedelta(days=2)
BEYOND_USE = PREPARED + timedelta(hours=24)


@pytest.fixture
def receipt(unblinded):  # type: ignore[no-untyped-def]
    allocation.allocation_list_generate(by=unblinded, now=PREPARED, n_per_stratum=6, seed=3)
    return allocation.receipt_record(
        lot="L1",
        vials=10,
        mg_per_vial=Decimal("500"),
        ml_per_vial=Decimal("10"),
        expiry_date=timezone.localdate(NOW) + timedelta(days=365),
        by=unblinded,
        now=PREPARED,
    )


def _participant(coordinator, sequence: str) -> Participant:  # type: ignore[no-untyped-def]
    """A participant of `sequence`, randomized three days ago, day 1 on the day the syringes
    prepared for it expire."""
    while True:
        person = randomized(coordinator, now=NOW - timedelta(days=3))
        if AllocationSlot.objects.get(participant=person).sequence == sequence:
            break
    infusion_services.schedule_set(
        participant=person, day1=timezone.localdate(BEYOND_USE), by=coordinator, now=NOW - timedelta(days=3)
    )
    return Participant.objects.get(pk=person.pk)


@pytest.fixture
def ketamine(coordinator, receipt) -> Participant:  # type: ignore[no-untyped-def]
    """KP: period 1 is ketamine, drawn from the lot."""
    return _participant(coordinator, "KP")


@pytest.fixture
def placebo(coordinator, receipt) -> Participant:  # type: ignore[no-untyped-def]
    """PK: period 1 is placebo (saline, no lot)."""
    return _participant(coordinator, "PK")


def _confirmed(person, receipt, unblinded, checker, *, at: datetime = PREPARED) -> DosePreparation:  # type: ignore[no-untyped-def]
    return prepared_and_checked(
        participant=person,
        period=1,
        infusion_number=1,
        receipt=receipt,
        pharmacist=unblinded,
        checker=checker,
        now=at,
    )


def _start(person, physician, prep: DosePreparation, *, at: datetime) -> InfusionVisit:  # type: ignore[no-untyped-def]
    return infusion_services.session_start(
        visit=infusion_services.visit_for(person, 1, 1, by=physician),
        prechecks={key: True for key, _label in infusion_services.PRECHECKS},
        syringe_code=prep.syringe_code,
        pump_rate_ml_h=prep.pump_rate_ml_h,
        started_at=at,
        by=physician,
        now=NOW,
    )


def _page(person: Participant) -> str:
    return reverse("participants:preparations", args=[person.pk])


# -- the beyond-use time --------------------------------------------------------------------------


def test_the_beyond_use_time_is_the_protocols_hours_after_preparation_for_both_products(
    ketamine, placebo, receipt, unblinded, checker
) -> None:
    for person in (ketamine, placebo):
        prep = _confirmed(person, receipt, unblinded, checker)
        assert beyond_use_at(prep.prepared_at) == BEYOND_USE
        blinded = allocation.blinded_preparation(person, 1, 1)
        assert blinded.beyond_use == BEYOND_USE
        assert not blinded.expired_at(BEYOND_USE - timedelta(seconds=1))
        assert blinded.expired_at(BEYOND_USE)
        assert allocation.label_context(prep)["beyond_use"] == local_minute(BEYOND_USE)


# -- the bedside scan -----------------------------------------------------------------------------


def test_an_expired_syringe_scans_as_expired_and_says_when_it_expired(
    ketamine, receipt, unblinded, checker, infusion_physician, client_for
) -> None:
    prep = _confirmed(ketamine, receipt, unblinded, checker)
    response = client_for(infusion_physician).post(
        reverse("infusions:session_scan", args=[ketamine.pk, 1, 1]), {"code": prep.syringe_code}
    )
    page = response.content.decode()
    assert response.status_code == 400
    assert (
        f"STOP: syringe {prep.syringe_code} expired at {local_minute(BEYOND_USE)} (its beyond-use time). "
        "Do not connect it; call the pharmacy."
    ) in page
    assert f'value="{prep.syringe_code}"' in page
    scan = SyringeScan.objects.get(participant=ketamine)
    assert scan.outcome == SyringeScan.Outcome.EXPIRED == "expired"
    assert scan.get_outcome_display() == "Past its beyond-use time"
    assert scan.history.get().history_user == infusion_physician


def test_the_scan_matches_until_the_beyond_use_time_and_is_expired_from_it(
    ketamine, receipt, unblinded, checker, infusion_physician
) -> None:
    prep = _confirmed(ketamine, receipt, unblinded, checker)

    def scan(at: datetime) -> SyringeScan:
        return allocation.syringe_scan_record(
            participant=ketamine,
            period=1,
            infusion_number=1,
            code=prep.syringe_code,
            by=infusion_physician,
            now=at,
        )

    before = scan(BEYOND_USE - timedelta(seconds=1))
    at = scan(BEYOND_USE)
    assert (before.outcome, at.outcome) == ("match", "expired")
    assert "is the confirmed preparation" in scan_message(before)
    assert local_minute(BEYOND_USE) in scan_message(at)


def test_the_other_checks_come_before_the_beyond_use_time(
    ketamine, placebo, receipt, unblinded, checker, infusion_physician
) -> None:
    theirs = _confirmed(placebo, receipt, unblinded, checker)
    scan = allocation.syringe_scan_record(
        participant=ketamine,
        period=1,
        infusion_number=1,
        code=theirs.syringe_code,
        by=infusion_physician,
        now=NOW,
    )
    assert scan.outcome == "other_participant"
    unchecked = allocation.dose_prepare(
        participant=ketamine,
        period=1,
        infusion_number=1,
        weight_kg=Decimal("70.0"),
        receipt=receipt,
        by=unblinded,
        now=PREPARED,
    )
    scan = allocation.syringe_scan_record(
        participant=ketamine,
        period=1,
        infusion_number=1,
        code=unchecked.syringe_code,
        by=infusion_physician,
        now=NOW,
    )
    assert scan.outcome == "not_confirmed"


# -- the session start ----------------------------------------------------------------------------


def test_the_session_does_not_start_past_the_beyond_use_time_and_starts_just_before_it(
    ketamine, receipt, unblinded, checker, infusion_physician
) -> None:
    prep = _confirmed(ketamine, receipt, unblinded, checker)
    with pytest.raises(ValidationError) as refused:
        _start(ketamine, infusion_physician, prep, at=BEYOND_USE)
    assert refused.value.message_dict["syringe_code"] == [
        f"STOP: syringe {prep.syringe_code} expired at {local_minute(BEYOND_USE)} (its beyond-use time). "
        "Do not connect it; call the pharmacy."
    ]
    visit = InfusionVisit.objects.get(participant=ketamine, period=1, number=1)
    assert (visit.status, visit.syringe_code, visit.started_at) == ("planned", "", None)
    assert visit.history.count() == 1  # opened, never changed
    started = _start(ketamine, infusion_physician, prep, at=BEYOND_USE - timedelta(seconds=1))
    assert (started.status, started.syringe_code) == ("in_progress", prep.syringe_code)


def test_the_session_page_says_stop_beside_the_syringe_code_and_keeps_what_was_typed(
    ketamine, receipt, unblinded, checker, infusion_physician, client_for
) -> None:
    prep = _confirmed(ketamine, receipt, unblinded, checker)
    infusion_services.visit_for(ketamine, 1, 1, by=infusion_physician)
    response = client_for(infusion_physician).post(
        reverse("infusions:session_start", args=[ketamine.pk, 1, 1]),
        {
            **{f"check_{key}": "on" for key, _label in infusion_services.PRECHECKS},
            "syringe_code": prep.syringe_code,
            "pump_rate_ml_h": str(prep.pump_rate_ml_h),
            "started_at": timezone.localtime(BEYOND_USE + timedelta(minutes=5)).strftime("%Y-%m-%dT%H:%M"),
        },
    )
    page = response.content.decode()
    assert response.status_code == 400
    assert f"STOP: syringe {prep.syringe_code} expired at {local_minute(BEYOND_USE)}" in page
    assert f'value="{prep.syringe_code}"' in page
    assert InfusionVisit.objects.get(participant=ketamine, period=1, number=1).status == "planned"


# -- discarding a syringe that was not given ------------------------------------------------------


def test_a_pharmacist_discards_an_expired_syringe_and_the_infusion_is_prepared_again(
    ketamine, receipt, unblinded, checker, infusion_physician, client_for
) -> None:
    prep = _confirmed(ketamine, receipt, unblinded, checker)
    page = client_for(unblinded).get(_page(ketamine)).content.decode()
    assert 'badge bg-danger">expired</span>' in page and local_minute(BEYOND_USE) in page
    assert f'<option value="{prep.pk}">Period 1, infusion 1: {prep.syringe_code} (expired)</option>' in page
    form_start = page.rindex("<form", 0, page.index('name="discard-preparation"'))
    discard_form = page[form_start : page.index("</form>", form_start)]
    assert re.match(r'<form[^>]*method="post"', discard_form) and 'name="csrfmiddlewaretoken"' in discard_form

    response = client_for(unblinded).post(
        _page(ketamine), {"discard-preparation": prep.pk, "discard-reason": "past its beyond-use time"}
    )
    assert response.status_code == 302
    prep.refresh_from_db()
    assert prep.check_status == DosePreparation.CheckStatus.DISCARDED == "discarded"
    assert prep.checked_by == checker  # the check it passed stays as it was
    last = prep.history.order_by("-history_date", "-history_id").first()
    assert (last.history_user, last.check_status) == (unblinded, "discarded")
    assert "past its beyond-use time" in last.history_change_reason

    # The syringe's content is destroyed in the register; another pharmacist witnesses it.
    destroyed = RegisterEntry.objects.get(preparation=prep, cause=RegisterEntry.Cause.DISCARDED)
    assert (destroyed.kind, destroyed.quantity_mg, destroyed.recorded_by, destroyed.witness) == (
        "wasted",
        prep.dose_mg,
        unblinded,
        None,
    )
    assert destroyed.note == "past its beyond-use time"
    assert destroyed.history.get().history_user == unblinded
    with pytest.raises(ValidationError, match="another pharmacist"):
        allocation.waste_witness(pk=destroyed.pk, by=unblinded, now=NOW)
    allocation.waste_witness(pk=destroyed.pk, by=checker, now=NOW)
    line = next(row for row in allocation.register(unblinded)[0].rows if row.entry_pk == destroyed.pk)
    assert (line.kind, line.note) == ("destroyed", "Discarded (not given): past its beyond-use time")
    # Already dispensed when drawn: destroying it leaves the balance as it was.
    assert allocation.accountability_balance(receipt) == 9

    page = client_for(unblinded).get(_page(ketamine)).content.decode()
    assert "Discarded (not given): pharmacist" in page and "past its beyond-use time" in page
    assert "No syringe to discard." in page
    assert allocation.blinded_preparation(ketamine, 1, 1) is None
    with pytest.raises(ValidationError, match="has not prepared this infusion"):
        _start(ketamine, infusion_physician, prep, at=BEYOND_USE - timedelta(hours=1))
    again = allocation.dose_prepare(
        participant=ketamine,
        period=1,
        infusion_number=1,
        weight_kg=Decimal("70.0"),
        receipt=receipt,
        by=unblinded,
        now=NOW,
    )
    assert (
        again.pk != prep.pk
        and allocation.blinded_preparation(ketamine, 1, 1).syringe_code == again.syringe_code
    )
    with pytest.raises(ValidationError, match="already prepared"):
        allocation.dose_prepare(
            participant=ketamine,
            period=1,
            infusion_number=1,
            weight_kg=Decimal("70.0"),
            receipt=receipt,
            by=unblinded,
            now=NOW,
        )


def test_a_syringe_that_has_not_expired_can_be_discarded_too_and_a_placebo_one_leaves_no_register_line(
    placebo, receipt, unblinded, checker, client_for
) -> None:
    # Dropped on the floor an hour after it was prepared (and before its check).
    prep = allocation.dose_prepare(
        participant=placebo,
        period=1,
        infusion_number=1,
        weight_kg=Decimal("70.0"),
        receipt=receipt,
        by=unblinded,
        now=NOW - timedelta(hours=1),
    )
    page = client_for(unblinded).get(_page(placebo)).content.decode()
    assert f'<option value="{prep.pk}">Period 1, infusion 1: {prep.syringe_code}</option>' in page
    assert ">expired<" not in page
    response = client_for(unblinded).post(
        _page(placebo), {"discard-preparation": prep.pk, "discard-reason": "dropped"}, follow=True
    )
    assert f"Syringe {prep.syringe_code} discarded: destroy it." in response.content.decode()
    prep.refresh_from_db()
    assert prep.check_status == "discarded"
    assert not RegisterEntry.objects.filter(preparation=prep).exists()
    # A discarded preparation is checked no more.
    with pytest.raises(ValidationError, match="already checked"):
        allocation.preparation_check(
            pk=prep.pk,
            decision="confirm",
            lot="",
            volume_drawn_ml=Decimal("0"),
            reason="",
            by=checker,
            now=NOW,
        )
    with pytest.raises(ValidationError, match="Nothing to discard"):
        preparation_discard(pk=prep.pk, reason="again", by=checker, now=NOW)
    _confirmed(placebo, receipt, unblinded, checker, at=NOW)


def test_a_discard_without_a_reason_is_refused_and_keeps_what_was_chosen(
    ketamine, receipt, unblinded, checker, client_for
) -> None:
    prep = _confirmed(ketamine, receipt, unblinded, checker)
    response = client_for(unblinded).post(
        _page(ketamine), {"discard-preparation": prep.pk, "discard-reason": "  "}
    )
    page = response.content.decode()
    assert response.status_code == 400
    assert "This field is required." in page
    assert f'<option value="{prep.pk}" selected>' in page
    with pytest.raises(ValidationError, match="Give the reason"):
        preparation_discard(pk=prep.pk, reason=" ", by=unblinded, now=NOW)
    prep.refresh_from_db()
    assert prep.check_status == "confirmed"
    assert not RegisterEntry.objects.filter(preparation=prep, cause="rejected").exists()


def test_a_syringe_an_infusion_started_with_cannot_be_discarded(
    ketamine, receipt, unblinded, checker, infusion_physician, client_for
) -> None:
    prep = _confirmed(ketamine, receipt, unblinded, checker)
    _start(ketamine, infusion_physician, prep, at=PREPARED + timedelta(hours=2))
    with pytest.raises(ValidationError, match=f"Syringe {prep.syringe_code} was given"):
        preparation_discard(pk=prep.pk, reason="expired", by=unblinded, now=NOW)
    page = client_for(unblinded).get(_page(ketamine)).content.decode()
    assert f"{prep.syringe_code}</option>" not in page and "No syringe to discard." in page
    assert ">expired<" not in page  # given: its beyond-use time no longer matters
    response = client_for(unblinded).post(
        _page(ketamine), {"discard-preparation": prep.pk, "discard-reason": "expired"}
    )
    page = response.content.decode()
    assert response.status_code == 400
    assert "This syringe can no longer be discarded" in page and "expired</textarea>" in page
    prep.refresh_from_db()
    assert prep.check_status == "confirmed"
    assert not RegisterEntry.objects.filter(preparation=prep, cause="rejected").exists()


def _unstamped(response) -> str:  # type: ignore[no-untyped-def]
    """A page without what changes from request to request (its CSRF token, its own address)."""
    page = response.content.decode().replace(response.request["PATH_INFO"], "<url>")
    return re.sub(
        r'(name="csrfmiddlewaretoken" value|<meta name="csrf-token" content)="[^"]+"', "<csrf>", page
    )


def test_only_an_unblinded_pharmacist_discards_and_the_others_learn_nothing(
    ketamine, receipt, unblinded, checker, coordinator, infusion_physician, rater, make_user, client_for
) -> None:
    prep = _confirmed(ketamine, receipt, unblinded, checker)
    one_key = make_user("pharmacist_one_key", "pharmacist")  # in the group, not listed in settings
    missing = reverse("participants:preparations", args=[ketamine.pk + 1000])
    for user in (coordinator, infusion_physician, rater, one_key):
        client = client_for(user)
        existing = client.get(_page(ketamine))
        absent = client.get(missing)
        assert existing.status_code in (403, 404) and existing.status_code == absent.status_code, user
        assert _unstamped(existing) == _unstamped(absent)
        posted = client.post(_page(ketamine), {"discard-preparation": prep.pk, "discard-reason": "expired"})
        assert posted.status_code == existing.status_code, user
        with pytest.raises(PermissionDenied):
            preparation_discard(pk=prep.pk, reason="expired", by=user, now=NOW)
    prep.refresh_from_db()
    assert prep.check_status == "confirmed" and prep.history.count() == 2
    with pytest.raises(Http404):
        preparation_discard(pk=prep.pk + 1000, reason="expired", by=unblinded, now=NOW)


def test_the_worklist_flags_an_expired_syringe_and_asks_for_a_preparation_once_it_is_discarded(
    ketamine, receipt, unblinded, checker, client_for
) -> None:
    prep = _confirmed(ketamine, receipt, unblinded, checker)
    # Day 1, the day the syringe expires: an hour before, and at its beyond-use time.
    due = [
        d
        for d in allocation.doses_due(unblinded, now=BEYOND_USE - timedelta(hours=1))
        if d.participant == ketamine
    ]
    assert [(d.preparation, d.expired) for d in due] == [(prep, False)]
    due = [d for d in allocation.doses_due(unblinded, now=BEYOND_USE) if d.participant == ketamine]
    assert [(d.preparation, d.expired) for d in due] == [(prep, True)]
    preparation_discard(pk=prep.pk, reason="expired", by=unblinded, now=NOW)
    due = [d for d in allocation.doses_due(unblinded, now=BEYOND_USE) if d.participant == ketamine]
    assert [(d.preparation, d.state) for d in due] == [(None, "to_prepare")]
    rows = preparation_rows(unblinded, ketamine, now=NOW)
    assert [(r.prep.pk, r.discardable, r.expired, r.discarded_by, r.discard_reason) for r in rows] == [
        (prep.pk, False, False, "pharmacist", "expired")
    ]


# -- blinding -------------------------------------------------------------------------------------


def _blinded_view(page: str, person: Participant, code: str) -> str:
    """A session page with what names this participant and syringe masked, and the clock."""
    page = page.replace(person.code, "<participant>").replace(code, "<syringe>")
    page = re.sub(rf"/{person.pk}/", "/<pk>/", page)
    page = re.sub(r'name="csrfmiddlewaretoken" value="[^"]+"', "<csrf>", page)
    page = re.sub(r"\d{4}-\d\d-\d\d[ T]\d\d:\d\d", "<time>", page)
    return page


def test_the_infusion_team_sees_the_same_expiry_for_ketamine_and_placebo(
    ketamine, placebo, receipt, unblinded, checker, infusion_physician, client_for
) -> None:
    doctor = client_for(infusion_physician)
    views = []
    for person in (ketamine, placebo):
        prep = _confirmed(person, receipt, unblinded, checker)
        session = reverse("infusions:session", args=[person.pk, 1, 1])
        scanned = doctor.post(
            reverse("infusions:session_scan", args=[person.pk, 1, 1]), {"code": prep.syringe_code}
        )
        started = doctor.post(
            f"{session}start/",
            {
                **{f"check_{key}": "on" for key, _label in infusion_services.PRECHECKS},
                "syringe_code": prep.syringe_code,
                "pump_rate_ml_h": str(prep.pump_rate_ml_h),
                "started_at": timezone.localtime(BEYOND_USE + timedelta(minutes=5)).strftime(
                    "%Y-%m-%dT%H:%M"
                ),
            },
        )
        preparation_discard(pk=prep.pk, reason="expired", by=unblinded, now=NOW)
        after_discard = doctor.get(session)
        assert (scanned.status_code, started.status_code, after_discard.status_code) == (400, 400, 200)
        views.append(
            [
                _blinded_view(r.content.decode(), person, prep.syringe_code)
                for r in (scanned, started, after_discard)
            ]
        )
    scanned, started, after_discard = views[0]
    for page in (scanned, started):
        assert "STOP: syringe <syringe> expired at <time>" in page
    assert "Past its beyond-use time" in after_discard
    assert views[0] == views[1]
    for page in views[0]:
        assert "etamin" not in page and "lacebo" not in page
