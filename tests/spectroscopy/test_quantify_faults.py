"""MRS quantification through the outbox: with Redis down the result waits and is done once when
Redis is back (a real worker, a redis-server the test starts and stops, PostgreSQL)."""

from __future__ import annotations

import pytest
from django.db import transaction
from django.utils import timezone

from ketatrial import jobs
from ketatrial.models import Job
from spectroscopy import services
from spectroscopy.models import MRSResult
from tests.factories import enrolled
from tests.ketatrial.test_job_faults import _stop, _wait, _worker, redis  # noqa: F401 (fixture)
from tests.spectroscopy.test_uploads import _media, _store, files  # noqa: F401 (fixtures)

pytestmark = [pytest.mark.celery_worker, pytest.mark.django_db(transaction=True)]


def test_with_redis_down_a_quantification_waits_and_is_done_once_when_it_is_back(
    redis,  # noqa: F811 (the fixtures imported above)
    settings,
    make_user,
    files,  # noqa: F811
) -> None:
    settings.JOB_REDISPATCH_SECONDS = 5
    coordinator = make_user("coordinator", "coordinator")
    person = enrolled(coordinator)
    metab, _ = _store(person, coordinator, "metab.nii.gz", files["metab"])
    worker = _worker(redis, settings.JOB_QUEUE, "mrs", MEDIA_ROOT=settings.MEDIA_ROOT)
    try:
        redis.stop()
        with transaction.atomic():
            result, created = services.result_queue(upload=metab, water=None, now=timezone.now())
        assert created
        job = Job.objects.get(kind="mrs_quantify")
        assert job.state == "pending" and job.dispatch_error
        assert MRSResult.objects.get(pk=result.pk).status == "queued"
        # Asked again while waiting: the same result, no second job.
        with transaction.atomic():
            again, created = services.result_queue(upload=metab, water=None, now=timezone.now())
        assert again.pk == result.pk and not created and Job.objects.count() == 1
        redis.start()
        _wait(lambda: Job.objects.get(pk=job.pk).state == "done", 180)
    finally:
        if redis.process is None:
            redis.start()
        output = _stop(worker)
    result.refresh_from_db()
    assert result.status == "done", output
    assert MRSResult.objects.count() == 1 and Job.objects.get(pk=job.pk).attempts == 1
    assert jobs.jobs_sweep() == []
