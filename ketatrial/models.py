"""Shared glue models: the capability permissions the roles are built from, worker heartbeats,
the outbox, the audit chain and the log of views of the allocation."""

from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.utils.translation import gettext_lazy as _

from ketatrial.audit import ClinicalModel

# Capabilities a role grants; the roles (groups) are made of these by a migration.
CAPABILITIES: tuple[tuple[str, str], ...] = (
    ("rate_participants", "Enter HDRS-17 and MADRS ratings"),
    ("record_infusions", "Record infusion sessions, vitals, CADSS/BPRS+ and adverse events"),
    ("manage_enrollment", "Screening, consent, enrollment and randomize action"),
    ("manage_schedule", "Schedule visits and see the infusion calendar"),
    ("view_allocation", "See the allocation (unblinded; two keys: group and settings)"),
    ("prepare_doses", "Record dose preparation and drug accountability"),
    ("execute_unblinding", "Execute an approved emergency unblinding"),
    ("export_data", "Download exports and run analyses"),
    ("manage_users", "Create users and assign roles"),
    ("review_audit", "Review the audit trail of any record"),
    ("manage_queries", "Raise and close data queries; prepare the database lock"),
    ("lock_database", "Lock and unlock the database"),
    ("request_unblinding", "Request an emergency unblinding"),
    ("sign_off", "Principal investigator sign-off"),
    ("view_participants", "See participant records (blinded views)"),
    ("verify_source", "Read-only source-data verification"),
)


class TrialAccess(models.Model):
    """Carries the capability permissions; it has no table."""

    class Meta:
        managed = False
        default_permissions = ()
        permissions = CAPABILITIES

    def __str__(self) -> str:
        return "trial access"


class WorkerHeartbeat(models.Model):
    """Written by a Celery task so the status page shows that workers and beat are alive."""

    hostname = models.CharField(_("worker"), max_length=200)
    task_id = models.CharField(max_length=64, unique=True)
    recorded_at = models.DateTimeField(_("recorded at"))

    class Meta:
        ordering = ["-recorded_at"]
        get_latest_by = "recorded_at"

    def __str__(self) -> str:
        return f"{self.hostname} at {self.recorded_at:%Y-%m-%d %H:%M}"


class Notification(models.Model):
    """A message to one user (serious adverse event, suicide-risk item, vital-sign alert left
    without action, emergency-unblinding steps), also sent by e-mail (ketatrial/notifications.py).
    The recipient acknowledges it (`read_at`: when; the recipient: who); an acknowledged
    notification is kept, never deleted."""

    delete_refused = True  # DELETE refused by trigger (ketatrial/audit_db.py) and below

    class Kind(models.TextChoices):
        MESSAGE = "message", _("Message")
        SERIOUS_ADVERSE_EVENT = "sae", _("Serious adverse event")
        SUICIDE_RISK = "suicide_risk", _("Suicide-risk item")
        VITALS_ALERT = "vitals_alert", _("Vital-sign alert without action")
        UNBLINDING = "unblinding", _("Emergency unblinding")

    recipient = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="notifications"
    )
    created_at = models.DateTimeField()
    kind = models.CharField(_("kind"), max_length=20, choices=Kind.choices, default=Kind.MESSAGE)
    # What it is about ("infusions.adverseevent:12"), so a record's page can say who acknowledged.
    topic = models.CharField(max_length=80, blank=True, db_index=True)
    # Set when a notice must reach a recipient once only (a beat task that runs every minute).
    once_key = models.CharField(max_length=80, blank=True)
    subject = models.CharField(max_length=200)
    body = models.TextField()
    url = models.CharField(max_length=300, blank=True)
    read_at = models.DateTimeField(_("acknowledged at"), null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        indexes = [models.Index(fields=["recipient", "read_at"], name="notification_unread")]
        constraints = [
            models.UniqueConstraint(
                fields=["recipient", "once_key"],
                condition=~models.Q(once_key=""),
                name="notification_once_per_recipient",
            )
        ]

    def __str__(self) -> str:
        return self.subject

    def delete(self, *args: Any, **kwargs: Any) -> Any:
        raise ValidationError(_("Notifications are kept: acknowledge one instead of deleting it."))


class LockEvent(ClinicalModel):
    """Append-only: each lock, unlock and sequence-key release is one row (and audited)."""

    lock_exempt = True

    class Action(models.TextChoices):
        LOCK = "lock", _("Database locked")
        UNLOCK = "unlock", _("Database unlocked")
        RELEASE = "release", _("Sequence key released")

    action = models.CharField(_("action"), max_length=10, choices=Action.choices)
    at = models.DateTimeField(_("at"))
    by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    reason = models.TextField(_("reason"), blank=True)
    snapshot_hash = models.CharField(_("data hash at the event"), max_length=64, blank=True)

    class Meta:
        ordering = ["at", "pk"]
        verbose_name = _("database lock event")
        # Moved here from outcomes (ketatrial/lock.py reads it; no app reaches "up" for the lock).

    def __str__(self) -> str:
        return f"{self.action} {self.at:%Y-%m-%d %H:%M}"


class Job(models.Model):
    """The outbox: a piece of background work (export, analyses, MRS quantification, e-mail),
    written in the same transaction as the request that asks for it and handed to Celery once
    that commits. A worker holds a job by a lease it renews while working; the sweep hands again
    what the broker never took and what a dead worker held (ketatrial/jobs.py)."""

    class State(models.TextChoices):
        PENDING = "pending", _("Waiting for the workers")
        RUNNING = "running", _("Running")
        DONE = "done", _("Done")
        FAILED = "failed", _("Failed")

    kind = models.CharField(max_length=40)
    # One job per thing to do ("export:12", "mrs:34", "analyses:nightly:2026-12-01"): asking twice
    # gives the same job.
    key = models.CharField(max_length=160, unique=True)
    payload = models.JSONField(default=dict)
    state = models.CharField(max_length=10, choices=State.choices, default=State.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0)
    created_at = models.DateTimeField()
    dispatched_at = models.DateTimeField(null=True, blank=True)
    dispatch_error = models.CharField(max_length=300, blank=True)
    # A job that asked to be tried again later (an e-mail whose server is down) waits until then.
    not_before = models.DateTimeField(null=True, blank=True)
    lease_owner = models.CharField(max_length=200, blank=True)
    lease_until = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    error = models.TextField(blank=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["state", "lease_until"], name="job_state_lease")]

    def __str__(self) -> str:
        return f"{self.kind} job {self.key} ({self.state})"


class AuditChainLink(models.Model):
    """One history row's place in its record's chain: HMAC(key, previous link's hash + the
    history row as stored). The key is in the environment, never in the database, so whoever
    can rewrite the tables cannot write a matching hash (ketatrial/audit_chain.py)."""

    append_only = True  # UPDATE and DELETE refused by trigger (ketatrial/audit_db.py)

    history_table = models.CharField(max_length=100)
    history_id = models.BigIntegerField()
    object_id = models.CharField(max_length=64)
    previous = models.CharField(max_length=64, blank=True)
    digest = models.CharField(max_length=64)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["history_table", "history_id"], name="audit_chain_one_link_per_row"
            )
        ]
        indexes = [models.Index(fields=["history_table", "object_id", "id"], name="audit_chain_record")]

    def __str__(self) -> str:
        return f"{self.history_table}#{self.history_id}"


class AllocationView(models.Model):
    """Append-only: one row per look at the allocation or the sequence key (an unblinded
    pharmacy page, an emergency unblinding, the key's release, unblinded exports and results),
    written by ketatrial.allocation_log.log_allocation_view. It records who looked at what and
    when, never what they saw, so the data manager and the PI can read it while blinded."""

    append_only = True  # UPDATE and DELETE refused by trigger (ketatrial/audit_db.py) and below

    at = models.DateTimeField(_("when"))
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", verbose_name=_("who")
    )
    what = models.CharField(_("what"), max_length=40)
    path = models.CharField(_("page"), max_length=300)
    participant = models.ForeignKey(
        "participants.Participant",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("participant"),
    )
    ip = models.GenericIPAddressField(_("IP address"), null=True, blank=True)

    class Meta:
        ordering = ["-at", "-id"]
        verbose_name = _("view of the allocation")
        indexes = [models.Index(fields=["at", "id"], name="allocation_view_at")]

    def __str__(self) -> str:
        return f"{self.what} by {self.user_id} at {self.at:%Y-%m-%d %H:%M}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        if not self._state.adding:
            raise ValidationError(_("The log of views of the allocation is append-only."))
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> Any:
        raise ValidationError(_("The log of views of the allocation is append-only."))
