"""An infusion session typed in from its paper form after a downtime: the CADSS and BPRS+ keep the
time written on the form, and every record says it was entered from paper."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse

from infusions import services as infusion_services
from infusions.dissociation import BPRS_POSITIVE_ITEMS, CADSS_ITEMS
from infusions.models import DissociationRating
from participants.models import DosePreparation
from tests.infusions.factories import scheduled

MX = ZoneInfo("America/Mexico_City")
NOW = datetime(2026, 3, 2, 8, 0, tzinfo=MX)
START = datetime(2026, 3, 3, 9, 0, tzinfo=MX)
CHECKS = {"identity": True, "consent": True, "fasting": True, "no_contraindication": True, "iv_access": True}


@pytest.fixture
def visit(coordinator, pharmacist, make_user, infusion_physician, settings):  # type: ignore[no-untyped-def]
    settings.UNBLINDED_USERNAMES = ["pharmacist", "pharmacist2"]
    person = scheduled(
        coordinator=coordinator,
        pharmacist=pharmacist,
        checker=make_user("pharmacist2", "pharmacist"),
        day1=date(2026, 3, 3),
        now=NOW,
        prepared_at=START - timedelta(hours=1),
    )
    visit = infusion_services.visit_for(person, 1, 1, by=infusion_physician)
    return infusion_services.session_start(
        visit=visit,
        prechecks=CHECKS,
        syringe_code=DosePreparation.objects.get(
            participant=person, period=1, infusion_number=1
        ).syringe_code,
        pump_rate_ml_h=Decimal("75.0"),
        started_at=START,
        by=infusion_physician,
        now=START + timedelta(minutes=1),
    )


def _post(rated_at: str) -> dict[str, str]:
    data = {"dis-minute": "0", "dis-rated_at": rated_at}
    data |= {f"dis-cadss_{n}": "0" for n in range(1, CADSS_ITEMS + 1)}
    data |= {f"dis-bprs_{name}": "1" for name in BPRS_POSITIVE_ITEMS}
    return data


def test_cadss_from_paper_keeps_the_written_time_and_the_mark(visit, infusion_physician, client_for) -> None:
    client = client_for(infusion_physician)
    url = reverse("infusions:session_dissociation", args=[visit.participant_id, 1, 1])
    client.post(reverse("conduct:paper_entry"), {"state": "on"})
    assert client.post(url, _post("2026-03-03T09:05")).status_code == 302
    rating = DissociationRating.objects.get(visit=visit)
    assert rating.rated_at == datetime(2026, 3, 3, 9, 5, tzinfo=MX)
    assert rating.history.get().history_change_reason.startswith("rated; entered from paper (entered at ")


def test_a_rating_time_in_the_future_is_refused_on_its_field(visit, infusion_physician) -> None:
    with pytest.raises(ValidationError) as refused:
        infusion_services.dissociation_record(
            visit=visit,
            minute=40,
            cadss_items=[0] * CADSS_ITEMS,
            bprs_items=[1] * len(BPRS_POSITIVE_ITEMS),
            rated_at=START + timedelta(hours=2),
            by=infusion_physician,
            now=START + timedelta(hours=1),
        )
    assert "is in the future" in refused.value.message_dict["rated_at"][0]
