"""KetaTrial's project package.

The Celery application (ketatrial/celery.py) is not imported here: web processes load it only when
they queue a job (every tasks module binds its tasks to it explicitly), so a page does not pay for
Celery and kombu at start-up; `celery -A ketatrial` finds ketatrial.celery by itself.
"""
