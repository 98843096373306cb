"""Scoping for pages: the same `for_user(user, action)` filter as the API. Out of scope is a 404."""
from __future__ import annotations

from django.core.exceptions import PermissionDenied
from django.shortcuts import get_object_or_404

from accounts.models import Tenant
from accounts.roles import Action
from portal.scoping import allowed_organizations, allowed_tenants

__all__ = ["is_customer", "tenant_or_404", "TenantPermissions", "OrgPermissions", "require", "require_anywhere", "in_scope"]


def is_customer(user) -> bool:
    """A customer's login: no organization-level role (an MSP's staff and the operator have one). Customers
    see their own tenant(s), never MSP wording. Cached on the user object for the request."""
    if not getattr(user, "is_authenticated", False):
        return False
    cached = getattr(user, "_ui_is_customer", None)
    if cached is None:
        cached = not allowed_organizations(user, Action.VIEW).exists()
        try:
            user._ui_is_customer = cached
        except AttributeError:
            pass
    return cached


def tenant_or_404(request, tenant_id, action: str = Action.VIEW) -> Tenant:
    """The tenant if the user may view it (else 404); then 403 unless `action` is allowed on it."""
    tenant = get_object_or_404(Tenant.objects.for_user(request.user, Action.VIEW).select_related("organization"), pk=tenant_id)
    if action != Action.VIEW:
        require(TenantPermissions(request.user, tenant), action)
    return tenant


def require(perms, action: str) -> None:
    if not perms.allows(action):
        raise PermissionDenied(f"Your role does not allow “{Action(action).label}” here.")


def require_anywhere(user, action: str, message: str | None = None) -> OrgPermissions:
    """403 unless the user holds `action` on some tenant or organization (admin pages). Returns the perms."""
    perms = OrgPermissions(user)
    if not perms.allows(action):
        raise PermissionDenied(message or f"Your role does not allow “{Action(action).label}”.")
    return perms


def in_scope(instance, user, action: str) -> bool:
    """Whether `instance` is in `Model.objects.for_user(user, action)`."""
    return type(instance)._default_manager.all().for_user(user, action).filter(pk=instance.pk).exists()


class TenantPermissions:
    """`perms.reboot` etc.: whether the user may do an action on one tenant. Cached per request."""

    def __init__(self, user, tenant):
        self.user = user
        self.tenant = tenant
        self._cache: dict[str, bool] = {}

    def allows(self, action: str) -> bool:
        if action not in self._cache:
            self._cache[action] = bool(self.tenant) and allowed_tenants(self.user, action).filter(pk=self.tenant.pk).exists()
        return self._cache[action]

    def __getattr__(self, name: str) -> bool:
        if name.startswith("_") or name not in Action.values:
            raise AttributeError(name)
        return self.allows(name)

    def __getitem__(self, name: str) -> bool:
        return self.allows(name)


class OrgPermissions:
    """Whether the user holds an action on any tenant/organization: what admin links to show."""

    def __init__(self, user):
        self.user = user
        self._cache: dict[str, bool] = {}

    def allows(self, action: str) -> bool:
        if action not in self._cache:
            self._cache[action] = (
                allowed_tenants(self.user, action).exists() or allowed_organizations(self.user, action).exists()
            )
        return self._cache[action]

    @property
    def manages_organization(self) -> bool:
        """An organization-level admin (sign-in security is set per organization)."""
        if "_org_admin" not in self._cache:
            self._cache["_org_admin"] = allowed_organizations(self.user, Action.MANAGE_USERS).exists()
        return self._cache["_org_admin"]

    def __getattr__(self, name: str) -> bool:
        if name.startswith("_") or name not in Action.values:
            raise AttributeError(name)
        return self.allows(name)
