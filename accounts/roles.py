"""Roles and actions are declared once, in the ground layer (portal/roles.py); re-exported for the apps."""
from portal.roles import ROLE_ACTIONS, Action, Role, role_allows, roles_allowing  # noqa: F401

__all__ = ["Action", "Role", "ROLE_ACTIONS", "roles_allowing", "role_allows"]
