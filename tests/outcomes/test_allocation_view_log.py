"""Every look at unblinded results after the key's release is in the log of views of the
allocation (issue 14, item 8): the release, the key letters, the efficacy results and reports, the
CONSORT diagram by arm, unblinded exports and API reads; nothing before release, nothing for
blinded readers."""

from __future__ import annotations

from django.test import Client
from django.urls import reverse
from django.utils import timezone

from ketatrial.models import AllocationView
from outcomes import analysis_runs, services
from outcomes.models import ExportJob


def _whats() -> list[str]:
    return list(AllocationView.objects.order_by("id").values_list("what", flat=True))


def test_every_unblinded_page_the_statistician_opens_is_logged(
    trial, statistician, principal_investigator, client_for
) -> None:
    client = client_for(statistician)
    for name in ("outcomes:lock", "outcomes:analyses", "outcomes:consort", "outcomes:exports"):
        assert client.get(reverse(name)).status_code == 200
    assert _whats() == []  # coded, pooled: nothing of the allocation before release
    services.database_lock(by=principal_investigator, now=timezone.now())
    assert client.post(reverse("outcomes:release")).status_code == 302
    assert _whats() == ["key_release"]
    client.get(reverse("outcomes:lock"))
    efficacy = analysis_runs.analyses_run(trigger="on demand", user_id=statistician.pk, now=timezone.now())[1]
    client.get(reverse("outcomes:analyses"))
    client.get(reverse("outcomes:analysis_report_page", args=[efficacy.pk]))
    client.get(reverse("outcomes:analysis_report", args=[efficacy.pk]))
    client.get(reverse("outcomes:consort"))
    job = ExportJob.objects.create(
        requested_by=statistician,
        requested_at=timezone.now(),
        blinding=services.blinding_for(statistician, unblinded=True),
    )
    services.export_run(job.pk, now=timezone.now())
    assert client.get(reverse("outcomes:export_download", args=[job.pk])).status_code == 200
    token = client.post(reverse("api:token")).json()["token"]
    api = Client(HTTP_AUTHORIZATION=f"Token {token}")
    assert api.get(reverse("api:participants"), {"unblinded": "1"}).status_code == 200
    assert api.get(reverse("api:participants")).status_code == 200  # coded: not logged
    assert _whats() == [
        "key_release",
        "key_letters",
        "efficacy_results",
        "efficacy_report",
        "efficacy_report",
        "consort_by_arm",
        "unblinded_export",
        "unblinded_api",
    ]
    assert set(AllocationView.objects.values_list("user__username", flat=True)) == {"statistician"}


def test_a_refused_release_and_blinded_readers_log_nothing(
    trial, statistician, principal_investigator, monitor, client_for
) -> None:
    client_for(statistician).post(reverse("outcomes:release"))  # refused: the database is not locked
    for name in ("outcomes:consort", "outcomes:analyses", "outcomes:lock"):
        client_for(principal_investigator).get(reverse(name))
    client_for(monitor).get(reverse("outcomes:consort"))
    assert _whats() == []
