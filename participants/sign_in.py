"""Sign-in beyond the password: who must pass a second factor (TOTP, django-otp), their
authenticator devices, and the last day an account may be used.

The access middleware asks `second_factor_required` and `account_expired` on every request; the
second-factor page (ketatrial/views_sign_in.py) enrols and verifies through the functions here,
which are the only code that writes a TOTP device.
"""

from __future__ import annotations

import base64
from datetime import date

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.db import transaction
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.translation import gettext as _
from django_otp import verify_token
from django_otp.plugins.otp_totp.models import TOTPDevice

from ketatrial.protocol import ROLES
from participants.access import user_roles

# Beyond the role codes, settings.OTP_REQUIRED_FOR may name these two kinds of account.
UNBLINDED_PHARMACIST = "unblinded_pharmacist"  # a pharmacist who can see the allocation
ADMINISTRATOR = "administrator"  # a superuser or staff account (the Django admin)
OTP_REQUIRED_FOR_CHOICES: tuple[str, ...] = (UNBLINDED_PHARMACIST, ADMINISTRATOR, *ROLES)
DEVICE_NAME = "authenticator app"


def second_factor_required(user: AbstractBaseUser | AnonymousUser) -> bool:
    """True when the user is of a kind settings.OTP_REQUIRED_FOR lists: such a user may open no page
    but the second-factor page and sign-out until they pass it in this session."""
    if not user.is_authenticated or not user.is_active:
        return False
    listed = set(settings.OTP_REQUIRED_FOR)
    if ADMINISTRATOR in listed and (user.is_superuser or user.is_staff):  # type: ignore[union-attr]
        return True
    if user_roles(user) & listed:
        return True
    if UNBLINDED_PHARMACIST in listed:
        from participants.allocation import can_see_allocation  # the blinding package's one rule

        return can_see_allocation(user)
    return False


def second_factor_passed(user: AbstractBaseUser | AnonymousUser) -> bool:
    """True when this session was verified with one of the user's confirmed devices
    (django_otp's OTPMiddleware sets `is_verified` from the session)."""
    is_verified = getattr(user, "is_verified", None)
    return bool(user.is_authenticated and is_verified is not None and is_verified())


def access_until(user: AbstractBaseUser | AnonymousUser) -> date | None:
    """The last day the account may be used (set by the data manager), or None for no end."""
    profile = getattr(user, "profile", None) if user.is_authenticated else None
    return getattr(profile, "access_until", None)


def account_expired(user: AbstractBaseUser | AnonymousUser, *, today: date) -> bool:
    """True from the day after the account's last day of access (days in the trial's time zone)."""
    last_day = access_until(user)
    return last_day is not None and today > last_day


def confirmed_device(user: AbstractBaseUser) -> TOTPDevice | None:
    """The user's authenticator, once enrolment was confirmed with a code."""
    return TOTPDevice.objects.filter(user=user, confirmed=True).order_by("-pk").first()


@transaction.atomic
def enrolment_device(user: AbstractBaseUser) -> TOTPDevice:
    """The not-yet-confirmed device whose secret the enrolment page shows; the same one on every
    visit until it is confirmed, so reloading the page does not change the QR code."""
    device = TOTPDevice.objects.filter(user=user, confirmed=False).order_by("-pk").first()
    return device or TOTPDevice.objects.create(user=user, name=DEVICE_NAME, confirmed=False)


@transaction.atomic
def enrolment_confirm(*, user: AbstractBaseUser, token: str) -> TOTPDevice | None:
    """Confirm the enrolment device with a code from the app; the device replaces any earlier one.
    None when the code is wrong (or the device is throttled after wrong codes)."""
    device = TOTPDevice.objects.select_for_update().filter(user=user, confirmed=False).order_by("-pk").first()
    if device is None or not device.verify_token(token):
        return None
    TOTPDevice.objects.filter(user=user).exclude(pk=device.pk).delete()
    device.confirmed = True
    device.save(update_fields=["confirmed"])
    return device


def second_factor_verify(*, user: AbstractBaseUser, token: str) -> TOTPDevice | None:
    """The user's confirmed device when `token` is its current code (a code is accepted once;
    wrong codes slow further tries down: django-otp's throttling), else None."""
    device = confirmed_device(user)
    if device is None:
        return None
    return verify_token(user, device.persistent_id, token.strip())


def second_factor_wait_seconds(user: AbstractBaseUser, *, confirmed: bool = True) -> int:
    """Seconds before another code may be tried after wrong ones (0 when it may be tried now)."""
    device = TOTPDevice.objects.filter(user=user, confirmed=confirmed).order_by("-pk").first()
    if device is None:
        return 0
    allowed, details = device.verify_is_allowed()
    if allowed or not details or "locked_until" not in details:
        return 0
    return max(1, int((details["locked_until"] - timezone.now()).total_seconds()) + 1)


@transaction.atomic
def second_factor_reset(*, user: AbstractBaseUser) -> int:
    """Remove the user's devices (a lost phone): they enrol again at their next sign-in. Returns
    how many devices were removed. Called by participants.services.user_set_access, which logs it."""
    deleted, _ = TOTPDevice.objects.filter(user=user).delete()
    return deleted


@transaction.atomic
def demo_device(user: AbstractBaseUser) -> TOTPDevice:
    """seed_demo's confirmed device for a demo user: kept across runs, so an authenticator app
    set up once keeps working."""
    device = confirmed_device(user)
    return device or TOTPDevice.objects.create(user=user, name=DEVICE_NAME, confirmed=True)


def secret_base32(device: TOTPDevice) -> str:
    """The secret as authenticator apps take it when typed in (base32, in groups of four)."""
    text = base64.b32encode(device.bin_key).decode("ascii").rstrip("=")
    return " ".join(text[i : i + 4] for i in range(0, len(text), 4))


def otpauth_uri(device: TOTPDevice) -> str:
    """The otpauth:// URI (Key URI Format) an authenticator app reads from the QR code."""
    return str(device.config_url)


def qr_code_data_uri(device: TOTPDevice) -> str:
    """The enrolment QR code as an SVG data: URI (an <img> the Content-Security-Policy allows)."""
    import segno

    return str(segno.make(otpauth_uri(device), error="m").svg_data_uri(scale=5, border=4))


def expired_message(last_day: date) -> str:
    """What the sign-in page says to a person whose account's access has ended."""
    return _(
        "The access of this account ended on %(date)s. Ask the data manager to extend it if you "
        "still work on the trial."
    ) % {"date": date_format(last_day, "DATE_FORMAT")}


def required_for_labels() -> list[str]:
    """The kinds of account settings.OTP_REQUIRED_FOR lists, in words (for the demo's banner)."""
    from django.utils.translation import gettext_lazy

    from participants.roles import ROLE_LABELS

    words = {
        UNBLINDED_PHARMACIST: gettext_lazy("unblinded pharmacists"),
        ADMINISTRATOR: gettext_lazy("administrators"),
        **ROLE_LABELS,
    }
    return [str(words.get(code, code)) for code in settings.OTP_REQUIRED_FOR]
