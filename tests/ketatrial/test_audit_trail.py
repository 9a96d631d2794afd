"""The audit trail people can use (issue 14, item 4): filters, paging, field-level changes in
words, CSV export, and the one visibility rule on all of it."""

from __future__ import annotations

import csv
import io
import re
from datetime import timedelta
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone

from clinimetry import services as ratings
from clinimetry.examples import spread
from clinimetry.models import Assessment
from ketatrial.protocol import PRINCIPAL_INVESTIGATOR
from participants import allocation, services
from participants.allocation import visibility
from tests.factories import baseline_rater, enrolled, randomized


def _html(client, **query) -> str:  # type: ignore[no-untyped-def]
    response = client.get(reverse("audit_index"), query)
    assert response.status_code == 200
    return response.content.decode()


def _csv(client, **query) -> list[dict[str, str]]:  # type: ignore[no-untyped-def]
    response = client.get(reverse("audit_csv"), query)
    assert response.status_code == 200
    assert response["Content-Disposition"] == 'attachment; filename="audit-trail.csv"'
    text = b"".join(response.streaming_content).decode("utf-8-sig")
    return list(csv.DictReader(io.StringIO(text)))


def _corrected_item_4(participant) -> Assessment:  # type: ignore[no-untyped-def]
    """The baseline HDRS-17 corrected: item 4 (insomnia: early) from 2 to 1, nothing else."""
    hdrs = Assessment.objects.get(participant=participant, instrument="hdrs17")
    items = {**spread("hdrs17", 24)}
    assert items["4"] == 2
    items["4"] = 1
    return ratings.assessment_save(
        participant=participant,
        instrument="hdrs17",
        task_code="baseline",
        items=items,
        rated_at=hdrs.rated_at,
        recall_period=hdrs.recall_period,
        interview_guide=hdrs.interview_guide,
        mode=hdrs.mode,
        by=baseline_rater(),
        now=timezone.now(),
        reason="Item 4 misread from the interview notes",
    )


@pytest.fixture
def trial(coordinator, pharmacist, settings):  # type: ignore[no-untyped-def]
    """Two randomized participants; the first one's baseline HDRS-17 corrected at item 4, the
    second one's height corrected by the coordinator."""
    settings.UNBLINDED_USERNAMES = ["pharmacist"]
    now = timezone.now() - timedelta(hours=1)
    allocation.allocation_list_generate(by=pharmacist, now=now, n_per_stratum=8, seed=3)
    first, second = randomized(coordinator, now=now), randomized(coordinator, now=now)
    _corrected_item_4(first)
    services.participant_update(
        participant=second, by=coordinator, reason="Scale recalibrated", height_cm=Decimal("171.5")
    )
    return first, second


def test_an_item_change_shows_only_the_changed_item_with_its_label(trial, data_manager, client_for) -> None:
    first, _second = trial
    html = _html(client_for(data_manager), participant=first.code, form="clinimetry.assessment", action="~")
    assert "Item 4 misread from the interview notes" in html
    change = re.sub(r"<[^>]+>", "", re.search(r'<ul class="list-unstyled[^"]*">(.*?)</ul>', html, re.S)[1])
    lines = [" ".join(line.split()) for line in change.strip().splitlines() if line.strip()]
    assert "item 4 (Insomnia: early): 2 → 1" in lines
    assert "total: 24 → 23" in lines
    # Only the item that changed: no other item, no whole list of 18 values.
    assert not [line for line in lines if line.startswith("item ") and not line.startswith("item 4 ")]
    assert "{" not in change


def test_users_appear_by_username_and_full_name_never_by_id(trial, data_manager, client_for) -> None:
    html = _html(client_for(data_manager), action="~", form="participants.participant")
    assert "coordinator (Coordinator Tester)" in html


def test_the_trail_filters_by_participant_form_user_role_action_and_date(
    trial, coordinator, data_manager, client_for
) -> None:
    first, second = trial
    client = client_for(data_manager)

    def rows(**query):  # type: ignore[no-untyped-def]
        return _csv(client, **query)

    everything = rows()
    assert {r["participant"] for r in everything} >= {first.code, second.code}
    mine = rows(participant=first.code.lower())
    assert mine and {r["participant"] for r in mine} == {first.code}
    assert {r["form"] for r in rows(form="clinimetry.assessment")} == {"clinimetry.assessment"}
    by_coordinator = rows(user=str(coordinator.pk))
    assert by_coordinator and {r["username"] for r in by_coordinator} == {"coordinator"}
    by_raters = rows(role="rater")
    assert by_raters and {r["username"] for r in by_raters} == {"baseline_rater"}
    changed = rows(action="~")
    assert changed and {r["action"] for r in changed} == {"changed"}
    assert {r["reason"] for r in rows(action="~", participant=second.code)} >= {"Scale recalibrated"}
    today = timezone.localdate()
    assert rows(date_from=str(today + timedelta(days=1))) == []
    assert len(rows(date_from=str(today - timedelta(days=1)), date_to=str(today))) == len(everything)
    assert rows(date_to=str(today - timedelta(days=2))) == []
    assert rows(participant="INNN-999") == []
    # The page says how many entries the filter keeps.
    html = _html(client, participant=second.code, action="~", form="participants.participant")
    assert "Scale recalibrated" in html and "Item 4 misread" not in html


def test_a_reversed_date_range_says_what_to_do(data_manager, client_for) -> None:
    html = _html(client_for(data_manager), date_from="2026-03-02", date_to="2026-03-01")
    assert "The first day comes after the last" in html


def test_the_trail_is_paged_keeping_the_filter(trial, data_manager, client_for, monkeypatch) -> None:
    from ketatrial import views_audit

    monkeypatch.setattr(views_audit, "PAGE_SIZE", 3)
    client = client_for(data_manager)
    first, _second = trial
    # One CSV line per changed field: an entry is one history row of one form.
    lines = _csv(client, participant=first.code)
    total = len({(r["form"], r["history_id"]) for r in lines})
    assert total > 3
    html = _html(client, participant=first.code)
    assert f"{total} entries" in html and html.count('<td class="text-nowrap">') == 3
    assert f"participant={first.code}" in html and "page=2" in html
    last = -(-total // 3)
    page = _html(client, participant=first.code, page=last)
    assert f"Page {last} of {last}" in page
    assert page.count('<td class="text-nowrap">') == total - 3 * (last - 1)


def test_a_randomization_shows_as_the_participant_s_change_with_its_number_and_no_allocation(
    trial, data_manager, client_for
) -> None:
    first, _second = trial
    number = allocation.blinded_allocation(first).randomization_number
    client = client_for(data_manager)
    rows = [r for r in _csv(client, participant=first.code) if r["reason"] == "randomized"]
    fields = {r["field"]: (r["old_value"], r["new_value"]) for r in rows}
    assert fields["status"] == ("Enrolled", "Randomized")
    assert fields["randomization_number"] == ("", number)
    assert {r["username"] for r in rows} == {"coordinator"}
    html = _html(client, participant=first.code)
    assert number in html
    everything = "".join(str(r) for r in _csv(client))
    assert "KP" not in everything and "PK" not in everything and "slot" not in everything.lower()


def test_the_monitor_and_the_pi_read_the_trail(trial, monitor, principal_investigator, client_for) -> None:
    for reader in (monitor, principal_investigator):
        html = _html(client_for(reader))
        assert "Scale recalibrated" in html, reader


def test_other_roles_are_refused_the_trail_and_its_export(
    trial, coordinator, pharmacist, make_user, client_for
) -> None:
    others = {"coordinator": coordinator, "pharmacist": pharmacist}
    others |= {
        role: make_user(f"other_{role}", role) for role in ("rater", "statistician", "infusion_physician")
    }
    for role, user in others.items():
        client = client_for(user)
        assert client.get(reverse("audit_index")).status_code == 403, role
        assert client.get(reverse("audit_csv")).status_code == 403, role


def test_the_pi_does_not_see_a_field_the_rule_hides_from_the_pi(
    trial, data_manager, principal_investigator, client_for, monkeypatch
) -> None:
    """Planted: the participant's height made a kind the PI may not see. The data manager still
    reads the correction; the PI reads the entry (the reason) but not the values, on the page, the
    record's history and in the CSV."""
    _first, second = trial
    monkeypatch.setitem(
        visibility.TABLE,
        PRINCIPAL_INVESTIGATOR,
        {k: v for k, v in visibility.TABLE[PRINCIPAL_INVESTIGATOR].items() if k != visibility.MRS},
    )
    monkeypatch.setitem(visibility.FIELD_KINDS, "participants.participant", {"height_cm": visibility.MRS})
    query = {"participant": second.code, "form": "participants.participant"}
    record = reverse("audit_record", args=["participants.participant", second.pk])
    dm, pi = client_for(data_manager), client_for(principal_investigator)
    assert "171.5" in _html(dm, **query) and "171.5" in dm.get(record).content.decode()
    assert any(r["field"] == "height_cm" for r in _csv(dm, **query))
    for text in (_html(pi, **query), pi.get(record).content.decode()):
        assert "Scale recalibrated" in text
        assert "171.5" not in text and "170.0" not in text and "height" not in text
    pi_rows = _csv(pi, **query)
    assert "Scale recalibrated" in {r["reason"] for r in pi_rows}
    assert not [r for r in pi_rows if r["field"] == "height_cm" or "171.5" in r["new_value"]]


def test_a_kind_the_reader_may_not_see_leaves_the_trail_the_counts_and_the_choices(
    trial, monitor, client_for, monkeypatch
) -> None:
    """Planted: ratings made a kind the monitor may not see. No assessment entry, no choice of
    that form, no count that includes them; the CSV likewise."""
    from ketatrial.protocol import MONITOR

    client = client_for(monitor)
    before = len(_csv(client))
    assessments = len(_csv(client, form="clinimetry.assessment"))
    assert assessments
    monkeypatch.setitem(
        visibility.TABLE,
        MONITOR,
        {k: v for k, v in visibility.TABLE[MONITOR].items() if k != visibility.RATINGS},
    )
    html = _html(client)
    assert 'value="clinimetry.assessment"' not in html and "Item 4 misread" not in html
    rows = _csv(client)
    assert not [r for r in rows if r["form"].startswith("clinimetry.")]
    assert len(rows) < before
    assert _csv(client, form="clinimetry.assessment") == _csv(client)  # an unknown choice filters nothing


def _page(response, url: str) -> str:  # type: ignore[no-untyped-def]
    html = response.content.decode().replace(url, "URL")
    return re.sub(r'(csrfmiddlewaretoken" value=|nonce=)"[^"]*"', "", html)


def test_a_record_the_reader_may_not_see_answers_404_exactly_like_a_missing_one(
    trial, monitor, client_for, monkeypatch
) -> None:
    from ketatrial.protocol import MONITOR

    first, _second = trial
    hdrs = Assessment.objects.get(participant=first, instrument="hdrs17")
    client = client_for(monitor)
    visible = reverse("audit_record", args=["clinimetry.assessment", hdrs.pk])
    assert client.get(visible).status_code == 200
    monkeypatch.setitem(
        visibility.TABLE,
        MONITOR,
        {k: v for k, v in visibility.TABLE[MONITOR].items() if k != visibility.RATINGS},
    )
    missing = reverse("audit_record", args=["clinimetry.assessment", hdrs.pk + 1000])
    hidden, absent = client.get(visible), client.get(missing)
    assert hidden.status_code == absent.status_code == 404
    assert _page(hidden, visible) == _page(absent, missing)


def test_the_rater_gets_the_same_refusal_for_a_rating_s_history_and_a_missing_one(
    trial, rater, client_for
) -> None:
    first, _second = trial
    hdrs = Assessment.objects.get(participant=first, instrument="hdrs17")
    client = client_for(rater)
    urls = [
        reverse("audit_record", args=["clinimetry.assessment", hdrs.pk]),
        reverse("audit_record", args=["clinimetry.assessment", hdrs.pk + 1000]),
    ]
    existing, missing = (client.get(url) for url in urls)
    assert existing.status_code == missing.status_code == 403
    assert _page(existing, urls[0]) == _page(missing, urls[1])


def test_a_record_s_history_shows_the_item_change_in_words(trial, data_manager, client_for) -> None:
    first, _second = trial
    hdrs = Assessment.objects.get(participant=first, instrument="hdrs17")
    html = client_for(data_manager).get(reverse("audit_record", args=["clinimetry.assessment", hdrs.pk]))
    text = " ".join(re.sub(r"<[^>]+>", "", html.content.decode()).split())
    assert "item 4 (Insomnia: early): 2 → 1" in text
    assert "baseline_rater" in text


def test_server_file_paths_never_reach_the_trail(monkeypatch) -> None:
    """The MRS upload's storage paths are INTERNAL: no role reads them, so no row of the trail."""
    from django.contrib.auth.models import AnonymousUser

    shown = visibility.visible_fields(
        AnonymousUser(), "spectroscopy.mrsupload", ["participant", "stored_path", "converted_path"]
    )
    assert shown == ["participant"]


def test_a_spreadsheet_reads_a_reason_as_text_never_as_a_formula(
    coordinator, data_manager, client_for
) -> None:
    person = enrolled(coordinator)
    services.participant_update(
        participant=person, by=coordinator, reason='=HYPERLINK("http://x","y")', height_cm=Decimal("171.0")
    )
    reasons = {r["reason"] for r in _csv(client_for(data_manager), action="~")}
    assert '\'=HYPERLINK("http://x","y")' in reasons
