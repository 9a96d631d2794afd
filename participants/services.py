"""Writes for participants, users and roles: the one sanctioned path for each."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

from axes.utils import reset as axes_reset
from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser, Group
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Max
from django.utils import timezone
from django.utils.translation import gettext as _

from ketatrial.audit import clinical_create, clinical_update
from ketatrial.protocol import ROLES
from ketatrial.timefmt import local_minute
from ketatrial.trial import protocol
from participants import crypto, sign_in
from participants.eligibility import (
    AGE_CRITERION,
    age_on,
    assess_eligibility,
    criterion_index,
    hdrs17_contradiction,
)
from participants.models import (
    Consent,
    Identity,
    Participant,
    ScreeningRecord,
    Site,
    UserProfile,
    UserRoleChange,
)

User = get_user_model()

PARTICIPANT_EDITABLE = ("baseline_weight_kg", "height_cm", "baseline_date")


def site_get_or_create_default() -> Site:
    """The protocol's site (single-site trial); created on first use."""
    p = protocol()
    site, _created = Site.objects.get_or_create(code=p.site_code, defaults={"name": p.site_name})
    return site


@transaction.atomic
def site_create(*, code: str, name: str) -> Site:
    """Add a recruiting site (configuration, no migration): a code of 2-8 capital letters or
    digits, unique, that starts the codes of its screenings and participants, and a name."""
    site = Site(code=code.strip().upper(), name=name.strip())
    site.full_clean()
    site.save()
    return site


@transaction.atomic
def site_update(*, site: Site, name: str) -> Site:
    """Rename a site. Its code stays: the codes of its screenings and participants are built
    from it."""
    site = Site.objects.select_for_update().get(pk=site.pk)
    site.name = name.strip()
    site.full_clean()
    site.save(update_fields=["name"])
    return site


def _site_codes(user: AbstractBaseUser) -> list[str]:
    return sorted(Site.objects.filter(profiles__user=user).values_list("code", flat=True))


@transaction.atomic
def user_set_sites(
    *, user: AbstractBaseUser, sites: list[Site], reason: str, by: AbstractBaseUser, now: datetime
) -> AbstractBaseUser:
    """Set the sites whose participants the account works with (none: every site for a
    trial-wide role, the protocol's site for site staff: visibility.sites_for); refused without
    a reason or with nothing changed; logged append-only with the roles."""
    if not reason.strip():
        raise ValidationError({"reason": _("Give the reason for this change.")})
    user = User.objects.select_for_update().get(pk=user.pk)
    old = _site_codes(user)
    if old == sorted(s.code for s in sites):
        raise ValidationError(_("Nothing was changed."))
    profile, _created = UserProfile.objects.get_or_create(user=user, defaults={"language": ""})
    profile.sites.set(sites)
    user.__dict__.pop("_ketatrial_sites", None)
    roles = _current_roles(user)
    UserRoleChange.objects.create(
        user=user,
        changed_by=by,
        changed_at=now,
        old_roles=roles,
        new_roles=roles,
        active=user.is_active,
        access_until=profile.access_until,
        sites=_site_codes(user),
        reason=reason.strip(),
    )
    return user


def site_allowed(user: AbstractBaseUser, site: Site) -> bool:
    """Whether the user works at the site (visibility.sites_for: None is every site)."""
    from participants.allocation.visibility import sites_for

    sites = sites_for(user)
    return sites is None or site.pk in sites


def participant_code(site: Site, number: int) -> str:
    return f"{site.code}-{number:03d}"


def _next_number(model: type, site: Site) -> int:
    # The site row is locked by the caller, so two coordinators never get the same number.
    return (model.objects.filter(site=site).aggregate(n=Max("number"))["n"] or 0) + 1


@transaction.atomic
def screening_start(*, site: Site, by: AbstractBaseUser, now: datetime) -> ScreeningRecord:
    """Log a person assessed for the trial at one of the user's sites; the protocol's criteria
    are kept with the record."""
    if not site_allowed(by, site):
        raise ValidationError({"site": _("You do not work at this site.")})
    Site.objects.select_for_update().get(pk=site.pk)
    p = protocol()
    number = _next_number(ScreeningRecord, site)
    record = ScreeningRecord(
        site=site,
        number=number,
        code=f"S-{site.code}-{number:04d}",
        screened_at=now,
        protocol_version=p.version,
        inclusion_criteria=list(p.inclusion_criteria),
        exclusion_criteria=list(p.exclusion_criteria),
        inclusion_met=[None] * len(p.inclusion_criteria),
        exclusion_present=[None] * len(p.exclusion_criteria),
    )
    return clinical_create(record, by=by, reason="screening started")


def latest_consent(screening: ScreeningRecord) -> Consent | None:
    return screening.consents.order_by("-consented_at").first()


def consent_problem(screening: ScreeningRecord, *, at: datetime) -> str | None:
    """Why no study procedure may be recorded at `at`, or None when consent covers it."""
    consent = latest_consent(screening)
    if consent is None:
        return _("No informed consent is recorded: no study procedure may be recorded before consent.")
    if consent.consented_at > at:
        return _("The procedure time is before the consent time (%s).") % local_minute(consent.consented_at)
    if consent.version != protocol().consent_version:
        return _("Re-consent is required: consent version %(old)s was signed, %(new)s is in force.") % {
            "old": consent.version,
            "new": protocol().consent_version,
        }
    return None


def require_consent(subject: ScreeningRecord | Participant, *, at: datetime) -> None:
    """Refuse any study procedure not covered by consent in the version in force."""
    screening = subject.screening if isinstance(subject, Participant) else subject
    problem = consent_problem(screening, at=at)
    if problem:
        raise ValidationError(problem)


@transaction.atomic
def consent_record(
    *, screening: ScreeningRecord, version: str, consented_at: datetime, by: AbstractBaseUser, now: datetime
) -> Consent:
    """Record informed consent (or re-consent to a new version)."""
    if consented_at > now:
        raise ValidationError({"consented_at": _("Consent cannot be in the future.")})
    if screening.outcome == ScreeningRecord.Outcome.DECLINED:
        raise ValidationError(_("This person declined; start a new screening if they changed their mind."))
    if not version.strip():
        raise ValidationError({"version": _("Give the consent version.")})
    return clinical_create(
        Consent(screening=screening, version=version.strip(), consented_at=consented_at, obtained_by=by),
        by=by,
        reason="consent obtained",
    )


@transaction.atomic
def screening_assess(
    *,
    screening: ScreeningRecord,
    inclusion_met: list[bool | None],
    exclusion_present: list[bool | None],
    hdrs17_total: int | None,
    by: AbstractBaseUser,
    now: datetime,
    reason: str = "",
) -> ScreeningRecord:
    """Record the eligibility checklist and screening HDRS-17; the outcome follows from them. An
    answer to the HDRS-17 criterion that the total contradicts is refused, to be corrected."""
    locked = ScreeningRecord.objects.select_for_update().get(pk=screening.pk)
    require_consent(locked, at=now)
    if hasattr(locked, "participant"):
        raise ValidationError(_("This person is already enrolled; eligibility cannot change."))
    contradiction = hdrs17_contradiction(
        inclusion=locked.inclusion_criteria,
        inclusion_met=inclusion_met,
        hdrs17_total=hdrs17_total,
        hdrs17_min=protocol().screening_hdrs17_min,
    )
    if contradiction is not None:
        criterion, answer = contradiction
        raise ValidationError(
            {
                "hdrs17_total": _(
                    "The criterion “%(criterion)s” is answered “%(answer)s”, but the "
                    "screening HDRS-17 total is %(total)d (the criterion needs %(min)d or more). "
                    "Correct the answer or the total."
                )
                % {
                    "criterion": criterion,
                    "answer": _("Yes") if answer else _("No"),
                    "total": hdrs17_total,
                    "min": protocol().screening_hdrs17_min,
                }
            }
        )
    result = assess_eligibility(
        inclusion=locked.inclusion_criteria,
        inclusion_met=inclusion_met,
        exclusion=locked.exclusion_criteria,
        exclusion_present=exclusion_present,
        hdrs17_total=hdrs17_total,
        hdrs17_min=protocol().screening_hdrs17_min,
    )
    if result.eligible:
        outcome = ScreeningRecord.Outcome.ELIGIBLE
    elif result.reasons:
        outcome = ScreeningRecord.Outcome.SCREEN_FAILURE
    else:
        outcome = ScreeningRecord.Outcome.PENDING
    changes = {
        "inclusion_met": list(inclusion_met),
        "exclusion_present": list(exclusion_present),
        "hdrs17_total": hdrs17_total,
        "outcome": outcome,
        "outcome_reason": "; ".join(result.reasons),
        "failure_codes": list(result.codes),
    }
    first_assessment = locked.outcome == ScreeningRecord.Outcome.PENDING and all(
        v is None for v in locked.inclusion_met
    )
    return clinical_update(
        locked, by=by, reason=reason or ("eligibility assessed" if first_assessment else ""), changes=changes
    )


@transaction.atomic
def screening_decline(*, screening: ScreeningRecord, reason: str, by: AbstractBaseUser) -> ScreeningRecord:
    """The person declined to take part (no consent); the reason goes to the CONSORT counts."""
    locked = ScreeningRecord.objects.select_for_update().get(pk=screening.pk)
    if hasattr(locked, "participant"):
        raise ValidationError(_("This person is enrolled: record a withdrawal instead."))
    if not reason.strip():
        raise ValidationError({"reason": _("Give the reason.")})
    return clinical_update(
        locked,
        by=by,
        reason="declined",
        changes={"outcome": ScreeningRecord.Outcome.DECLINED, "outcome_reason": reason.strip()},
    )


@transaction.atomic
def participant_enroll(
    *,
    screening: ScreeningRecord,
    by: AbstractBaseUser,
    now: datetime,
    baseline_weight_kg: Decimal,
    height_cm: Decimal,
    full_name: str,
    date_of_birth: date,
    phone: str = "",
    address: str = "",
    stratum: str = "",
    baseline_date: date | None = None,
    confirm_reason: str = "",
) -> Participant:
    """Enroll an eligible, consented person: participant ID, baseline, encrypted identity. The
    date of birth must give an age at screening inside the protocol's age range, which the
    eligible checklist answered "yes". An unusual weight or an old baseline date is saved only
    once confirmed with a reason (review/soft_ranges.py)."""
    site = Site.objects.select_for_update().get(pk=screening.site_id)
    screening = ScreeningRecord.objects.select_for_update().get(pk=screening.pk)
    if screening.outcome != ScreeningRecord.Outcome.ELIGIBLE:
        raise ValidationError(_("Only an eligible person can be enrolled."))
    if hasattr(screening, "participant"):
        raise ValidationError(_("This person is already enrolled."))
    require_consent(screening, at=now)
    _check_age_at_screening(screening, date_of_birth)
    _check_weight(baseline_weight_kg)
    _check_baseline_date(screening, baseline_date, now=now)
    unusual = _unusual_baseline(
        {"baseline_weight_kg": baseline_weight_kg, "baseline_date": baseline_date}, now=now
    )
    review_services().soft_ranges_require_reason(unusual, confirm_reason)
    if stratum not in protocol().strata:
        raise ValidationError({"stratum": _("Unknown stratum.")})
    if not full_name.strip():
        raise ValidationError({"full_name": _("This field is required.")})
    number = _next_number(Participant, site)
    participant = clinical_create(
        Participant(
            site=site,
            screening=screening,
            number=number,
            code=participant_code(site, number),
            stratum=stratum,
            enrolled_at=now,
            baseline_weight_kg=baseline_weight_kg,
            height_cm=height_cm,
            baseline_date=baseline_date,
        ),
        by=by,
        reason="enrolled",
    )
    clinical_create(
        Identity(
            participant=participant,
            full_name_enc=crypto.encrypt(full_name.strip()),
            date_of_birth_enc=crypto.encrypt(date_of_birth.isoformat()),
            phone_enc=crypto.encrypt(phone.strip()),
            address_enc=crypto.encrypt(address.strip()),
        ),
        by=by,
        reason="enrolled",
    )
    if unusual:
        review_services().soft_ranges_confirm(
            record=participant, unusual=unusual, reason=confirm_reason, by=by, now=now
        )
    return participant


def review_services() -> Any:
    """The review app's services (imported late: review reads participants at import)."""
    from review import services

    return services


def _unusual_baseline(values: dict[str, Any], *, now: datetime) -> list[Any]:
    """The soft ranges of the baseline values given (weight, baseline assessment date)."""
    from review import soft_ranges

    p, found = protocol(), []
    if values.get("baseline_weight_kg") is not None:
        found += soft_ranges.weight_unusual("baseline_weight_kg", float(values["baseline_weight_kg"]), p)
    if values.get("baseline_date") is not None:
        found += soft_ranges.baseline_date_unusual(
            "baseline_date", values["baseline_date"], today=timezone.localdate(now), p=p
        )
    return found


def _check_baseline_date(screening: ScreeningRecord, baseline: date | None, *, now: datetime) -> None:
    """A baseline assessment happens after consent and not in the future."""
    if baseline is None:
        return
    today = timezone.localdate(now)
    if baseline > today:
        raise ValidationError({"baseline_date": _("The baseline assessment date is in the future.")})
    first = screening.consents.order_by("consented_at").values_list("consented_at", flat=True).first()
    if first is not None and baseline < timezone.localdate(first):
        raise ValidationError(
            {
                "baseline_date": _(
                    "The baseline assessment (%(day)s) cannot come before consent (%(consent)s)."
                )
                % {"day": baseline.isoformat(), "consent": timezone.localdate(first).isoformat()}
            }
        )


def _check_age_at_screening(screening: ScreeningRecord, date_of_birth: date) -> None:
    """Refuse a date of birth that contradicts the age criterion answered at screening."""
    p = protocol()
    screened_on = timezone.localdate(screening.screened_at)
    if date_of_birth > screened_on:
        raise ValidationError(
            {
                "date_of_birth": _("The date of birth %(dob)s is after the screening date %(day)s.")
                % {"dob": date_of_birth.isoformat(), "day": screened_on.isoformat()}
            }
        )
    age = age_on(date_of_birth, screened_on)
    if p.age_min <= age <= p.age_max:
        return
    index = criterion_index(screening.inclusion_criteria, AGE_CRITERION)
    criterion = screening.inclusion_criteria[index] if index is not None else _("age")
    raise ValidationError(
        {
            "date_of_birth": _(
                "The date of birth %(dob)s gives an age of %(age)d on the screening date %(day)s, "
                "outside %(min)d-%(max)d years, but the screening checklist answers “%(criterion)s” "
                "with “Yes”. Check the date of birth; if it is right, correct the checklist "
                "(a screen failure)."
            )
            % {
                "dob": date_of_birth.isoformat(),
                "age": age,
                "day": screened_on.isoformat(),
                "min": p.age_min,
                "max": p.age_max,
                "criterion": criterion,
            }
        }
    )


def identity_read(participant: Participant) -> dict[str, str]:
    """Decrypted identifying data (callers must have checked the coordinator role)."""
    identity = Identity.objects.filter(participant=participant).first()
    if identity is None:
        return {}
    return {
        "full_name": crypto.decrypt(identity.full_name_enc),
        "date_of_birth": crypto.decrypt(identity.date_of_birth_enc),
        "phone": crypto.decrypt(identity.phone_enc),
        "address": crypto.decrypt(identity.address_enc),
    }


def randomization_readiness(participant: Participant, *, now: datetime) -> list[str]:
    """What still stands in the way of randomizing (empty when ready)."""
    problems = []
    if participant.status != Participant.Status.ENROLLED:
        problems.append(_("Only an enrolled participant who is not yet randomized can be randomized."))
    problem = consent_problem(participant.screening, at=now)
    if problem:
        problems.append(problem)
    if participant.screening.outcome != ScreeningRecord.Outcome.ELIGIBLE:
        problems.append(_("The screening outcome is not 'eligible'."))
    if not (participant.baseline_weight_kg and participant.height_cm and participant.baseline_date):
        problems.append(_("The baseline is incomplete (weight, height and baseline assessment date)."))
    problems += baseline_rating_problems(participant, now=now)
    return problems


def baseline_rating_problems(participant: Participant, *, now: datetime) -> list[str]:
    """What is missing of the baseline ratings randomization needs: one of each scale (HDRS-17,
    MADRS) rated by `now`, with a total (PROTOCOL.md: screening and baseline before randomization;
    the primary outcome is the change from them)."""
    from clinimetry import scales
    from clinimetry.selectors import BASELINE

    totals = dict(
        participant.assessments.filter(task_code=BASELINE, rated_at__lte=now).values_list(
            "instrument", "total"
        )
    )
    problems = []
    for key, scale in scales.SCALES.items():
        if key not in totals:
            problems.append(
                _("The baseline %(scale)s rating is missing: a rater records it before randomization.")
                % {"scale": scale.name}
            )
        elif totals[key] is None:
            problems.append(
                _(
                    "The baseline %(scale)s rating has no total (items missing): complete it before randomization."
                )
                % {"scale": scale.name}
            )
    return problems


DISPOSITIONS = (
    Participant.Status.WITHDRAWN,
    Participant.Status.DISCONTINUED,
    Participant.Status.LOST,
    Participant.Status.COMPLETED,
)


@transaction.atomic
def participant_disposition(
    *, participant: Participant, status: str, on: date, reason: str, by: AbstractBaseUser, now: datetime
) -> Participant:
    """Withdrawal, discontinuation, loss to follow-up or completion; earlier data stays."""
    if status not in DISPOSITIONS:
        raise ValidationError({"status": _("Choose a disposition.")})
    if not reason.strip() and status != Participant.Status.COMPLETED:
        raise ValidationError({"reason": _("Give the reason.")})
    if on > now.date():
        raise ValidationError({"on": _("The date cannot be in the future.")})
    locked = Participant.objects.select_for_update().get(pk=participant.pk)
    if locked.status in DISPOSITIONS:
        raise ValidationError(_("This participant already has a final disposition."))
    return clinical_update(
        locked,
        by=by,
        reason=f"{status}: {reason.strip()}" if reason.strip() else status,
        changes={"status": status, "disposition_date": on, "disposition_reason": reason.strip()},
    )


def _check_weight(weight: Decimal | None) -> None:
    """The protocol's plausible weight range (the one the dosing service applies); the model
    holds physical bounds only."""
    p = protocol()
    if weight is not None and not p.weight_min_kg <= float(weight) <= p.weight_max_kg:
        raise ValidationError(
            {
                "baseline_weight_kg": _(
                    "%(w)s kg is outside the plausible range %(min)s-%(max)s kg: weigh again."
                )
                % {"w": weight, "min": p.weight_min_kg, "max": p.weight_max_kg}
            }
        )


@transaction.atomic
def participant_update(
    *,
    participant: Participant,
    by: AbstractBaseUser,
    reason: str,
    confirm_reason: str = "",
    now: datetime | None = None,
    **changes: Any,
) -> Participant:
    """Correct a participant's baseline values; the reason goes to the audit trail. A changed
    value outside its usual range is saved only once confirmed (`confirm_reason`)."""
    unknown = set(changes) - set(PARTICIPANT_EDITABLE)
    if unknown:
        raise ValidationError(_("These fields cannot be edited here: %s") % ", ".join(sorted(unknown)))
    now = now or timezone.now()
    if "baseline_weight_kg" in changes:
        _check_weight(changes["baseline_weight_kg"])
    if "baseline_date" in changes:
        _check_baseline_date(participant.screening, changes["baseline_date"], now=now)
    # Against the stored record: a model form has already put the new values on `participant`.
    locked = Participant.objects.select_for_update().get(pk=participant.pk)
    changed = {k: v for k, v in changes.items() if getattr(locked, k) != v}
    unusual = _unusual_baseline(changed, now=now)
    review_services().soft_ranges_require_reason(unusual, confirm_reason)
    updated = clinical_update(locked, by=by, reason=reason, changes=changes)
    if unusual:
        review_services().soft_ranges_confirm(
            record=updated, unusual=unusual, reason=confirm_reason, by=by, now=now
        )
    return updated


def roles_validate(roles: set[str]) -> None:
    """Refuse unknown roles and the incompatible pairs of the protocol (rater + pharmacist)."""
    unknown = roles - set(ROLES)
    if unknown:
        raise ValidationError(_("Unknown role(s): %s") % ", ".join(sorted(unknown)))
    for first, second in protocol().incompatible_roles:
        if first in roles and second in roles:
            raise ValidationError(
                {
                    "roles": _("A person cannot hold both %(a)s and %(b)s: the rater must stay blinded.")
                    % {"a": first, "b": second}
                }
            )


def _current_roles(user: AbstractBaseUser) -> list[str]:
    return sorted(user.groups.values_list("name", flat=True))  # type: ignore[attr-defined]


@transaction.atomic
def user_create(
    *,
    username: str,
    password: str,
    first_name: str,
    last_name: str,
    email: str,
    roles: set[str],
    language: str,
    by: AbstractBaseUser | None,
    now: datetime,
) -> AbstractBaseUser:
    """Create a user with roles; password validated, role rules enforced, change logged."""
    roles_validate(roles)
    if by is not None and username in settings.UNBLINDED_USERNAMES:
        # The settings list is one of the two unblinding keys: an account taking a listed name
        # is made by the system administrator, never from the application.
        raise ValidationError({"username": _("This username is reserved.")})
    if User.objects.filter(username__iexact=username).exists():
        raise ValidationError({"username": _("This username is taken.")})
    user = User(username=username, first_name=first_name, last_name=last_name, email=email)
    validate_password(password, user)
    user.set_password(password)
    try:
        user.save()
    except IntegrityError as exc:
        raise ValidationError({"username": _("This username is taken.")}) from exc
    UserProfile.objects.create(user=user, language=language)
    user.groups.set(Group.objects.filter(name__in=roles))
    UserRoleChange.objects.create(
        user=user,
        changed_by=by,
        changed_at=now,
        old_roles=[],
        new_roles=sorted(roles),
        active=True,
        reason="account created",
    )
    return user


@transaction.atomic
def user_set_roles(
    *,
    user: AbstractBaseUser,
    roles: set[str],
    active: bool,
    reason: str,
    by: AbstractBaseUser,
    now: datetime,
) -> AbstractBaseUser:
    """Change a user's roles or active flag; refused without a reason; logged append-only."""
    roles_validate(roles)
    if not reason.strip():
        raise ValidationError({"reason": _("Give the reason for this change.")})
    user = User.objects.select_for_update().get(pk=user.pk)
    if user.pk == by.pk and not active:
        raise ValidationError({"active": _("You cannot deactivate your own account.")})
    old = _current_roles(user)
    if old == sorted(roles) and user.is_active == active:
        raise ValidationError(_("Nothing was changed."))
    user.groups.set(Group.objects.filter(name__in=roles))
    if user.is_active != active:
        user.is_active = active
        user.save(update_fields=["is_active"])
    UserRoleChange.objects.create(
        user=user,
        changed_by=by,
        changed_at=now,
        old_roles=old,
        new_roles=sorted(roles),
        active=active,
        access_until=_access_until(user),
        sites=_site_codes(user),
        reason=reason.strip(),
    )
    return user


def _access_until(user: AbstractBaseUser) -> date | None:
    return UserProfile.objects.filter(user=user).values_list("access_until", flat=True).first()


@transaction.atomic
def user_set_access(
    *,
    user: AbstractBaseUser,
    access_until: date | None,
    reset_second_factor: bool,
    reason: str,
    by: AbstractBaseUser,
    now: datetime,
) -> AbstractBaseUser:
    """Set the account's last day of access (None: no end) and optionally reset its second
    factor (a lost phone: the person enrols again at the next sign-in); refused without a reason
    or with nothing changed; logged append-only with the roles."""
    if not reason.strip():
        raise ValidationError({"reason": _("Give the reason for this change.")})
    user = User.objects.select_for_update().get(pk=user.pk)
    if user.pk == by.pk and access_until is not None and access_until < timezone.localdate(now):
        raise ValidationError({"access_until": _("You cannot end your own access.")})
    previous = _access_until(user)
    if previous == access_until and not reset_second_factor:
        raise ValidationError(_("Nothing was changed."))
    UserProfile.objects.update_or_create(user=user, defaults={"access_until": access_until})
    if reset_second_factor:
        sign_in.second_factor_reset(user=user)
    roles = _current_roles(user)
    UserRoleChange.objects.create(
        user=user,
        changed_by=by,
        changed_at=now,
        old_roles=roles,
        new_roles=roles,
        active=user.is_active,
        access_until=access_until,
        second_factor_reset=reset_second_factor,
        sites=_site_codes(user),
        reason=reason.strip(),
    )
    return user


def user_set_language(*, user: AbstractBaseUser, language: str) -> None:
    """Keep the interface language the user chose."""
    UserProfile.objects.update_or_create(user=user, defaults={"language": language})


def user_unlock(*, user: AbstractBaseUser) -> int:
    """Lift a login lockout before its cool-off ends; returns the attempts cleared."""
    return axes_reset(username=user.get_username())
