"""Writes for participants, users and roles: the one sanctioned path for each."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from axes.utils import reset as axes_reset
from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser, Group
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Max
from django.utils.translation import gettext as _

from ketatrial.audit import clinical_create, clinical_update
from ketatrial.protocol import ROLES
from ketatrial.trial import protocol
from participants.models import Participant, Site, UserProfile, UserRoleChange

User = get_user_model()

PARTICIPANT_EDITABLE = ("baseline_weight_kg", "height_cm")


def site_get_or_create_default() -> Site:
    """The protocol's site (single-site trial); created on first use."""
    p = protocol()
    site, _created = Site.objects.get_or_create(code=p.site_code, defaults={"name": p.site_name})
    return site


def participant_code(site: Site, number: int) -> str:
    return f"{site.code}-{number:03d}"


@transaction.atomic
def participant_create(
    *,
    site: Site,
    by: AbstractBaseUser,
    now: datetime,
    baseline_weight_kg: Decimal,
    height_cm: Decimal,
) -> Participant:
    """Enroll a participant with the next number of the site (row-locked against races)."""
    Site.objects.select_for_update().get(pk=site.pk)
    number = (Participant.objects.filter(site=site).aggregate(n=Max("number"))["n"] or 0) + 1
    participant = Participant(
        site=site,
        number=number,
        code=participant_code(site, number),
        enrolled_at=now,
        baseline_weight_kg=baseline_weight_kg,
        height_cm=height_cm,
    )
    return clinical_create(participant, by=by, reason="enrolled")


@transaction.atomic
def participant_update(
    *, participant: Participant, by: AbstractBaseUser, reason: str, **changes: Any
) -> Participant:
    """Correct a participant's baseline values; the reason goes to the audit trail."""
    unknown = set(changes) - set(PARTICIPANT_EDITABLE)
    if unknown:
        raise ValidationError(_("These fields cannot be edited here: %s") % ", ".join(sorted(unknown)))
    locked = Participant.objects.select_for_update().get(pk=participant.pk)
    return clinical_update(locked, by=by, reason=reason, changes=changes)


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
        reason=reason.strip(),
    )
    return user


def user_set_language(*, user: AbstractBaseUser, language: str) -> None:
    """Keep the interface language the user chose."""
    UserProfile.objects.update_or_create(user=user, defaults={"language": language})


def user_unlock(*, user: AbstractBaseUser) -> int:
    """Lift a login lockout before its cool-off ends; returns the attempts cleared."""
    return axes_reset(username=user.get_username())
