"""Celery application; tasks are discovered in every app's tasks.py."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "ketatrial.settings")

app = Celery("ketatrial")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
