"""Times in messages are shown in one time zone, the site's (issue 13, "one time zone in
messages"). STYLE.md: "Time: timezone-aware datetimes only; store UTC, show America/Mexico_City"."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from ketatrial.timefmt import local_minute

UTC = ZoneInfo("UTC")


@pytest.mark.parametrize(
    ("moment", "shown"),
    [
        (datetime(2026, 3, 2, 15, 0, tzinfo=UTC), "2026-03-02 09:00 CST"),  # UTC-6 all year
        (datetime(2026, 7, 1, 3, 30, tzinfo=UTC), "2026-06-30 21:30 CST"),  # no summer time since 2022
        (datetime(2026, 3, 2, 9, 0, tzinfo=ZoneInfo("America/Mexico_City")), "2026-03-02 09:00 CST"),
        (datetime(2026, 3, 2, 10, 0, tzinfo=ZoneInfo("America/New_York")), "2026-03-02 09:00 CST"),
    ],
)
def test_a_time_in_a_message_is_shown_in_mexico_city_time_with_its_zone(moment: datetime, shown: str) -> None:
    assert local_minute(moment) == shown


@pytest.mark.django_db
def test_the_suicide_risk_alert_gives_the_rating_time_in_mexico_city_time(
    rater, coordinator, principal_investigator
) -> None:
    """A rating time passed in UTC was written into the alert as UTC, without a zone."""
    from django.utils import timezone

    from clinimetry import services
    from ketatrial.models import Notification
    from tests.factories import enrolled

    person = enrolled(coordinator, now=timezone.now() - timedelta(days=1))
    rated_at = (timezone.now() - timedelta(hours=2)).astimezone(UTC).replace(second=0, microsecond=0)
    services.assessment_save(
        participant=person,
        instrument="madrs",
        task_code="baseline",
        items={str(n): 3 for n in range(1, 10)} | {"10": 4},
        rated_at=rated_at,
        recall_period="past_week",
        interview_guide="sigma",
        mode="in_person",
        by=rater,
        now=timezone.now(),
    )
    note = Notification.objects.get(recipient=principal_investigator)
    assert f"rated {local_minute(rated_at)} flags suicide risk" in note.body
    assert local_minute(rated_at).endswith(" CST")
