"""Database lock and release, export jobs and stored analysis runs."""

from __future__ import annotations

import hashlib
import logging
import subprocess
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ImproperlyConfigured, PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Q
from django.utils.translation import gettext as _

from clinimetry.models import Assessment
from infusions.models import VitalSigns
from ketatrial import lock
from ketatrial.audit import clinical_create
from ketatrial.models import LockEvent
from ketatrial.protocol import DATA_MANAGER, PRINCIPAL_INVESTIGATOR, STATISTICIAN
from ketatrial.trial import protocol
from outcomes import export_options, levels
from outcomes.export_options import KEYED, ExportOptions
from outcomes.models import ExportEvent, ExportForm, ExportJob, ExportVisits
from participants import allocation
from participants.access import has_role
from participants.models import UnblindingRequest
from spectroscopy.models import MRSResult, MRSUpload

if TYPE_CHECKING:
    from rest_framework.authtoken.models import Token

ANALYSIS_VERSION = "1.0"
logger = logging.getLogger(__name__)
STALE = timedelta(minutes=30)


@cache
def code_version() -> str:
    """The analysis code's version and, where the checkout has one, its git commit."""
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "--short=12", "HEAD"],
            cwd=Path(__file__).resolve().parent,
            capture_output=True,
            text=True,
            timeout=5,
            check=False,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        commit = ""
    return f"ketatrial-analysis {ANALYSIS_VERSION}" + (f" ({commit})" if commit else "")


# --- lock ----------------------------------------------------------------------------------------


# The state and its advisory lock live in ketatrial.lock (every clinical write checks them); the
# actions that change it are here.
lock_state = lock.lock_state
database_locked = lock.database_locked


@dataclass
class Blockers:
    unsigned: list[Assessment] = field(default_factory=list)
    incomplete: list[Assessment] = field(default_factory=list)
    pending_mrs: list[MRSResult] = field(default_factory=list)
    unquantified: list[MRSUpload] = field(default_factory=list)
    open_alerts: list[VitalSigns] = field(default_factory=list)
    pending_unblinding: int = 0
    open_queries: int = 0
    unsigned_casebooks: list[Any] = field(default_factory=list)

    @property
    def count(self) -> int:
        return (
            len(self.unsigned)
            + len(self.incomplete)
            + len(self.pending_mrs)
            + len(self.unquantified)
            + len(self.open_alerts)
            + self.pending_unblinding
            + self.open_queries
            + len(self.unsigned_casebooks)
        )


def lock_blockers() -> Blockers:
    """What stands between the data and a lock (the data manager's list)."""
    from participants.models import Participant
    from review.models import CasebookSignature, Query

    assessments = Assessment.objects.select_related("participant").order_by("participant__code", "rated_at")
    # A total missing for a reason (an item not assessed) is settled by a query closed with that
    # reason: the edit check's query on the rating.
    settled = [
        int(pk)
        for pk in Query.objects.filter(
            record_model="clinimetry.assessment", check_code="rating_incomplete", state=Query.State.CLOSED
        ).values_list("record_id", flat=True)
    ]
    signed = CasebookSignature.objects.filter(voided_at__isnull=True).values("participant_id")
    return Blockers(
        # A correction clears signed_at (signature_voided_at keeps when): signed again, it counts.
        unsigned=list(assessments.filter(signed_at__isnull=True)),
        incomplete=list(assessments.filter(total__isnull=True).exclude(pk__in=settled)),
        open_queries=Query.objects.exclude(state=Query.State.CLOSED).count(),
        unsigned_casebooks=list(Participant.objects.exclude(pk__in=signed).order_by("code")),
        pending_mrs=list(
            MRSResult.objects.filter(
                status__in=[MRSResult.Status.QUEUED, MRSResult.Status.RUNNING]
            ).select_related("upload__participant")
        ),
        unquantified=list(
            MRSUpload.objects.filter(
                kind__in=[MRSUpload.Kind.MEGA, MRSUpload.Kind.PRESS],
                status=MRSUpload.Status.ACCEPTED,
                results__isnull=True,
            ).select_related("participant")
        ),
        open_alerts=list(
            VitalSigns.objects.exclude(alerts=[])
            .filter(action="")
            .select_related("visit", "visit__participant")
        ),
        pending_unblinding=UnblindingRequest.objects.filter(executed_at__isnull=True).count(),
    )


def _rating_place(a: Assessment) -> str:
    """Where a rating stands, neutrally: period-1 task codes have the same shape in both
    sequences; later ones (pre-dose 5-8, after the last infusion 4 or 8) would reveal it."""
    if a.period <= 1:
        return f"{a.participant.code} {a.task_code} {a.get_instrument_display()}"
    where = _("period 2") if a.period == 2 else _("follow-up")
    return f"{a.participant.code} ({where}) {a.get_instrument_display()}"


def _scan_place(participant_code: str, session_code: str) -> str:
    from outcomes.dataset import mrs_period

    period = mrs_period(session_code)
    if period in (0, 1):
        return f"{participant_code} {session_code}"
    later = _("later scan")
    return f"{participant_code} ({later})"


def blocker_rows(
    blockers: Blockers, *, detail: bool, batch: int | None = None
) -> list[tuple[str, int, list[str]]]:
    """(what, how many, where) for the lock page. Where: participant and a neutral place, for the
    data manager and the principal investigator; the statistician (and everyone for vital-sign
    alerts, whose pattern follows the product) sees counts only."""
    rows = [
        (_("Unsigned ratings (or signature voided by an edit)"), blockers.unsigned, _rating_place),
        (_("Ratings without a total"), blockers.incomplete, _rating_place),
        (
            _("MRS results queued or running"),
            blockers.pending_mrs,
            lambda r: _scan_place(r.upload.participant.code, r.upload.session_code),
        ),
        (
            _("MRS series never quantified"),
            blockers.unquantified,
            lambda u: _scan_place(u.participant.code, u.session_code),
        ),
    ]
    out = [
        (label, len(items), [place(x) for x in items[:30]] if detail else []) for label, items, place in rows
    ]
    out.append((_("Vital-sign alerts without an action"), len(blockers.open_alerts), []))
    out.append((_("Emergency unblinding requests pending"), blockers.pending_unblinding, []))

    # For a strictly blinded reader before release these two move only in batches: a PI signing
    # a casebook (or closing its last query) as a participant finishes would date, to the day,
    # the end of KP's shorter period 2 (outcomes/consort.py batched, the same rule).
    def shown(n: int) -> int:
        return n - n % batch if batch else n

    out.append((_("Queries open or answered, not closed"), shown(blockers.open_queries), []))
    out.append(
        (
            _("Casebooks not signed by the principal investigator"),
            shown(len(blockers.unsigned_casebooks)),
            [p.code for p in blockers.unsigned_casebooks[:30]] if detail else [],
        )
    )
    return out


def _snapshot_hash() -> str:
    """Hash of every period's data at a lock or release (stored, never shown as data)."""
    return (
        _dataset()
        .build(None, levels.NO_SEQUENCE, now=datetime.now().astimezone(), all_periods=True)
        .data_hash
    )


@transaction.atomic
def database_lock(*, by: AbstractBaseUser, now: datetime, reason: str = "") -> LockEvent:
    if not has_role(by, PRINCIPAL_INVESTIGATOR):
        raise PermissionDenied
    lock_state(exclusive=True)
    if database_locked():
        raise ValidationError(_("The database is already locked."))
    blockers = lock_blockers()
    if blockers.count:
        raise ValidationError(
            _("The database cannot be locked: %d open items remain (see the lock page).") % blockers.count
        )
    event = LockEvent(
        action=LockEvent.Action.LOCK, at=now, by=by, reason=reason, snapshot_hash=_snapshot_hash()
    )
    return clinical_create(event, by=by, reason=reason or "database lock")


@transaction.atomic
def database_unlock(*, by: AbstractBaseUser, now: datetime, reason: str) -> LockEvent:
    if not has_role(by, PRINCIPAL_INVESTIGATOR):
        raise PermissionDenied
    if not (reason or "").strip():
        raise ValidationError({"reason": _("Give the reason for unlocking the database.")})
    lock_state(exclusive=True)
    if not database_locked():
        raise ValidationError(_("The database is not locked."))
    event = LockEvent(action=LockEvent.Action.UNLOCK, at=now, by=by, reason=reason.strip())
    return clinical_create(event, by=by, reason=reason.strip())


@transaction.atomic
def sequence_release(*, by: AbstractBaseUser, now: datetime) -> LockEvent:
    """The statistician opens the sequence key: only while the database is locked."""
    lock_state(exclusive=True)
    allocation.sequence_key_release(user=by, database_locked=database_locked(), now=now)
    event = LockEvent(
        action=LockEvent.Action.RELEASE,
        at=now,
        by=by,
        reason="sequence key released after lock",
        snapshot_hash=_snapshot_hash(),
    )
    return clinical_create(event, by=by, reason="sequence key released")


def unblinded_allowed() -> bool:
    """Unblinded data open after release and only while the database is locked: a database
    unlocked again after release (to correct data) suspends them until it is locked again."""
    return allocation.sequence_key_released() and database_locked()


def blinding_for(user: AbstractBaseUser, *, unblinded: bool = False) -> str:
    """The blinding level a user may export or query at, or PermissionDenied."""
    if has_role(user, STATISTICIAN):
        if unblinded:
            if not unblinded_allowed():
                raise PermissionDenied
            return levels.UNBLINDED
        return levels.BLINDED
    if has_role(user, DATA_MANAGER) and not unblinded:
        return levels.NO_SEQUENCE
    raise PermissionDenied


# --- exports -------------------------------------------------------------------------------------


PURPOSE_MAX = 2000


def export_options_check(blinding: str, options: ExportOptions) -> ExportOptions:
    """The options resolved for the level (defaults spelled out), or ValidationError by field: an
    option beyond the level (a blinded reader asking for period 2, adverse events or dissociation
    ratings), an unknown timepoint, nothing chosen."""
    errors: dict[str, list[str]] = {}
    labels = {**dict(ExportForm.choices), **dict(ExportVisits.choices)}
    beyond = options.beyond(blinding)
    if beyond:
        names = ", ".join(str(labels.get(code, code)) for code in beyond)
        errors.setdefault("forms" if set(beyond) & set(ExportForm.values) else "visits", []).append(
            _("Not in an export at your blinding level: %(names)s.") % {"names": names}
        )
    if options.identifiers not in export_options.IDENTIFIERS:
        errors.setdefault("identifiers", []).append(_("Choose how participants are named in the export."))
    unknown = (
        sorted(set(options.timepoints) - set(export_timepoint_choices(blinding)))
        if options.timepoints
        else []
    )
    if unknown:
        errors.setdefault("timepoints", []).append(
            _("Not a timepoint of the data you may export: %(codes)s.") % {"codes": ", ".join(unknown[:10])}
        )
    if errors:
        raise ValidationError(errors)
    return options.resolved(blinding)


def export_timepoint_choices(blinding: str) -> list[str]:
    """Timepoint codes an export at this level can narrow to, in the schedule's order: the rating
    tasks and the scheduled MRS sessions the level's data set holds (baseline and period 1 before
    the release: period 2's codes differ by sequence)."""
    max_period = 99 if blinding == levels.UNBLINDED else 1
    tasks = set(
        Assessment.objects.filter(period__lte=max_period).values_list("task_code", flat=True).distinct()
    )
    sessions = {
        code
        for code in MRSUpload.objects.values_list("session_code", flat=True).distinct()
        if code[:1] == "p" and (_session_period(code) or 99) <= max_period
    }
    return sorted(tasks | sessions, key=export_options.timepoint_sort_key)


def _session_period(code: str) -> int | None:
    head = code.split("-", 1)[0]
    return int(head[1:]) if len(head) == 2 and head[1].isdigit() else None


def _event(job: ExportJob, *, action: str, by: AbstractBaseUser, now: datetime) -> ExportEvent:
    """The audited record of a request or a download: who, when, what (the level and the
    options) and why (the purpose)."""
    options = export_options_of(job).resolved(job.blinding)  # a job from before the options: all
    event = ExportEvent(
        action=action,
        job=job,
        at=now,
        by=by,
        blinding=job.blinding,
        forms=list(options.forms),
        visits=list(options.visits),
        timepoints=list(options.timepoints),
        identifiers=options.identifiers,
        date_shift=options.date_shift,
        purpose=job.purpose or "-",
    )
    return clinical_create(event, by=by, reason=f"export {action}")


@transaction.atomic
def export_request(
    *,
    by: AbstractBaseUser,
    unblinded: bool,
    now: datetime,
    purpose: str,
    options: ExportOptions | None = None,
) -> ExportJob:
    """Queue an export with its options and record the request in the audit trail (who, when,
    what, why). The purpose is required; options beyond the user's blinding level are refused."""
    from ketatrial.jobs import job_enqueue

    blinding = blinding_for(by, unblinded=unblinded)
    purpose = (purpose or "").strip()
    if not purpose:
        raise ValidationError({"purpose": _("Say what the export is for (the audit trail records it).")})
    if len(purpose) > PURPOSE_MAX:
        raise ValidationError({"purpose": _("Keep the purpose under %(n)d characters.") % {"n": PURPOSE_MAX}})
    chosen = export_options_check(blinding, options or ExportOptions())
    job = ExportJob.objects.create(
        requested_by=by,
        requested_at=now,
        blinding=blinding,
        forms=list(chosen.forms),
        visits=list(chosen.visits),
        timepoints=list(chosen.timepoints),
        identifiers=chosen.identifiers,
        date_shift=chosen.date_shift,
        purpose=purpose,
    )
    _event(job, action=ExportEvent.Action.REQUESTED, by=by, now=now)
    # In the outbox in this transaction; handed to the workers after it commits (a broker outage
    # leaves it waiting for the sweep, never a server error after the row is saved).
    job_enqueue("export", f"export:{job.pk}", {"export_id": job.pk}, now=now)
    return job


def export_options_of(job: ExportJob) -> ExportOptions:
    return ExportOptions(
        forms=tuple(job.forms),
        visits=tuple(job.visits),
        timepoints=tuple(job.timepoints),
        identifiers=job.identifiers,
        date_shift=job.date_shift,
    )


def export_pseudonym_key() -> bytes:
    """The key of keyed pseudonyms and date shifts (settings.EXPORT_PSEUDONYM_KEY; the system check
    outcomes.E001 refuses to start without it when DEBUG is off)."""
    key = getattr(settings, "EXPORT_PSEUDONYM_KEY", "") or ""
    if not key:
        raise ImproperlyConfigured("EXPORT_PSEUDONYM_KEY is not set")
    return key.encode()


def export_job(job) -> None:  # type: ignore[no-untyped-def]
    """The outbox handler: the job's lease makes this worker the only one building it, so an
    export left running by a dead worker is taken over at once."""
    from django.utils import timezone

    export_run(job.payload["export_id"], now=timezone.now(), reclaim=True)


def _site_name() -> str:
    from participants.models import Site

    return ", ".join(Site.objects.order_by("code").values_list("name", flat=True)) or "KetaTrial"


def _site_codes() -> list[str]:
    from participants.models import Site

    return list(Site.objects.order_by("code").values_list("code", flat=True))


def export_file_name(job: ExportJob) -> str:
    """Neutral: the job number, the blinding level and the date."""
    return f"ketatrial-export-{job.pk}-{job.blinding}-{job.requested_at:%Y%m%d}.zip"


def export_run(job_id: int, *, now: datetime, reclaim: bool = False) -> ExportJob:
    """Build the package of a queued job; a finished job, or one another worker is building, is
    left alone. `reclaim` (the outbox, which holds the job by a lease) takes over a running one."""
    from outcomes import deidentify, formats, odm

    # Claim the job in one UPDATE: of two workers handed the same job, one builds it; the other
    # returns. A job left running by a worker that died is claimed again after STALE.
    claimed = (
        ExportJob.objects.filter(pk=job_id)
        .filter(
            Q(status__in=[ExportJob.Status.QUEUED, ExportJob.Status.FAILED])
            | Q(status=ExportJob.Status.RUNNING, started_at__lt=now - STALE)
            | Q(status=ExportJob.Status.RUNNING, pk__in=[job_id] if reclaim else [])
        )
        .update(status=ExportJob.Status.RUNNING, progress=1, stage="data", started_at=now, error="")
    )
    job = ExportJob.objects.select_related("requested_by").get(pk=job_id)
    if not claimed:
        return job

    def progress(pct: int, stage: str) -> None:
        ExportJob.objects.filter(pk=job_id).update(progress=max(1, min(pct, 99)), stage=stage)

    try:
        # The user's rights are checked again when the job runs (a role may have gone since).
        if blinding_for(job.requested_by, unblinded=job.blinding == levels.UNBLINDED) != job.blinding:
            raise PermissionDenied
        # The options are checked again too: they can only narrow the level's data set.
        options = export_options_check(job.blinding, export_options_of(job))
        source = _dataset().build(job.requested_by, job.blinding, now=now)
        data, deid = deidentify.narrow(
            source,
            options,
            key=export_pseudonym_key() if options.identifiers == KEYED or options.date_shift else b"",
            tz=_dataset().TZ,
            site_codes=_site_codes(),
        )
        folder = Path(settings.MEDIA_ROOT) / "exports"
        folder.mkdir(parents=True, exist_ok=True)
        target = folder / export_file_name(job)
        manifest = {
            "study": "KetaTrial",
            "blinding": job.blinding,
            "generated_at": now.isoformat(timespec="seconds"),
            "data_hash": data.data_hash,
            "code_version": code_version(),
            "protocol_version": protocol().version,
            "options": export_options.describe(options),
            "purpose": deid.scrub(job.purpose),
        }
        formats.write_package(
            data,
            target,
            attempt=f"{now.timestamp():.6f}",
            p=protocol(),
            manifest=manifest,
            odm_xml=lambda out: odm.write(
                data,
                out,
                created=now,
                file_oid=f"KETATRIAL.EXPORT.{job.pk}",
                site_name=_site_name(),
                deid=deid,
                instruments=[f for f in options.forms if f in export_options.RATING_FORMS],
            ),
            progress=progress,
            options=options,
        )
    except Exception as exc:  # any failure ends the job with its reason; none leaves it running
        logger.exception("export %s failed", job_id)
        ExportJob.objects.filter(pk=job_id).update(
            status=ExportJob.Status.FAILED, error=str(exc) or type(exc).__name__, finished_at=now
        )
        return ExportJob.objects.get(pk=job_id)
    digest = hashlib.sha256(target.read_bytes()).hexdigest()
    ExportJob.objects.filter(pk=job_id).update(
        status=ExportJob.Status.DONE,
        progress=100,
        stage="done",
        path=target.relative_to(Path(settings.MEDIA_ROOT)).as_posix(),
        sha256=digest,
        data_hash=data.data_hash,
        finished_at=now,
        error="",
    )
    return ExportJob.objects.get(pk=job_id)


def export_for_download(user: AbstractBaseUser, job_id: int) -> ExportJob:
    """A finished job, only for the user who asked for it, and an unblinded one only while the
    user may still see unblinded data."""
    job = ExportJob.objects.filter(pk=job_id, requested_by=user, status=ExportJob.Status.DONE).first()
    if job is None:
        raise ValidationError(_("No such export."))
    blinding_for(user, unblinded=job.blinding == levels.UNBLINDED)
    return job


@transaction.atomic
def export_download(*, user: AbstractBaseUser, job_id: int, now: datetime) -> ExportJob:
    """A finished job for its requester (export_for_download), the download recorded in the audit
    trail in the same transaction: no package leaves without its row."""
    job = export_for_download(user, job_id)
    _event(job, action=ExportEvent.Action.DOWNLOADED, by=user, now=now)
    return job


def api_token_renew(*, user: AbstractBaseUser, verified_by: Any) -> Token:
    """Replace the user's API token with a new one (the old one stops working) and return it.
    Only for a session that passed the second factor, whatever the role (`verified_by`: the
    session's django-otp device, request.user.otp_device): a token outlives the session and reads
    the study data without a second factor."""
    from rest_framework.authtoken.models import Token

    if verified_by is None or verified_by.user_id != user.pk or not verified_by.confirmed:
        raise PermissionDenied(_("An API token is issued only after the second factor."))
    Token.objects.filter(user=user).delete()
    return Token.objects.create(user=user)


def _dataset():  # type: ignore[no-untyped-def]
    """outcomes.dataset, imported when a data set is built (it brings pandas)."""
    from outcomes import dataset

    return dataset
