"""Roles and the actions each allows, declared once (named after NCM's own roles)."""
from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _

__all__ = ["Action", "Role", "ROLE_ACTIONS", "roles_allowing", "role_allows"]


class Action(models.TextChoices):
    VIEW = "view", _("View")
    CHANGE = "change", _("Change")
    MANAGE_USERS = "manage_users", _("Manage users and memberships")
    MANAGE_CREDENTIALS = "manage_credentials", _("Manage NCM credentials")
    VIEW_AUDIT = "view_audit", _("Read the audit log")
    REBOOT = "reboot", _("Reboot routers")
    SPEED_TEST = "speed_test", _("Run speed tests")
    PUSH_CONFIG = "push_config", _("Push configuration")
    SYNC = "sync", _("Start a sync")


class Role(models.TextChoices):
    ADMIN = "admin", _("Admin")
    FULL_ACCESS = "full_access", _("Full access")
    DIAGNOSTIC = "diagnostic", _("Diagnostic")
    READ_ONLY = "read_only", _("Read only")


ROLE_ACTIONS: dict[str, frozenset[str]] = {
    Role.ADMIN: frozenset(Action.values),
    Role.FULL_ACCESS: frozenset(
        {Action.VIEW, Action.CHANGE, Action.REBOOT, Action.SPEED_TEST, Action.PUSH_CONFIG, Action.SYNC}
    ),
    Role.DIAGNOSTIC: frozenset({Action.VIEW, Action.SPEED_TEST}),
    Role.READ_ONLY: frozenset({Action.VIEW}),
}


def roles_allowing(action: str) -> list[str]:
    if action not in Action.values:
        raise ValueError(f"Unknown action {action!r}")
    return [role for role, actions in ROLE_ACTIONS.items() if action in actions]


def role_allows(role: str, action: str) -> bool:
    return action in ROLE_ACTIONS.get(role, frozenset())
