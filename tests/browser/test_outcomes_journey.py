"""The end of the trial in a browser: the principal investigator locks the database, the
statistician releases the sequence key, asks for an unblinded export, watches it finish and
downloads it."""

from __future__ import annotations

import io
import zipfile

import pandas as pd
import pytest
from django.utils import timezone
from playwright.sync_api import expect

from outcomes import services
from outcomes.models import ExportJob
from tests.browser.conftest import sign_in
from tests.conftest import PASSWORD
from tests.outcomes.conftest import trial  # noqa: F401 (the fixture)

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_lock_release_and_an_unblinded_export(
    new_page,
    trial,  # noqa: F811
    principal_investigator,
    statistician,
    settings,
    tmp_path,
    monkeypatch,
) -> None:
    settings.MEDIA_ROOT = str(tmp_path / "media")
    from ketatrial import jobs

    # The job stays waiting until the test plays the worker (with or without a broker).
    monkeypatch.setattr(jobs, "job_dispatch", lambda *args, **kwargs: False)
    pi = new_page()
    sign_in(pi, "principal_investigator", PASSWORD)
    pi.get_by_role("link", name="Database lock").first.click()
    expect(pi.get_by_text("0 items block the lock")).to_be_visible()
    pi.get_by_label("Note (optional)").fill("last follow-up visit entered")
    pi.get_by_role("button", name="Lock the database").click()
    expect(pi.get_by_text("The database is locked.")).to_be_visible()
    expect(pi.get_by_text("last follow-up visit entered")).to_be_visible()

    stat = new_page()
    sign_in(stat, "statistician", PASSWORD)
    stat.get_by_role("link", name="Database lock").first.click()
    stat.get_by_role("button", name="Release the sequence key").click()
    expect(stat.get_by_text("The sequence key is released.")).to_be_visible()
    stat.goto("/")
    stat.get_by_role("link", name="Exports").first.click()
    stat.get_by_label("Period 2 and follow-up").check()
    stat.get_by_label("Purpose of the export").fill("final analysis after release")
    stat.get_by_role("button", name="New unblinded export").click()
    expect(stat.get_by_text("Export queued")).to_be_visible()
    expect(stat.get_by_role("progressbar")).to_be_visible()
    job = ExportJob.objects.get()
    services.export_run(job.pk, now=timezone.now())  # what the worker does; the page refreshes itself
    link = stat.get_by_role("link", name="Download")
    expect(link).to_be_visible(timeout=15_000)
    with stat.expect_download() as download:
        link.click()
    assert "unblinded" in download.value.suggested_filename
    archive = zipfile.ZipFile(download.value.path())
    long = pd.read_csv(io.BytesIO(archive.read("csv/long.csv")))
    assert set(long["sequence"]) == {"KP", "PK"}
