"""Encryption at rest of identifying data (Fernet: AES-128-CBC with HMAC-SHA256)."""

from __future__ import annotations

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured


def _fernet() -> MultiFernet:
    keys = list(settings.IDENTITY_ENCRYPTION_KEYS)
    if not keys:
        raise ImproperlyConfigured("IDENTITY_ENCRYPTION_KEYS must be set (see .env.example).")
    return MultiFernet([Fernet(key.encode()) for key in keys])


def encrypt(value: str) -> str:
    return _fernet().encrypt(value.encode()).decode() if value else ""


def decrypt(token: str) -> str:
    """Plain text of a stored value; a value no configured key opens says so instead of failing."""
    if not token:
        return ""
    try:
        return _fernet().decrypt(token.encode()).decode()
    except InvalidToken:
        return "[cannot be decrypted with the configured keys]"
