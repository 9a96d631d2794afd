"""The statistician API (token), its OpenAPI schema, the analysis and CONSORT pages and the PDFs."""

from __future__ import annotations

import io

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from pypdf import PdfReader

from outcomes import analysis_runs, consort, services


def _token(client_for, user) -> str:  # type: ignore[no-untyped-def]
    return client_for(user).post(reverse("api:token")).json()["token"]


def test_the_api_serves_the_coded_data_to_the_statistician_by_token(trial, statistician, client_for) -> None:
    token = _token(client_for, statistician)
    api = Client(HTTP_AUTHORIZATION=f"Token {token}")
    body = api.get(reverse("api:long")).json()
    assert body["blinding"] == "blinded" and body["count"] == 48 and "sequence_code" in body["columns"]
    assert {row["period"] for row in body["results"]} == {0, 1}
    text = str(body)
    assert "KP" not in text and "ketamine" not in text
    page = api.get(reverse("api:long"), {"offset": 40, "limit": 5}).json()
    assert len(page["results"]) == 5 and page["offset"] == 40
    assert api.get(reverse("api:long"), {"unblinded": "1"}).status_code == 403


def test_the_api_refuses_without_a_token_and_other_roles(
    trial, rater, coordinator, data_manager, client_for
) -> None:
    assert Client().get(reverse("api:participants")).status_code in (401, 403)
    assert Client(HTTP_AUTHORIZATION="Token nonsense").get(reverse("api:participants")).status_code == 401
    assert client_for(rater).post(reverse("api:token")).status_code == 403
    assert client_for(coordinator).get(reverse("api:participants")).status_code == 403
    body = (
        Client(HTTP_AUTHORIZATION=f"Token {_token(client_for, data_manager)}").get(reverse("api:mrs")).json()
    )
    assert body["blinding"] == "no_sequence" and "sequence_code" not in body["columns"]


def test_after_release_the_statistician_may_read_unblinded(
    trial, statistician, principal_investigator, client_for
) -> None:
    services.database_lock(by=principal_investigator, now=timezone.now())
    services.sequence_release(by=statistician, now=timezone.now())
    api = Client(HTTP_AUTHORIZATION=f"Token {_token(client_for, statistician)}")
    body = api.get(reverse("api:participants"), {"unblinded": "1"}).json()
    assert body["blinding"] == "unblinded" and {r["sequence"] for r in body["results"]} == {"KP", "PK"}


def test_the_openapi_schema_describes_every_endpoint(db) -> None:
    response = Client().get(reverse("api:schema"), HTTP_ACCEPT="application/json")
    assert response.status_code == 200
    import json

    import yaml

    text = response.content.decode()
    schema = json.loads(text) if text.lstrip().startswith("{") else yaml.safe_load(text)
    assert schema["openapi"].startswith("3.")
    for path in ("/api/v1/long/", "/api/v1/wide/", "/api/v1/mrs/", "/api/v1/participants/"):
        assert "get" in schema["paths"][path]
    assert "tokenAuth" in schema["components"]["securitySchemes"]


def test_consort_counts_and_diagram_pooled_before_release(trial, coordinator, client_for) -> None:
    counts = consort.counts()
    assert counts["randomized"] == 8 and list(counts["arms"]) == ["pooled"]
    assert counts["arms"]["pooled"]["analysed"] == 8
    svg = consort.svg(counts)
    assert svg.startswith("<svg") and "Randomized (n = 8)" in svg
    page = client_for(coordinator).get(reverse("outcomes:consort")).content.decode()
    assert "Randomized (n = 8)" in page and "Sequence KP" not in page


def test_consort_by_sequence_after_release(trial, statistician, principal_investigator) -> None:
    services.database_lock(by=principal_investigator, now=timezone.now())
    services.sequence_release(by=statistician, now=timezone.now())
    counts = consort.counts(statistician, unblinded=True)
    assert set(counts["arms"]) == {"KP", "PK"} and sum(a["allocated"] for a in counts["arms"].values()) == 8


@pytest.mark.parametrize("role", ["monitor", "data_manager", "statistician"])
def test_the_status_and_analysis_reports_are_pdfs(trial, role, request, client_for) -> None:
    user = request.getfixturevalue(role)
    run = analysis_runs.analyses_run(trigger="nightly", user_id=None, now=timezone.now())[0]
    client = client_for(user)
    for url in (reverse("outcomes:status_report"), reverse("outcomes:analysis_report", args=[run.pk])):
        response = client.get(url)
        assert response["Content-Type"] == "application/pdf"
        text = "".join(page.extract_text() for page in PdfReader(io.BytesIO(response.content)).pages)
        assert "Randomized" in text or "Screened" in text
        assert "ketamine" not in text.lower()
    page = client.get(reverse("outcomes:analyses")).content.decode()
    assert run.data_hash[:16] in page


def test_efficacy_results_stay_hidden_from_the_team_even_after_release(
    trial, statistician, principal_investigator, monitor, client_for
) -> None:
    services.database_lock(by=principal_investigator, now=timezone.now())
    services.sequence_release(by=statistician, now=timezone.now())
    runs = analysis_runs.analyses_run(trigger="on demand", user_id=None, now=timezone.now())
    efficacy = runs[1]
    assert client_for(monitor).get(reverse("outcomes:analysis_report", args=[efficacy.pk])).status_code == 404
    assert "Primary outcome" not in client_for(monitor).get(reverse("outcomes:analyses")).content.decode()
    # The principal investigator stays blinded too (unblinded per participant only, in an emergency).
    pi = client_for(principal_investigator)
    assert pi.get(reverse("outcomes:analysis_report", args=[efficacy.pk])).status_code == 404
    consort_page = pi.get(reverse("outcomes:consort"), HTTP_ACCEPT_LANGUAGE="en")
    assert consort_page.status_code == 200 and "Sequence KP" not in consort_page.content.decode()
    assert (
        "Primary outcome"
        in client_for(statistician)
        .get(reverse("outcomes:analyses"), HTTP_ACCEPT_LANGUAGE="en")
        .content.decode()
    )


def test_the_exports_page_issues_an_api_token_shown_once(trial, data_manager, client_for) -> None:
    client = client_for(data_manager)
    page = client.post(reverse("outcomes:api_token")).content.decode()
    from rest_framework.authtoken.models import Token

    token = Token.objects.get(user=data_manager).key
    assert token in page
    again = client.post(reverse("outcomes:api_token")).content.decode()
    assert token not in again  # replaced
    assert Client(HTTP_AUTHORIZATION=f"Token {token}").get(reverse("api:long")).status_code == 401


def test_the_efficacy_report_prints_the_plans_tables_in_html_and_pdf_with_hash_and_version(
    trial, statistician, principal_investigator, monitor, client_for
) -> None:
    services.database_lock(by=principal_investigator, now=timezone.now())
    services.sequence_release(by=statistician, now=timezone.now())
    efficacy = analysis_runs.analyses_run(trigger="on demand", user_id=None, now=timezone.now())[1]
    client = client_for(statistician)
    html = client.get(reverse("outcomes:analysis_report_page", args=[efficacy.pk]), HTTP_ACCEPT_LANGUAGE="en")
    page = html.content.decode()
    for title in (
        "Analysis sets",
        "Primary outcome",
        "tipping-point",
        "Change from baseline over period 1: MADRS",
        "2 x 2 crossover",
        "Time to relapse",
        "Kaplan-Meier estimates",
    ):
        assert title in page, title
    # The known effect of the test trial: 3 of 4 on ketamine, 1 of 4 on placebo.
    assert "3/4 (75 %)" in page and "1/4 (25 %)" in page
    assert efficacy.data_hash in page and efficacy.code_version in page
    pdf = client.get(reverse("outcomes:analysis_report", args=[efficacy.pk]), HTTP_ACCEPT_LANGUAGE="en")
    text = "".join(p.extract_text() for p in PdfReader(io.BytesIO(pdf.content)).pages)
    assert "Primary outcome" in text and "3/4 (75 %)" in text and efficacy.data_hash in text
    # Blinded roles get the same answer as for a report that does not exist.
    for url in (
        reverse("outcomes:analysis_report_page", args=[efficacy.pk]),
        reverse("outcomes:analysis_report_page", args=[efficacy.pk + 1000]),
    ):
        assert client_for(monitor).get(url).status_code == 404


def test_consort_adds_up_at_every_box_and_counts_screen_failures_by_coded_reason(
    trial, coordinator, statistician, principal_investigator
) -> None:
    """Three HDRS-17 screen failures with three different totals are one category of three (they
    were stored as text with the total inside: three categories); enrolled-not-randomized has its
    box, so assessed - not enrolled = enrolled and enrolled - not randomized = randomized."""
    from django.utils import translation

    from participants import services as participant_services
    from participants.models import Participant
    from tests.factories import enrolled, screened

    for hdrs in (10, 12, 15):
        screened(coordinator, hdrs=hdrs)
    declined = screened(coordinator, consent=False)
    participant_services.screening_decline(screening=declined, reason="No time", by=coordinator)
    screened(coordinator, hdrs=20, consent=False)  # pending: no consent yet, no checklist
    awaiting = enrolled(coordinator)
    withdrawn = enrolled(coordinator)
    Participant.objects.filter(pk=withdrawn.pk).update(status=Participant.Status.WITHDRAWN)
    with translation.override("en"):
        c = consort.counts()
        svg = consort.svg(c)
    assert c["reasons"] == [("Screening HDRS-17 below 18", 3)]
    assert sum(n for _r, n in c["reasons"]) == c["screen_failure"] == 3
    assert c["assessed"] == c["excluded"] + c["pending"] + c["eligible_not_enrolled"] + c["enrolled"]
    assert (c["declined"], c["pending"]) == (1, 1)
    assert c["enrolled"] == 10 and c["randomized"] == 8
    assert (c["withdrawn_before_randomization"], c["awaiting_randomization"]) == (1, 1)
    assert (
        c["enrolled"] == c["randomized"] + c["withdrawn_before_randomization"] + c["awaiting_randomization"]
    )
    arm = c["arms"]["pooled"]
    assert arm["allocated"] == c["randomized"] == arm["period1_received"] + arm["period1_not_received"]
    assert arm["analysed"] == arm["allocated"]
    assert "Enrolled, not randomized (n = 2)" in svg and "Screening HDRS-17 below 18: 3" in svg
    assert awaiting.pk != withdrawn.pk


def test_the_status_report_carries_the_consort_tables_with_the_diagrams_counts(
    trial, monitor, client_for
) -> None:
    """The PDF a monitor files holds the diagram's counts as tables too (readable without the
    picture), from the same counts as the page's tables."""
    response = client_for(monitor).get(reverse("outcomes:status_report"))
    text = "".join(page.extract_text() for page in PdfReader(io.BytesIO(response.content)).pages)
    assert "Enrollment" in text and "Allocation, treatment and analysis" in text
    table = consort.table(consort.counts(monitor, unblinded=False))
    for label, n, _depth in table["flow"]:
        assert f"{label} {n}" in " ".join(text.split()), label
