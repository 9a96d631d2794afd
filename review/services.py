"""Writes of data review: queries, verification, form locks, casebook signatures; and what every
audited write triggers (review/apps.py): verifications lapse, signatures are voided, edit checks
raise queries. Access: raising needs `manage_queries` (data manager) or `verify_source`
(monitor); answering, the assignee role; closing, the data manager or whoever raised it;
verifying, `verify_source`; locking forms, `manage_queries`; signing, `sign_off`."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from django.contrib.auth import authenticate
from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import models, transaction
from django.utils.translation import gettext as _

from ketatrial.audit import clinical_create, clinical_update
from participants.access import has_capability, has_role, not_found
from participants.allocation import visibility
from review import records
from review.models import (
    CasebookSignature,
    FormLock,
    ProtocolDeviation,
    Query,
    QueryMessage,
    SoftRangeConfirmation,
    Verification,
)
from review.soft_ranges import Unusual, scan_time_unusual

REVIEW_MODELS = {
    "review.query",
    "review.querymessage",
    "review.verification",
    "review.formlock",
    "review.casebooksignature",
    "review.softrangeconfirmation",
}
# The meaning of the principal investigator's casebook signature (21 CFR 11.50: printed name,
# time and meaning of the signature).
SIGNATURE_MEANING = (
    "I have reviewed this participant's casebook and confirm that, to the best of my knowledge, its "
    "data are accurate, complete and attributable."
)


def _may_raise(user: AbstractBaseUser) -> bool:
    return has_capability(user, "manage_queries") or has_capability(user, "verify_source")


def _record_or_404(user: AbstractBaseUser, label: str, record_id: str) -> models.Model:
    record = records.record_get(user, label, record_id)
    if record is None:
        raise not_found()
    return record


def _field_or_refuse(user: AbstractBaseUser, label: str, field: str) -> str:
    if not field:
        return ""
    if field not in {f.name for f in records.reviewable_fields(user, label)}:
        raise ValidationError({"field": _("No such field on this form.")})
    return field


@transaction.atomic
def query_raise(
    *,
    by: AbstractBaseUser,
    label: str,
    record_id: str,
    field: str,
    text: str,
    now: datetime,
    assignee_role: str = "",
    due_date: date | None = None,
) -> Query:
    if not _may_raise(by):
        raise PermissionDenied
    record = _record_or_404(by, label, record_id)
    field = _field_or_refuse(by, label, field)
    if not text.strip():
        raise ValidationError({"text": _("Write the question.")})
    query = clinical_create(
        Query(
            participant_id=records.participant_of(label, record),
            record_model=label,
            record_id=str(record.pk),
            field=field,
            text=text.strip(),
            assignee_role=assignee_role or records.default_answerer(label),
            due_date=due_date,
            raised_by=by,
            raised_at=now,
        ),
        by=by,
        reason="query raised",
    )
    clinical_create(
        QueryMessage(query=query, kind=QueryMessage.Kind.RAISED, text=query.text, by=by, at=now), by=by
    )
    return query


def query_visible(user: AbstractBaseUser, query: Query) -> bool:
    """A query is seen by who may see its record (and its field)."""
    if not visibility.may_see_records(user, query.record_model):
        return False
    return not query.field or query.field in visibility.visible_fields(
        user, query.record_model, [query.field]
    )


@transaction.atomic
def query_answer(*, by: AbstractBaseUser, query: Query, text: str, corrected: bool, now: datetime) -> Query:
    """The site answers: it explains, or it has corrected the data (through the form, with its
    reason in the audit trail) and says so."""
    query = Query.objects.select_for_update().get(pk=query.pk)
    if not has_role(by, query.assignee_role) or not query_visible(by, query):
        raise PermissionDenied
    if query.state == Query.State.CLOSED:
        raise ValidationError(_("This query is closed."))
    if not text.strip():
        raise ValidationError({"text": _("Write the answer.")})
    kind = QueryMessage.Kind.CORRECTED if corrected else QueryMessage.Kind.ANSWER
    clinical_create(QueryMessage(query=query, kind=kind, text=text.strip(), by=by, at=now), by=by)
    return clinical_update(query, by=by, reason="query answered", changes={"state": Query.State.ANSWERED})


def _may_close(user: AbstractBaseUser, query: Query) -> bool:
    return has_capability(user, "manage_queries") or (query.raised_by_id == user.pk and _may_raise(user))


@transaction.atomic
def query_close(*, by: AbstractBaseUser, query: Query, reason: str, now: datetime) -> Query:
    query = Query.objects.select_for_update().get(pk=query.pk)
    if not _may_close(by, query) or not query_visible(by, query):
        raise PermissionDenied
    if not reason.strip():
        raise ValidationError({"reason": _("Give the reason for closing.")})
    clinical_create(
        QueryMessage(query=query, kind=QueryMessage.Kind.CLOSED, text=reason.strip(), by=by, at=now), by=by
    )
    return clinical_update(
        query,
        by=by,
        reason="query closed",
        changes={
            "state": Query.State.CLOSED,
            "closed_by": by,
            "closed_at": now,
            "close_reason": reason.strip(),
        },
    )


@transaction.atomic
def query_reopen(*, by: AbstractBaseUser, query: Query, text: str, now: datetime) -> Query:
    query = Query.objects.select_for_update().get(pk=query.pk)
    if not _may_close(by, query) or not query_visible(by, query):
        raise PermissionDenied
    if not text.strip():
        raise ValidationError({"text": _("Say what is still unclear.")})
    clinical_create(
        QueryMessage(query=query, kind=QueryMessage.Kind.REOPENED, text=text.strip(), by=by, at=now), by=by
    )
    return clinical_update(
        query,
        by=by,
        reason="query re-opened",
        changes={"state": Query.State.OPEN, "closed_by": None, "closed_at": None, "close_reason": ""},
    )


def edit_check_raise(
    *, label: str, record: models.Model, check_code: str, text: str, now: datetime, field: str = ""
) -> Query | None:
    """An automatic query (one open per record and check), on a field or the whole form."""
    existing = Query.objects.filter(
        record_model=label, record_id=str(record.pk), check_code=check_code
    ).exclude(state=Query.State.CLOSED)
    if existing.exists():
        return None
    query = clinical_create(
        Query(
            participant_id=records.participant_of(label, record),
            record_model=label,
            record_id=str(record.pk),
            field=field,
            text=text,
            source=Query.Source.EDIT_CHECK,
            check_code=check_code,
            assignee_role=records.default_answerer(label),
            raised_at=now,
        ),
        by=None,
        reason="raised by an edit check",
    )
    clinical_create(QueryMessage(query=query, kind=QueryMessage.Kind.RAISED, text=text, at=now), by=None)
    return query


# --- source-data verification ----------------------------------------------------------------


@transaction.atomic
def verify(
    *, by: AbstractBaseUser, label: str, record_id: str, fields: list[str], now: datetime
) -> Verification:
    """The monitor verified a whole form (no fields) or some of its fields against the source."""
    if not has_capability(by, "verify_source"):
        raise PermissionDenied
    record = _record_or_404(by, label, record_id)
    fields = [_field_or_refuse(by, label, f) for f in fields if f]
    return clinical_create(
        Verification(
            participant_id=records.participant_of(label, record),
            record_model=label,
            record_id=str(record.pk),
            fields=sorted(set(fields)),
            verified_by=by,
            verified_at=now,
        ),
        by=by,
        reason="source data verified",
    )


def verification_state(label: str, record_id: str, field_names: list[str]) -> dict[str, Verification | None]:
    """Per field (and "" for the whole form): the standing verification, if any."""
    standing = list(
        Verification.objects.filter(record_model=label, record_id=str(record_id), invalidated_at__isnull=True)
    )
    whole = next((v for v in standing if not v.fields), None)
    out: dict[str, Verification | None] = {"": whole}
    for name in field_names:
        out[name] = whole or next((v for v in standing if name in v.fields), None)
    return out


# --- form locks and the casebook signature ----------------------------------------------------


@transaction.atomic
def form_lock(*, by: AbstractBaseUser, label: str, record_id: str, reason: str, now: datetime) -> FormLock:
    if not has_capability(by, "manage_queries"):
        raise PermissionDenied
    record = _record_or_404(by, label, record_id)
    if active_lock(label, record.pk) is not None:
        raise ValidationError(_("This form is locked already."))
    return clinical_create(
        FormLock(
            participant_id=records.participant_of(label, record),
            record_model=label,
            record_id=str(record.pk),
            locked_by=by,
            locked_at=now,
            reason=reason.strip(),
        ),
        by=by,
        reason=reason.strip() or "form locked",
    )


@transaction.atomic
def form_unlock(*, by: AbstractBaseUser, lock: FormLock, reason: str, now: datetime) -> FormLock:
    if not has_capability(by, "manage_queries"):
        raise PermissionDenied
    if not reason.strip():
        raise ValidationError({"reason": _("Give the reason for unlocking.")})
    return clinical_update(
        lock,
        by=by,
        reason=reason.strip(),
        changes={"unlocked_by": by, "unlocked_at": now, "unlock_reason": reason.strip()},
    )


def active_lock(label: str, record_id: Any) -> FormLock | None:
    return FormLock.objects.filter(
        record_model=label, record_id=str(record_id), unlocked_at__isnull=True
    ).first()


def refuse_write_to_locked_form(record: models.Model) -> None:
    """A write guard of every audited save (ketatrial.audit.WRITE_GUARDS)."""
    label = record._meta.label_lower
    if label not in records.PATHS or record.pk is None:
        return
    if FormLock.objects.filter(
        record_model=label, record_id=str(record.pk), unlocked_at__isnull=True
    ).exists():
        raise ValidationError(
            _(
                "This form is locked by the data manager: it cannot be changed until it is unlocked (with a reason)."
            )
        )


def signature_active(participant_id: int) -> CasebookSignature | None:
    return CasebookSignature.objects.filter(participant_id=participant_id, voided_at__isnull=True).first()


@transaction.atomic
def casebook_sign(
    *,
    by: AbstractBaseUser,
    participant_id: int,
    username: str,
    password: str,
    now: datetime,
    request: Any = None,
) -> CasebookSignature:
    """The principal investigator signs one participant's casebook: the username and password
    are asked again (the signing person, at the moment of signing). From a page, the check goes
    through the sign-in backends with the request, so failed attempts count toward the lockout
    like failed sign-ins."""
    if not has_capability(by, "sign_off"):
        raise PermissionDenied
    if request is not None:
        valid = authenticate(request, username=username, password=password) is not None
    else:
        valid = by.is_active and by.check_password(password)
    if username != by.get_username() or not valid:
        raise ValidationError({"password": _("The username or password is not right: not signed.")})
    open_queries = (
        Query.objects.filter(participant_id=participant_id).exclude(state=Query.State.CLOSED).count()
    )
    if open_queries:
        raise ValidationError(
            _("%(n)d queries of this casebook are still open: they are closed before the casebook is signed.")
            % {"n": open_queries}
        )
    previous = signature_active(participant_id)
    if previous is not None:
        raise ValidationError(_("This casebook is signed already."))
    return clinical_create(
        CasebookSignature(
            participant_id=participant_id, signed_by=by, signed_at=now, meaning=SIGNATURE_MEANING
        ),
        by=by,
        reason="casebook signed",
    )


# --- after every audited write ------------------------------------------------------------------


def _changed_fields(history_instance: Any) -> list[str] | None:
    """The fields a change touched (None: created or deleted, i.e. the whole form)."""
    if history_instance.history_type != "~":
        return None
    previous = history_instance.prev_record
    if previous is None:
        return None
    return [c.field for c in history_instance.diff_against(previous).changes]


def after_clinical_write(sender: Any, instance: models.Model, history_instance: Any, **kwargs: Any) -> None:
    label = instance._meta.label_lower
    if label in REVIEW_MODELS or label not in records.PATHS:
        return
    from django.utils import timezone

    now = timezone.now()
    changed = _changed_fields(history_instance)
    if history_instance.history_type != "+":
        what = ", ".join(changed) if changed else _("the whole form")
        because = _("changed after verification (%(fields)s) by %(user)s") % {
            "fields": what,
            "user": getattr(history_instance.history_user, "username", "") or "system",
        }
        for v in Verification.objects.filter(
            record_model=label, record_id=str(instance.pk), invalidated_at__isnull=True
        ):
            if changed is None or not v.fields or set(v.fields) & set(changed):
                clinical_update(
                    v,
                    by=None,
                    reason="a later change",
                    changes={"invalidated_at": now, "invalidated_because": because},
                )
    participant_id = records.participant_of(label, instance)
    if participant_id is not None:
        signature = signature_active(participant_id)
        if signature is not None:
            clinical_update(
                signature,
                by=None,
                reason="a record of the casebook changed",
                changes={"voided_at": now, "void_reason": f"{label} #{instance.pk} changed"},
            )
    run_edit_checks(label, instance, now=now)


def run_edit_checks(label: str, instance: models.Model, *, now: datetime) -> None:
    """Edit checks that raise queries on save: a rating saved incomplete (items not rated or not
    assessed; a total missing); an MRS scan outside its session's window."""
    if label == "clinimetry.assessment":
        missing = list(getattr(instance, "missing_items", None) or [])
        if missing or instance.total is None:  # type: ignore[attr-defined]
            text = _("Saved incomplete: items not rated or not assessed: %(items)s; total %(total)s.") % {
                "items": ", ".join(missing) or "—",
                "total": instance.total if instance.total is not None else "—",  # type: ignore[attr-defined]
            }
            edit_check_raise(label=label, record=instance, check_code="rating_incomplete", text=text, now=now)
    elif label == "spectroscopy.mrsupload":
        _mrs_scan_in_window(instance, now=now)


def _mrs_scan_in_window(upload: Any, *, now: datetime) -> None:
    """Cross-form check: an MRS scan's time against its session's window in the schedule (the
    coordinator confirmed it with a reason to save it; the data manager decides whether it is a
    deviation)."""
    if upload.scanned_at is None or upload.status == "superseded":
        return
    from django.utils import timezone

    from infusions import selectors as infusion_selectors

    window = infusion_selectors.mrs_window(upload.participant, upload.session_code)
    if window is None:
        return
    unusual = scan_time_unusual(
        "scanned_at", timezone.localtime(upload.scanned_at), window_start=window[0], window_end=window[1]
    )
    if unusual:
        text = _(
            "Scanned at %(value)s, outside this MRS session's window (%(usual)s): explain, or correct "
            "the session or the time."
        ) % {"value": unusual[0].value, "usual": unusual[0].usual}
        edit_check_raise(
            label="spectroscopy.mrsupload",
            record=upload,
            check_code="mrs_scan_out_of_window",
            text=text,
            now=now,
            field="scanned_at",
        )


# --- soft ranges: unusual values saved once confirmed with a reason --------------------------------


def soft_ranges_require_reason(unusual: list[Unusual], reason: str) -> None:
    """Refuse an entry holding unusual values until the person confirms them with a reason: a
    message on each field, so the form shows it there and keeps what was typed."""
    if unusual and not reason.strip():
        raise ValidationError(
            {
                u.field: _(
                    "%(value)s is unusual (usual: %(usual)s): check it; if it is right, confirm it "
                    "below with the reason."
                )
                % {"value": u.value, "usual": u.usual}
                for u in unusual
            }
        )


def soft_ranges_confirm(
    *, record: models.Model, unusual: list[Unusual], reason: str, by: AbstractBaseUser, now: datetime
) -> list[SoftRangeConfirmation]:
    """Keep each confirmed unusual value of a saved record with the reason (audited); called in
    the transaction that saved the record."""
    label = record._meta.label_lower
    participant_id = records.participant_of(label, record)
    return [
        clinical_create(
            SoftRangeConfirmation(
                participant_id=participant_id,
                record_model=label,
                record_id=str(record.pk),
                field=u.field,
                rule=u.rule,
                value=u.value,
                usual=u.usual,
                reason=reason.strip(),
                confirmed_by=by,
                confirmed_at=now,
            ),
            by=by,
            reason=f"unusual value confirmed: {reason.strip()}",
        )
        for u in unusual
    ]


# --- protocol deviations ------------------------------------------------------------------------


@transaction.atomic
def deviation_record(
    *,
    by: AbstractBaseUser,
    participant_id: int,
    category: str,
    occurred_on: date,
    description: str,
    action: str,
    major: bool,
    now: datetime,
) -> ProtocolDeviation:
    """The data manager or the monitor logs a deviation (a major one feeds the per-protocol set)."""
    if not _may_raise(by):
        raise PermissionDenied
    from django.utils import timezone

    if occurred_on > timezone.localdate(now):
        raise ValidationError({"occurred_on": _("The date is in the future.")})
    if not description.strip():
        raise ValidationError({"description": _("Say what happened.")})
    return clinical_create(
        ProtocolDeviation(
            participant_id=participant_id,
            category=category,
            occurred_on=occurred_on,
            description=description.strip(),
            action=action.strip(),
            major=major,
            recorded_by=by,
            recorded_at=now,
        ),
        by=by,
        reason="deviation logged",
    )


def major_deviations() -> dict[str, list[str]]:
    """Participant code -> categories of their major deviations (for the per-protocol set)."""
    out: dict[str, list[str]] = {}
    for code, category in ProtocolDeviation.objects.filter(major=True).values_list(
        "participant__code", "category"
    ):
        out.setdefault(code, []).append(category)
    return out
