"""Database lock: blockers, who locks, no clinical write while locked, unlock with a reason,
release only after the lock; every step audited."""

from __future__ import annotations

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.urls import reverse
from django.utils import timezone

from clinimetry.models import Assessment
from ketatrial.audit import clinical_update
from ketatrial.models import LockEvent
from outcomes import services
from participants import allocation
from tests.outcomes.conftest import rate, sign_casebooks


def test_blockers_are_listed_and_stop_the_lock(
    trial, principal_investigator, rater, data_manager, client_for
) -> None:
    person = trial["people"][0]
    unsigned = rate(person, rater, "madrs", "p1-predose-3", 1, 20, timezone.now())
    clinical_update(unsigned, by=rater, reason="not yet signed", changes={"signed_at": None})
    # The new rating voided the casebook signature: signed again, only the unsigned rating stands.
    assert services.lock_blockers().unsigned_casebooks == [person]
    sign_casebooks(principal_investigator)
    blockers = services.lock_blockers()
    assert blockers.count == 1 and blockers.unsigned == [unsigned]
    page = client_for(data_manager).get(reverse("outcomes:lock"), HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "1 item blocks the lock" in page and person.code in page
    with pytest.raises(ValidationError, match="open items"):
        services.database_lock(by=principal_investigator, now=timezone.now())


def test_only_the_principal_investigator_locks_and_a_locked_database_refuses_clinical_writes(
    trial, principal_investigator, data_manager, rater
) -> None:
    with pytest.raises(PermissionDenied):
        services.database_lock(by=data_manager, now=timezone.now())
    event = services.database_lock(by=principal_investigator, now=timezone.now(), reason="last visit done")
    assert services.database_locked() and len(event.snapshot_hash) == 64
    assessment = Assessment.objects.first()
    with pytest.raises(ValidationError, match="locked"):
        clinical_update(assessment, by=rater, reason="late correction", changes={"mode": "remote"})
    with pytest.raises(ValidationError, match="locked"):
        rate(trial["people"][0], rater, "madrs", "p1-predose-3", 1, 20, timezone.now())
    with pytest.raises(ValidationError, match="already locked"):
        services.database_lock(by=principal_investigator, now=timezone.now())


def test_unlocking_needs_a_reason_and_every_event_is_audited(trial, principal_investigator, rater) -> None:
    services.database_lock(by=principal_investigator, now=timezone.now())
    with pytest.raises(ValidationError):
        services.database_unlock(by=principal_investigator, now=timezone.now(), reason=" ")
    services.database_unlock(
        by=principal_investigator, now=timezone.now(), reason="query on INNN-002 answered late"
    )
    assert not services.database_locked()
    rate(trial["people"][0], rater, "madrs", "p1-predose-3", 1, 20, timezone.now())  # writes work again
    history = LockEvent.history.order_by("history_date")
    assert [h.action for h in history] == ["lock", "unlock"]
    assert history.last().history_change_reason == "query on INNN-002 answered late"
    assert history.last().history_user == principal_investigator


def test_the_key_is_released_once_by_the_statistician_after_the_lock(
    trial, statistician, principal_investigator
) -> None:
    assert not allocation.sequence_key_released()
    with pytest.raises(ValidationError, match="after the database lock"):
        services.sequence_release(by=statistician, now=timezone.now())
    services.database_lock(by=principal_investigator, now=timezone.now())
    with pytest.raises(PermissionDenied):
        services.sequence_release(by=principal_investigator, now=timezone.now())
    services.sequence_release(by=statistician, now=timezone.now())
    assert allocation.sequence_key_released()
    with pytest.raises(ValidationError, match="already released"):
        services.sequence_release(by=statistician, now=timezone.now())
    assert set(allocation.sequence_key_letters(statistician).values()) == {"KP", "PK"}
    assert LockEvent.objects.filter(action="release", by=statistician).exists()


def test_the_lock_pages_post_through_the_views(
    trial, principal_investigator, statistician, client_for
) -> None:
    pi = client_for(principal_investigator)
    pi.post(reverse("outcomes:lock_do"), {"reason": "clean"})
    assert services.database_locked()
    stat = client_for(statistician)
    assert (
        b"Release the sequence key" in stat.get(reverse("outcomes:lock"), HTTP_ACCEPT_LANGUAGE="en").content
    )
    stat.post(reverse("outcomes:release"))
    assert allocation.sequence_key_released()
    letters = allocation.sequence_key_letters(statistician)
    shown = stat.get(reverse("outcomes:lock")).content.decode()
    assert all(f"{letter} = {seq}" in shown for letter, seq in letters.items())
    assert "= KP" not in pi.get(reverse("outcomes:lock")).content.decode()
    response = pi.post(reverse("outcomes:unlock"), {"reason": ""}, follow=True, HTTP_ACCEPT_LANGUAGE="en")
    assert services.database_locked() and b"reason" in response.content
    assert client_for(statistician).post(reverse("outcomes:lock_do")).status_code == 403


def test_the_statistician_sees_counts_and_the_data_manager_no_period_2_codes(
    trial, rater, statistician, data_manager, principal_investigator, client_for
) -> None:
    late = Assessment.objects.filter(period=2).first()
    clinical_update(late, by=rater, reason="signature withdrawn for review", changes={"signed_at": None})
    sign_casebooks(principal_investigator)
    dm = client_for(data_manager).get(reverse("outcomes:lock"), HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert late.participant.code in dm and "(period 2)" in dm and late.task_code not in dm
    stat = client_for(statistician).get(reverse("outcomes:lock"), HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "1 item blocks the lock" in stat and late.participant.code not in stat


def test_emergency_unblinding_still_works_while_locked(trial, principal_investigator, pharmacist) -> None:
    services.database_lock(by=principal_investigator, now=timezone.now())
    request = allocation.unblinding_request(
        participant=trial["people"][0],
        reason="suspected serious reaction",
        by=principal_investigator,
        now=timezone.now(),
    )
    assert request.pk


def test_unlocking_after_release_suspends_unblinded_data_until_the_next_lock(
    trial, statistician, principal_investigator
) -> None:
    services.database_lock(by=principal_investigator, now=timezone.now())
    services.sequence_release(by=statistician, now=timezone.now())
    assert services.blinding_for(statistician, unblinded=True) == "unblinded"
    services.database_unlock(by=principal_investigator, now=timezone.now(), reason="late query answered")
    with pytest.raises(PermissionDenied):
        services.blinding_for(statistician, unblinded=True)
    services.database_lock(by=principal_investigator, now=timezone.now())
    assert services.blinding_for(statistician, unblinded=True) == "unblinded"


def test_no_mrs_result_is_queued_while_locked(
    trial, coordinator, principal_investigator, tmp_path, settings
) -> None:
    import io as _io

    import numpy as np

    from spectroscopy import services as mrs
    from spectroscopy.synthetic import independent_mega_scan, write_nifti_mrs

    settings.MEDIA_ROOT = str(tmp_path / "media")
    scan = independent_mega_scan(n_dyn=4, seed=1)
    path = write_nifti_mrs(
        tmp_path / "m.nii",
        np.transpose(scan.metab, (3, 2, 0, 1)),
        dims=("DIM_COIL", "DIM_EDIT", "DIM_DYN"),
        dwell_s=scan.dwell_s,
        spectrometer_mhz=scan.mhz,
    )
    upload, _ = mrs.upload_store(
        participant=trial["people"][0],
        session_code="p1-mrs-baseline",
        kind="mega",
        source=_io.BytesIO(path.read_bytes()),
        original_name="m.nii",
        by=coordinator,
        now=timezone.now(),
    )
    from spectroscopy.models import MRSResult

    MRSResult.objects.create(upload=upload, pipeline_version="0.9", queued_at=timezone.now(), status="done")
    sign_casebooks(principal_investigator)  # the upload voided that casebook's signature
    services.database_lock(by=principal_investigator, now=timezone.now())
    with pytest.raises(ValidationError, match="locked"):
        mrs.result_queue(upload=upload, water=None, now=timezone.now())


def test_the_statistician_sees_unsigned_casebooks_and_open_queries_only_in_batches(
    trial, rater, statistician, data_manager, client_for
) -> None:
    """A PI signing a casebook as a participant finishes would date the end of KP's shorter
    period 2 for a strictly blinded reader: before release these counts move in batches."""
    person = trial["people"][0]
    rate(person, rater, "madrs", "p1-predose-3", 1, 20, timezone.now())  # voids one signature
    assert len(services.lock_blockers().unsigned_casebooks) == 1
    stat = client_for(statistician).get(reverse("outcomes:lock"), HTTP_ACCEPT_LANGUAGE="en").content.decode()
    dm = client_for(data_manager).get(reverse("outcomes:lock"), HTTP_ACCEPT_LANGUAGE="en").content.decode()
    row = "Casebooks not signed by the principal investigator</th><td>"
    assert f"{row}0<" in stat and f"{row}1<" in dm
    assert "0 items block the lock" in stat and "1 item blocks the lock" in dm
