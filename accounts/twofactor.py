"""Two-factor sign-in rules (TOTP, django-otp): who must verify a second factor before anything else.

A user must verify a TOTP code after the password when they have a confirmed device, or when any
organization they belong to (directly, through a tenant, or as its managed login) sets
`require_two_factor`. The UI middleware (ui/twofactor.py) and the API's session authentication both ask
`verification_needed`, so no path takes a password alone for such a user.
"""
from __future__ import annotations

from django.db.models import Q
from django_otp import user_has_device

from accounts.models import Organization

__all__ = ["requires_two_factor", "verification_needed"]


def requires_two_factor(user) -> bool:
    """True when an organization the user belongs to requires two-factor sign-in."""
    if not getattr(user, "is_authenticated", False):
        return False
    scope = (
        Q(memberships__user=user)
        | Q(tenants__memberships__user=user)
        | Q(pk=user.home_organization_id or 0)
        | Q(tenants__pk=user.home_tenant_id or 0)
    )
    return Organization.objects.filter(require_two_factor=True).filter(scope).exists()


def verification_needed(user) -> str | None:
    """"verify", "setup" or None for a signed-in user whose session is not OTP-verified yet."""
    if not getattr(user, "is_authenticated", False):
        return None
    if getattr(user, "is_verified", lambda: False)():
        return None
    if user_has_device(user, confirmed=True):
        return "verify"
    if requires_two_factor(user):
        return "setup"
    return None
