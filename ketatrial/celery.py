"""Celery application; tasks are discovered in every app's tasks.py."""

import os

from celery import Celery
from celery.schedules import crontab

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "ketatrial.settings")

app = Celery("ketatrial")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.conf.beat_schedule = {
    "worker-heartbeat": {"task": "ketatrial.tasks.worker_heartbeat", "schedule": 300.0},
    # 02:30 in Mexico City (CELERY_TIMEZONE): the blinded monitoring (and, after release, the
    # efficacy analyses).
    "nightly-analyses": {"task": "outcomes.tasks.run_analyses", "schedule": crontab(hour=2, minute=30)},
    # Outbox jobs the broker never took, or that a dead worker held, are handed over again.
    "sweep-jobs": {"task": "ketatrial.tasks.sweep_jobs", "schedule": 30.0},
    # 03:45 in Mexico City: the audit chains and live rows checked, chain heads written outside
    # the database (ketatrial/audit_chain.py).
    "audit-nightly": {"task": "ketatrial.tasks.audit_nightly", "schedule": crontab(hour=3, minute=45)},
    # 03:15 in Mexico City: schedule spans again (task list and calendar prefilter).
    "schedule-spans": {
        "task": "infusions.tasks.refresh_schedule_spans",
        "schedule": crontab(hour=3, minute=15),
    },
    # Vital-sign alerts left without their action: to the PIs and infusion physicians, once each.
    "vital-alert-escalation": {"task": "safety.tasks.escalate_vital_alerts", "schedule": 60.0},
    # 17:00 in Mexico City: tomorrow's visits to coordinators and physicians.
    "day-before-reminders": {
        "task": "infusions.tasks.send_day_before_reminders",
        "schedule": crontab(hour=17, minute=0),
    },
}
app.autodiscover_tasks()
