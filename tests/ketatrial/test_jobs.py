"""The outbox (ketatrial/jobs.py): a job is written with the request, handed over after commit,
held by a lease, handed over again by the sweep; a broker outage costs no request and no job."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from ketatrial import jobs
from ketatrial.models import Job, WorkerHeartbeat

pytestmark = pytest.mark.django_db

DEAD_BROKER = "redis://127.0.0.1:9/0"  # the discard port: nothing answers
# A blinded export as the exports page posts it (its options and purpose).
EXPORT_FORM = {
    "purpose": "interim data review",
    "forms": ["hdrs17", "madrs", "mrs", "participants"],
    "visits": ["baseline", "period1"],
    "identifiers": "stored",
}


def test_a_job_asked_for_twice_is_one_job_run_once(django_capture_on_commit_callbacks) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        first = jobs.job_enqueue("selftest", "selftest:a")
        second = jobs.job_enqueue("selftest", "selftest:a")
    assert first.pk == second.pk
    job = Job.objects.get(pk=first.pk)
    assert (job.state, job.attempts) == ("done", 1)
    assert jobs.job_run(job.pk) == "done" and Job.objects.get(pk=job.pk).attempts == 1
    assert WorkerHeartbeat.objects.filter(task_id=f"job-{job.pk}").count() == 1


def test_a_failing_handler_ends_the_job_with_its_reason(monkeypatch) -> None:
    def broken(job: Job) -> None:
        raise RuntimeError("disk full")

    monkeypatch.setattr(jobs, "selftest_job", broken)
    job = jobs.job_enqueue("selftest", "selftest:broken", dispatch=False)
    assert jobs.job_run(job.pk) == "failed"
    assert Job.objects.get(pk=job.pk).error == "RuntimeError: disk full"


def test_with_the_broker_down_the_request_succeeds_and_the_job_waits_for_the_sweep(
    settings, statistician, client_for, django_capture_on_commit_callbacks
) -> None:
    settings.JOBS_IN_PROCESS = False
    settings.CELERY_BROKER_URL = DEAD_BROKER
    client = client_for(statistician)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("outcomes:export_new"), {"unblinded": "", **EXPORT_FORM})
    assert response.status_code == 302
    job = Job.objects.get(kind="export")
    assert job.state == "pending" and job.dispatched_at is None and job.dispatch_error
    page = client.get(reverse("outcomes:exports"), HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "Waiting for the workers" in page
    # The sweep tries again and leaves it waiting while the broker stays down.
    assert jobs.jobs_sweep() == [] and Job.objects.get(pk=job.pk).state == "pending"
    # Back in-process (a broker that takes it): the sweep hands it over and it runs, once.
    settings.JOBS_IN_PROCESS = True
    assert jobs.jobs_sweep() == [job.pk]
    assert Job.objects.get(pk=job.pk).state == "done"
    from outcomes.models import ExportJob

    assert ExportJob.objects.get().status == "done"


def test_the_sweep_hands_over_what_a_dead_worker_held_and_leaves_live_leases_alone(monkeypatch) -> None:
    sent: list[int] = []
    monkeypatch.setattr(jobs, "job_dispatch", lambda pk: sent.append(pk) or True)
    now = timezone.now()
    dead = jobs.job_enqueue("selftest", "selftest:dead", dispatch=False)
    alive = jobs.job_enqueue("selftest", "selftest:alive", dispatch=False)
    Job.objects.filter(pk=dead.pk).update(state="running", lease_until=now - timedelta(seconds=1), attempts=1)
    Job.objects.filter(pk=alive.pk).update(
        state="running", lease_until=now + timedelta(seconds=30), attempts=1
    )
    assert jobs.jobs_sweep(now=now) == [dead.pk] == sent
    assert Job.objects.get(pk=dead.pk).state == "pending"
    assert jobs.job_run(alive.pk) == "running"
    assert jobs.job_run(dead.pk) == "done" and Job.objects.get(pk=dead.pk).attempts == 2


def test_a_job_handed_over_long_ago_and_never_started_is_handed_over_again(monkeypatch, settings) -> None:
    sent: list[int] = []
    monkeypatch.setattr(jobs, "job_dispatch", lambda pk: sent.append(pk) or True)
    job = jobs.job_enqueue("selftest", "selftest:lost", dispatch=False)
    now = timezone.now()
    Job.objects.filter(pk=job.pk).update(dispatched_at=now - timedelta(seconds=30))
    assert jobs.jobs_sweep(now=now) == []  # handed over recently: the broker has it
    Job.objects.filter(pk=job.pk).update(
        dispatched_at=now - timedelta(seconds=settings.JOB_REDISPATCH_SECONDS + 1)
    )
    assert jobs.jobs_sweep(now=now) == [job.pk]


def test_time_limits_and_the_brokers_visibility_timeout_agree(settings) -> None:
    assert settings.CELERY_BROKER_TRANSPORT_OPTIONS["visibility_timeout"] > settings.CELERY_TASK_TIME_LIMIT
    assert settings.CELERY_TASK_SOFT_TIME_LIMIT < settings.CELERY_TASK_TIME_LIMIT
    # A dead worker's job is handed over within a lease and one sweep (beat, every 30 s): within 2 minutes.
    from ketatrial.celery import app

    sweep = app.conf.beat_schedule["sweep-jobs"]["schedule"]
    assert settings.JOB_LEASE_SECONDS + sweep < 120


@pytest.mark.django_db
def test_the_status_page_shows_the_broker_the_workers_and_the_outbox(
    settings, data_manager, client_for
) -> None:
    jobs.job_enqueue("selftest", "selftest:waiting", dispatch=False)
    settings.JOBS_IN_PROCESS = False
    settings.CELERY_BROKER_URL = DEAD_BROKER
    page = client_for(data_manager).get(reverse("system_status"), HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "Redis does not answer" in page and "waiting 1" in page
