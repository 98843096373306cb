"""Who may write what: every write that names a scope is authorized here, on that target, before it saves.

Services call these (the API, the UI and the admin all write through services), so one rule holds on every
face. Reads are filtered by `for_user` (portal/scoping.py); these answer "may this caller *grant or move
something to* that organization, tenant or user", which a read filter cannot: a customer may *see* its MSP
organization, but may not name it in a write.

The caller is a user as the request authenticated it: an API token bound to one tenant carries the owner's
rights on that tenant only (`token_tenant_id`), a read-only token none that write (`token_read_only`).
"""
from __future__ import annotations

from django.apps import apps
from django.core.exceptions import PermissionDenied
from django.db.models import Q

from portal.roles import ROLE_ACTIONS, Action, Role
from portal.scoping import is_anonymous, is_operator, token_tenant_id

__all__ = [
    "ScopeDenied",
    "actions_on",
    "require_action",
    "require_can_grant",
    "require_manages_user",
    "READ_ACTIONS",
]

# What a read-only token keeps.
READ_ACTIONS = frozenset({Action.VIEW, Action.VIEW_AUDIT})


class ScopeDenied(PermissionDenied):
    """A write names a scope the caller may not act on (answers 403 with this message)."""


def _token_read_only(user) -> bool:
    return bool(getattr(user, "token_read_only", False))


def actions_on(user, *, organization=None, tenant=None) -> frozenset[str]:
    """The actions `user` holds on this organization or tenant (exactly one given), through its roles there.

    A tenant inherits its organization's roles. A token bound to one tenant holds nothing on organizations
    or other tenants; a platform operator holds everything (within its token's binding).
    """
    Membership = apps.get_model("accounts", "Membership")

    if (organization is None) == (tenant is None):
        raise ValueError("Give exactly one of organization or tenant.")
    if is_anonymous(user):
        return frozenset()
    bound = token_tenant_id(user)
    if bound is not None and (organization is not None or tenant.pk != bound):
        return frozenset()
    if user.is_superuser:
        actions = frozenset(Action.values)
    else:
        if organization is not None:
            roles = Membership.objects.filter(user=user, organization=organization).values_list("role", flat=True)
        else:
            roles = Membership.objects.filter(
                Q(tenant=tenant) | Q(organization_id=tenant.organization_id), user=user
            ).values_list("role", flat=True)
        actions = frozenset().union(*(ROLE_ACTIONS.get(role, frozenset()) for role in roles))
    return actions & READ_ACTIONS if _token_read_only(user) else actions


def _scope_label(organization, tenant) -> str:
    return f"organization “{organization}”" if organization is not None else f"tenant “{tenant}”"


def require_action(user, action: str, *, organization=None, tenant=None) -> None:
    """Refuse (ScopeDenied) unless `user` may perform `action` on that organization or tenant."""
    if action not in actions_on(user, organization=organization, tenant=tenant):
        raise ScopeDenied(
            f"Your role does not allow '{action}' on {_scope_label(organization, tenant)}."
        )


def require_can_grant(user, role: str, *, organization=None, tenant=None) -> None:
    """Granting `role` on a scope needs `manage_users` there and every action of that role there too."""
    if role not in Role.values:
        raise ScopeDenied(f"Unknown role {role!r}.")
    held = actions_on(user, organization=organization, tenant=tenant)
    if Action.MANAGE_USERS not in held:
        raise ScopeDenied(f"Your role does not allow managing users on {_scope_label(organization, tenant)}.")
    if not ROLE_ACTIONS[role] <= held:
        raise ScopeDenied(f"You cannot grant the role '{role}' on {_scope_label(organization, tenant)}: "
                          "it allows more than your own role there.")


def require_manages_user(actor, target) -> None:
    """Changing a login's roles, status or tokens needs `manage_users` over every scope it holds a role in,
    and is never done to oneself (another admin must)."""
    User = apps.get_model("accounts", "User")

    if is_operator(actor):
        return
    if target.pk == actor.pk:
        raise ScopeDenied("You cannot change your own roles or access; ask another admin.")
    if target.is_superuser or not User.objects.for_user(actor, Action.MANAGE_USERS).filter(pk=target.pk).exists():
        raise ScopeDenied("Your role does not allow managing this user.")
