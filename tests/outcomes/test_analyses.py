"""Stored analysis runs on the database: the known effect of the test trial, the data hash and
the code version, pooled before release."""

from __future__ import annotations

import pytest
from django.utils import timezone
from scipy import stats

from outcomes import analysis_runs, services
from outcomes.models import AnalysisRun
from outcomes.sap import primary


def test_the_primary_analysis_on_the_known_effect(trial, statistician, principal_investigator) -> None:
    from outcomes import dataset as ds

    services.database_lock(by=principal_investigator, now=timezone.now())
    services.sequence_release(by=statistician, now=timezone.now())
    data = ds.build(statistician, ds.UNBLINDED, now=timezone.now())
    result = primary.primary(data.long, data.participants)
    for instrument in ("hdrs17", "madrs"):
        r = result[instrument]
        assert (r["responders_ketamine"], r["n_ketamine"], r["responders_placebo"], r["n_placebo"]) == (
            3,
            4,
            1,
            4,
        )
        assert r["risk_difference"] == pytest.approx(0.5)
        assert r["fisher_p"] == pytest.approx(stats.fisher_exact([[3, 1], [1, 3]]).pvalue)


def test_stored_runs_keep_the_data_hash_and_code_version_and_stay_pooled_before_release(
    trial, statistician, principal_investigator
) -> None:
    runs = analysis_runs.analyses_run(trigger="nightly", user_id=None, now=timezone.now())
    assert [r.kind for r in runs] == ["monitoring"]
    run = runs[0]
    assert len(run.data_hash) == 64 and run.code_version.startswith("ketatrial-analysis")
    assert run.results["enrollment"]["randomized"] == 8
    text = str(run.results)
    assert "KP" not in text and "PK" not in text
    services.database_lock(by=principal_investigator, now=timezone.now())
    services.sequence_release(by=statistician, now=timezone.now())
    runs = analysis_runs.analyses_run(trigger="on demand", user_id=statistician.pk, now=timezone.now())
    efficacy = AnalysisRun.objects.get(kind="efficacy")
    assert [r.kind for r in runs] == ["monitoring", "efficacy"]
    assert efficacy.results["primary"]["madrs"]["risk_difference"] == pytest.approx(0.5)
    # The same data give the same hash.
    again = analysis_runs.analyses_run(trigger="on demand", user_id=None, now=timezone.now())
    assert again[1].data_hash == efficacy.data_hash
