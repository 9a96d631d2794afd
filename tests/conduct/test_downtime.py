"""The downtime procedure: the sealed code-break list (printed by the blinding package, only for
the unblinded pharmacist, every print logged), blank paper forms, and paper forms entered later
with their real times and "entered from paper" in the audit trail."""

from __future__ import annotations

import io
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from django.urls import reverse
from pypdf import PdfReader

from conduct.models import PregnancyTest
from ketatrial.models import AllocationView
from participants import allocation
from tests.factories import randomized

MX = ZoneInfo("America/Mexico_City")
NOW = datetime(2026, 3, 2, 10, 0, tzinfo=MX)


def _text(response) -> str:  # type: ignore[no-untyped-def]
    assert response["Content-Type"] == "application/pdf"
    return "".join(page.extract_text() for page in PdfReader(io.BytesIO(response.content)).pages)


@pytest.fixture
def two(coordinator, pharmacist, settings):  # type: ignore[no-untyped-def]
    settings.UNBLINDED_USERNAMES = ["pharmacist"]
    allocation.allocation_list_generate(by=pharmacist, now=NOW, n_per_stratum=4, seed=3)
    return [randomized(coordinator, now=NOW, name=name) for name in ("Ana", "Bea")]


def test_the_code_break_list_gives_each_participant_a_page_with_the_allocation_and_is_logged(
    two, pharmacist, client_for
) -> None:
    response = client_for(pharmacist).get(reverse("conduct:code_break"))
    assert response.status_code == 200
    reader = PdfReader(io.BytesIO(response.content))
    assert len(reader.pages) == 2
    expected = {row.participant.code: row.sequence for row in allocation.allocation_table(pharmacist)}
    for page in reader.pages:
        text = page.extract_text()
        code = next(c for c in expected if c in text)
        assert f"Allocation: {expected[code]}" in text
        assert "Ketamine hydrochloride" in text and "Placebo" in text
    logged = AllocationView.objects.get()
    assert (logged.what, logged.user, logged.participant) == ("code_break_list", pharmacist, None)
    # One participant's envelope, logged against that participant.
    one = client_for(pharmacist).get(reverse("conduct:code_break") + f"?participant={two[0].pk}")
    assert len(PdfReader(io.BytesIO(one.content)).pages) == 1
    assert AllocationView.objects.filter(participant=two[0], what="code_break_list").count() == 1


def test_nobody_else_prints_it_and_a_refusal_is_not_logged(two, client_for, make_user) -> None:
    one_key = make_user("pharmacist_one_key", "pharmacist")  # not listed in settings
    assert client_for(one_key).get(reverse("conduct:code_break")).status_code == 403
    for role in ("coordinator", "principal_investigator", "data_manager", "rater", "statistician"):
        assert client_for(make_user(f"{role}_x", role)).get(reverse("conduct:code_break")).status_code == 403
    assert not AllocationView.objects.exists()


def test_the_blank_rating_form_names_no_period_and_each_role_prints_its_own_forms(
    rater, infusion_physician, client_for
) -> None:
    raters = client_for(rater)
    hdrs = _text(raters.get(reverse("conduct:paper_form", args=["hdrs17"])))
    assert "Depressed mood" in hdrs and "16B" in hdrs and "Date and time of the rating" in hdrs
    assert "Period" not in hdrs and "infusion" not in hdrs.lower()
    assert raters.get(reverse("conduct:paper_form", args=["session"])).status_code == 404
    physicians = client_for(infusion_physician)
    session = _text(physicians.get(reverse("conduct:paper_form", args=["session"])))
    assert "Pregnancy test" in session and "72 h" in session and "CADSS" in session
    vitals = _text(physicians.get(reverse("conduct:paper_form", args=["vitals"])))
    assert "80 min" in vitals and "above 180" in vitals
    assert physicians.get(reverse("conduct:paper_form", args=["madrs"])).status_code == 404


def test_forms_entered_from_paper_keep_their_real_time_and_say_so_in_the_audit_trail(
    two, coordinator, client_for
) -> None:
    client = client_for(coordinator)
    person = two[0]
    add = reverse("conduct:pregnancy_test_add", args=[person.pk])
    assert client.post(reverse("conduct:paper_entry"), {"state": "on"}).status_code == 302
    downtime = client.get(reverse("conduct:downtime")).content.decode()
    assert "Entering paper forms: what you save is marked as entered from paper" in downtime  # the banner
    client.post(add, {"tested_at": "2026-03-01T07:15", "kind": "urine", "result": "negative"})
    on_paper = PregnancyTest.objects.get(participant=person)
    assert on_paper.tested_at == datetime(2026, 3, 1, 7, 15, tzinfo=MX)  # the real time, not the entry's
    reason = on_paper.history.get().history_change_reason
    assert reason.startswith("created; entered from paper (entered at ") and reason.endswith(")")
    assert client.post(reverse("conduct:paper_entry"), {"state": "off"}).status_code == 302
    assert (
        "Entering paper forms: what you save" not in client.get(reverse("conduct:downtime")).content.decode()
    )
    client.post(add, {"tested_at": "2026-03-01T09:00", "kind": "urine", "result": "negative"})
    live = PregnancyTest.objects.exclude(pk=on_paper.pk).get()
    assert live.history.get().history_change_reason == "created"


def test_paper_entry_marks_the_pages_of_other_apps_too(two, principal_investigator, client_for) -> None:
    """Every audited write of the session is marked, whichever page makes it: here the relapse
    event of the ratings app, entered with its real date."""
    from clinimetry.models import RelapseEvent

    client = client_for(principal_investigator)
    client.post(reverse("conduct:paper_entry"), {"state": "on"})
    page = reverse("clinimetry:relapse_event", args=[two[1].pk])
    client.post(page, {"kind": "hospitalization", "occurred_at": "2026-03-01T22:40", "note": ""})
    event = RelapseEvent.objects.get(participant=two[1])
    assert event.occurred_at == datetime(2026, 3, 1, 22, 40, tzinfo=MX)
    assert event.history.get().history_change_reason.startswith("recorded; entered from paper (entered at ")
