"""Real Celery workers on Redis build an export; two workers handed the same job build it once."""

from __future__ import annotations

import uuid
import zipfile
from pathlib import Path

import pytest
from django.db import connection
from django.utils import timezone

from outcomes.models import AnalysisRun, ExportJob
from tests.workers import start_worker

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.celery_worker
@pytest.mark.django_db(transaction=True)
def test_two_real_workers_build_one_export_and_run_the_analyses(
    trial, statistician, settings, tmp_path
) -> None:
    if not settings.CELERY_BROKER_URL or connection.vendor != "postgresql":
        pytest.skip("needs CELERY_BROKER_URL (Redis) and PostgreSQL; CI has both")
    settings.MEDIA_ROOT = str(tmp_path / "media")
    queue = f"test-{uuid.uuid4().hex[:8]}"
    workers = [start_worker(queue, name=name, MEDIA_ROOT=settings.MEDIA_ROOT) for name in ("one", "two")]
    try:
        from outcomes.tasks import run_analyses, run_export

        job = ExportJob.objects.create(
            requested_by=statistician, requested_at=timezone.now(), blinding="blinded"
        )
        first = run_export.apply_async(args=[job.pk], queue=queue)
        second = run_export.apply_async(args=[job.pk], queue=queue)
        statuses = {first.get(timeout=180), second.get(timeout=180)}
        runs = run_analyses.apply_async(args=["on demand", statistician.pk], queue=queue).get(timeout=180)
    finally:
        for worker in workers:
            worker.terminate()
        output = "".join(w.communicate(timeout=30)[0] for w in workers)
    job.refresh_from_db()
    assert job.status == "done", output
    assert statuses <= {"done", "running"}  # the second worker found the job claimed or built
    exports = list((Path(settings.MEDIA_ROOT) / "exports").iterdir())
    assert [p.name for p in exports] == [job.file.name]  # one package, no leftovers
    assert zipfile.ZipFile(job.file).testzip() is None
    assert AnalysisRun.objects.filter(pk__in=runs, kind="monitoring").count() == 1
