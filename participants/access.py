"""Access: the one module every view goes through. Deny by default.

Every view is declared with `@role_required(...)` (or `@public` for the login pages); the
`AccessMiddleware` refuses any view that carries no declaration, so a forgotten check fails
closed. Objects a user may not see answer 404, the same as objects that do not exist.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.core.exceptions import PermissionDenied
from django.http import Http404

F = TypeVar("F", bound=Callable[..., Any])

ACCESS_ATTR = "ketatrial_access"
PUBLIC = "public"
AUTHENTICATED = "authenticated"
BEFORE_SECOND_FACTOR = "before_second_factor"


def user_roles(user: AbstractBaseUser | AnonymousUser) -> frozenset[str]:
    """Role codes held by an active user (cached on the user object for the request)."""
    if not user.is_authenticated or not user.is_active:
        return frozenset()
    cached = getattr(user, "_ketatrial_roles", None)
    if cached is None:
        cached = frozenset(user.groups.values_list("name", flat=True))  # type: ignore[attr-defined]
        user._ketatrial_roles = cached  # type: ignore[union-attr]
    return cached


def has_role(user: AbstractBaseUser | AnonymousUser, *roles: str) -> bool:
    return bool(user_roles(user) & set(roles))


def has_capability(user: AbstractBaseUser | AnonymousUser, capability: str) -> bool:
    """True when one of the user's roles grants `capability` (a ketatrial permission)."""
    return bool(user.is_authenticated and user.is_active and user.has_perm(f"ketatrial.{capability}"))


def require_role(user: AbstractBaseUser | AnonymousUser, *roles: str) -> None:
    if not has_role(user, *roles):
        raise PermissionDenied


def require_capability(user: AbstractBaseUser | AnonymousUser, capability: str) -> None:
    if not has_capability(user, capability):
        raise PermissionDenied


def role_required(*roles: str) -> Callable[[F], F]:
    """Declare that a view is open to holders of any of `roles` (checked before the view runs)."""

    def decorate(view: F) -> F:
        setattr(view, ACCESS_ATTR, frozenset(roles))
        return view

    return decorate


def capability_required(*capabilities: str) -> Callable[[F], F]:
    """Declare a view open to whoever holds any of `capabilities` (participants.roles grants
    them to roles; the role groups are checked against that table at start-up). The one
    vocabulary of access: views name what they allow, templates ask `perms.ketatrial.<name>`."""
    from participants.roles import ROLE_PERMISSIONS

    unknown = set(capabilities) - {c for caps in ROLE_PERMISSIONS.values() for c in caps}
    if unknown:
        raise ValueError(f"unknown capabilities: {sorted(unknown)}")
    roles = [role for role, caps in ROLE_PERMISSIONS.items() if set(caps) & set(capabilities)]

    def decorate(view: F) -> F:
        setattr(view, ACCESS_ATTR, frozenset(roles))
        view.ketatrial_capabilities = frozenset(capabilities)  # type: ignore[attr-defined]
        return view

    return decorate


def authenticated(view: F) -> F:
    """Declare a view open to any signed-in user (home, language, own password)."""
    setattr(view, ACCESS_ATTR, AUTHENTICATED)
    return view


def before_second_factor(view: F) -> F:
    """Declare a view open to any signed-in user, also before they passed the second factor that
    their kind of account needs (only the second-factor page itself: participants/sign_in.py)."""
    setattr(view, ACCESS_ATTR, BEFORE_SECOND_FACTOR)
    return view


def public(view: F) -> F:
    """Declare a view open without signing in (login, lockout notice)."""
    setattr(view, ACCESS_ATTR, PUBLIC)
    return view


def view_declaration(view: Callable[..., Any]) -> Any:
    """The access declaration of a view function or class-based view; None when undeclared."""
    declaration = getattr(view, ACCESS_ATTR, None)
    if declaration is None and hasattr(view, "view_class"):
        declaration = getattr(view.view_class, ACCESS_ATTR, None)
    return declaration


def not_found() -> Http404:
    """The one answer for 'missing' and 'not yours' alike."""
    return Http404("Not found")
