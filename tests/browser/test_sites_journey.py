"""Several sites in a browser (issue 15, item 5): the coordinator of site B signs in and finds
only site B's participants; a direct URL to a site-A participant answers exactly like one that
does not exist."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from ketatrial.protocol import COORDINATOR
from ketatrial.trial import protocol
from participants import services
from participants.models import Participant
from tests.browser.conftest import sign_in
from tests.conftest import PASSWORD
from tests.factories import enrolled, inclusion_answers

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _enrolled_at(site, coordinator):  # type: ignore[no-untyped-def]
    p, now = protocol(), timezone.now()
    record = services.screening_start(site=site, by=coordinator, now=now - timedelta(hours=2))
    services.consent_record(
        screening=record,
        version=p.consent_version,
        consented_at=now - timedelta(hours=1),
        by=coordinator,
        now=now,
    )
    services.screening_assess(
        screening=record,
        inclusion_met=inclusion_answers(24),
        exclusion_present=[False] * len(p.exclusion_criteria),
        hdrs17_total=24,
        by=coordinator,
        now=now,
    )
    record.refresh_from_db()
    return services.participant_enroll(
        screening=record,
        by=coordinator,
        now=now,
        baseline_weight_kg=Decimal("68.0"),
        height_cm=Decimal("165.0"),
        full_name="Elena Vázquez",
        date_of_birth=date(1984, 6, 2),
        phone="55 0000 0000",
        address="Tlalpan, CDMX",
        baseline_date=timezone.localdate(now),
    )


def test_a_site_b_coordinator_sees_only_site_b_and_a_site_a_url_answers_like_a_missing_one(
    new_page, coordinator, data_manager, make_user
) -> None:
    person_a = enrolled(coordinator)
    site_b = services.site_create(code="HSUR", name="Hospital del Sur")
    coordinator_b = make_user("coordinator_b", COORDINATOR)
    services.user_set_sites(
        user=coordinator_b, sites=[site_b], reason="site B", by=data_manager, now=timezone.now()
    )
    person_b = _enrolled_at(site_b, type(coordinator_b).objects.get(pk=coordinator_b.pk))
    missing = Participant.objects.order_by("-pk").first().pk + 100

    page = new_page()
    sign_in(page, "coordinator_b", PASSWORD)
    page.goto("/participants/")
    expect(page.get_by_role("link", name=person_b.code)).to_be_visible()
    expect(page.get_by_text(person_a.code)).to_have_count(0)

    other = page.goto(f"/participants/{person_a.pk}/")
    other_text = page.locator("body").inner_text()
    absent = page.goto(f"/participants/{missing}/")
    assert other.status == absent.status == 404
    assert page.locator("body").inner_text() == other_text

    page.goto("/participants/screening/")
    expect(page.get_by_role("link", name=person_b.screening.code)).to_be_visible()
    expect(page.get_by_text(person_a.screening.code)).to_have_count(0)
