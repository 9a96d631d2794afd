"""Background jobs that are never lost: an outbox in the database, leases, and a sweep.

- `job_enqueue` writes the job in the caller's transaction (one job per key: asking twice gives
  the same job) and hands it to Celery only once that transaction commits. A broker that is down
  costs nothing: the hand-over fails quietly, the job stays "waiting for the workers", and the
  sweep hands it over again when the broker is back. The request that asked never fails for it.
- A worker claims the job with one UPDATE (pending, or running with an expired lease) and holds
  it by a lease that a background thread renews every LEASE/3 while the handler runs. Of two
  deliveries of the same job one runs it; a worker killed mid-job stops renewing, its lease runs
  out and the sweep hands the job over again: the next worker re-claims it.
- Handlers are idempotent by the job (one result row, one file, one audit row per job): they look
  for what an earlier attempt of the same job finished before they write.
- Time limits agree with the broker: the task's hard time limit is below the Redis visibility
  timeout (settings), so a long job is never delivered twice while it still runs; a killed worker
  is taken over by the lease, well before the visibility timeout.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import connection, models, transaction
from django.db.models import F, Q
from django.utils import timezone
from django.utils.module_loading import import_string

from ketatrial.models import Job

log = logging.getLogger(__name__)

# Kind -> the function that does the work, called with the job.
HANDLERS = {
    "export": "outcomes.services.export_job",
    "analyses": "outcomes.analysis_runs.analyses_job",
    "mrs_quantify": "spectroscopy.services.quantify_job",
    "email": "ketatrial.jobs.email_job",
    "selftest": "ketatrial.jobs.selftest_job",
}


def lease_seconds() -> int:
    return int(getattr(settings, "JOB_LEASE_SECONDS", 60))


def redispatch_after() -> timedelta:
    """A job handed over but not started after this long is handed over again (the broker may
    have lost it; a second delivery is harmless)."""
    return timedelta(seconds=int(getattr(settings, "JOB_REDISPATCH_SECONDS", 300)))


def job_enqueue(
    kind: str,
    key: str,
    payload: dict[str, Any] | None = None,
    *,
    now: datetime | None = None,
    dispatch: bool = True,
) -> Job:
    """Record a job in the current transaction; hand it to the workers once it commits (unless
    the caller, a worker, runs it itself: `dispatch=False`)."""
    if kind not in HANDLERS:
        raise ValueError(f"unknown job kind {kind!r}")
    job, _created = Job.objects.get_or_create(
        key=key, defaults={"kind": kind, "payload": payload or {}, "created_at": now or timezone.now()}
    )
    if dispatch and job.state == Job.State.PENDING and job.not_before is None:
        transaction.on_commit(lambda: job_dispatch(job.pk))
    return job


def job_dispatch(job_id: int) -> bool:
    """Hand a job to Celery; never raises (a broker outage leaves it pending for the sweep).
    Without a broker (the demo, the tests' default) the job runs here and now."""
    from ketatrial.tasks import run_job

    now = timezone.now()
    if settings.JOBS_IN_PROCESS:
        Job.objects.filter(pk=job_id).update(dispatched_at=now, dispatch_error="")
        try:
            run_job.apply(args=[job_id], throw=False)
        except Exception:  # noqa: BLE001 (the job records its own failure; the request goes on)
            log.exception("job %s", job_id)
        return True
    try:
        with run_job.app.connection_for_write(settings.CELERY_BROKER_URL) as conn:
            conn.ensure_connection(max_retries=1, timeout=2)
            run_job.apply_async(args=[job_id], queue=job_queue(), connection=conn, retry=False)
    except Exception as exc:  # noqa: BLE001 (any broker failure: the sweep tries again)
        log.warning("job %s not handed to the broker: %s", job_id, exc)
        Job.objects.filter(pk=job_id).update(dispatch_error=str(exc)[:300])
        return False
    Job.objects.filter(pk=job_id, state=Job.State.PENDING).update(dispatched_at=now, dispatch_error="")
    return True


def job_queue() -> str:
    return getattr(settings, "JOB_QUEUE", "") or "celery"


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


class TryLater(Exception):
    """Raised by a handler whose work can succeed later (a mail server that is down): the job
    waits `delay` and is handed over again by the sweep, up to MAX_ATTEMPTS attempts."""

    def __init__(self, reason: str, delay: timedelta) -> None:
        super().__init__(reason)
        self.delay = delay


MAX_ATTEMPTS = 8


class _Lease(threading.Thread):
    """Renews a job's lease while its handler runs (own database connection, closed at the end)."""

    def __init__(self, job_id: int, owner: str) -> None:
        super().__init__(daemon=True, name=f"lease-{job_id}")
        self.job_id, self.owner = job_id, owner
        self.stopped = threading.Event()

    def run(self) -> None:
        try:
            while not self.stopped.wait(max(1.0, lease_seconds() / 3)):
                Job.objects.filter(pk=self.job_id, lease_owner=self.owner, state=Job.State.RUNNING).update(
                    lease_until=timezone.now() + timedelta(seconds=lease_seconds())
                )
        finally:
            connection.close()


def job_run(job_id: int, *, owner: str | None = None) -> str:
    """Claim and run one job; returns its state afterwards. A job done, failed, or held by a live
    lease is left alone."""
    owner = owner or worker_name()
    now = timezone.now()
    claimed = (
        Job.objects.filter(pk=job_id)
        .filter(Q(state=Job.State.PENDING) | Q(state=Job.State.RUNNING, lease_until__lt=now))
        .update(
            state=Job.State.RUNNING,
            lease_owner=owner,
            lease_until=now + timedelta(seconds=lease_seconds()),
            attempts=F("attempts") + 1,
        )
    )
    job = Job.objects.get(pk=job_id)
    if not claimed:
        return job.state
    handler: Callable[[Job], Any] = import_string(HANDLERS[job.kind])
    keeper = _Lease(job.pk, owner)
    if not settings.JOBS_IN_PROCESS:  # in-process (demo, tests): no worker to die
        keeper.start()
    try:
        handler(job)
    except TryLater as later:
        final = job.attempts >= MAX_ATTEMPTS
        Job.objects.filter(pk=job.pk, lease_owner=owner).update(
            state=Job.State.FAILED if final else Job.State.PENDING,
            error=str(later)[:2000],
            not_before=None if final else timezone.now() + later.delay,
            dispatched_at=None,
            finished_at=timezone.now() if final else None,
        )
    except Exception as exc:  # noqa: BLE001 (the job ends with its reason; the user sees it)
        log.exception("job %s failed", job.key)
        Job.objects.filter(pk=job.pk, lease_owner=owner).update(
            state=Job.State.FAILED, error=f"{type(exc).__name__}: {exc}"[:2000], finished_at=timezone.now()
        )
    else:
        Job.objects.filter(pk=job.pk, lease_owner=owner).update(
            state=Job.State.DONE, error="", finished_at=timezone.now()
        )
    finally:
        keeper.stopped.set()
        if keeper.is_alive():
            keeper.join(timeout=5)
    return Job.objects.values_list("state", flat=True).get(pk=job.pk)


def jobs_sweep(*, now: datetime | None = None) -> list[int]:
    """Hand over again every job the broker never took (pending and not handed over, or handed
    over long ago) and every job whose worker stopped renewing its lease (a dead worker)."""
    now = now or timezone.now()
    expired = list(
        Job.objects.filter(state=Job.State.RUNNING, lease_until__lt=now).values_list("pk", flat=True)
    )
    Job.objects.filter(pk__in=expired, state=Job.State.RUNNING, lease_until__lt=now).update(
        state=Job.State.PENDING, dispatched_at=None
    )
    waiting = list(
        Job.objects.filter(state=Job.State.PENDING)
        .filter(Q(dispatched_at__isnull=True) | Q(dispatched_at__lt=now - redispatch_after()))
        .filter(Q(not_before__isnull=True) | Q(not_before__lte=now))
        .values_list("pk", flat=True)
    )
    handed = []
    for job_id in waiting:
        if job_dispatch(job_id):
            handed.append(job_id)
    return handed


def job_status(key: str) -> Job | None:
    return Job.objects.filter(key=key).first()


def selftest_job(job: Job) -> None:
    """A worker round trip (the status page's check, and the fault tests' long job): waits the
    payload's seconds (at most 120), then records a heartbeat named after the job, once."""
    import time

    from ketatrial.models import WorkerHeartbeat

    time.sleep(min(float(job.payload.get("sleep", 0)), 120.0))
    WorkerHeartbeat.objects.get_or_create(
        task_id=f"job-{job.pk}", defaults={"hostname": worker_name(), "recorded_at": timezone.now()}
    )


def queue_health(*, timeout: float = 1.0) -> dict[str, Any]:
    """For /status/: whether the broker answers, which workers answer a ping, and the outbox
    (jobs by state, the oldest waiting)."""
    counts = dict.fromkeys(Job.State.values, 0)
    for state, n in Job.objects.values_list("state").annotate(n=models.Count("pk")).order_by():
        counts[state] = n
    oldest = (
        Job.objects.filter(state=Job.State.PENDING)
        .order_by("created_at")
        .values_list("created_at", flat=True)
        .first()
    )
    out: dict[str, Any] = {
        "jobs": counts,
        "oldest_waiting": oldest,
        "failed": list(Job.objects.filter(state=Job.State.FAILED).order_by("-finished_at")[:5]),
    }
    if settings.JOBS_IN_PROCESS:
        return {**out, "broker": "in-process", "broker_ok": True, "workers": None}
    from ketatrial.celery import app

    try:
        with app.connection_for_write(settings.CELERY_BROKER_URL) as conn:
            conn.ensure_connection(max_retries=1, timeout=timeout)
            replies = app.control.ping(timeout=timeout, connection=conn) or []
    except Exception as exc:  # noqa: BLE001 (reported, not raised: this is the status page)
        return {**out, "broker": f"down: {exc}"[:200], "broker_ok": False, "workers": []}
    return {
        **out,
        "broker": "up",
        "broker_ok": True,
        "workers": sorted(name for reply in replies for name in reply),
    }


def email_job(job: Job) -> None:
    """Send one e-mail of the outbox; a mail server that is down makes it wait and try again,
    with backoff (2, 4, 8 ... minutes, at most an hour) up to MAX_ATTEMPTS attempts."""
    import smtplib

    from django.core.mail import send_mail

    payload = job.payload
    try:
        send_mail(payload["subject"], payload["body"], None, payload["to"], fail_silently=False)
    except (smtplib.SMTPException, OSError) as exc:
        raise TryLater(f"mail server: {exc}", timedelta(minutes=min(60, 2**job.attempts))) from exc
