"""Audit log writer. Every create/update/delete through the API, the admin or a job calls `record_change`.

It lives in the ground layer so the shared API and admin bases can audit; the log's model
(`accounts.AuditEvent`) is looked up by name, not imported.
"""
from __future__ import annotations

import datetime
import decimal
import uuid
from typing import Any

from django.apps import apps
from django.db import models
from django.utils.translation import gettext_lazy as _

from portal.middleware import current_request_id

__all__ = ["AuditAction", "snapshot", "record_change", "diff"]


class AuditAction(models.TextChoices):
    CREATE = "create", _("Create")
    UPDATE = "update", _("Update")
    DELETE = "delete", _("Delete")
    ACTION = "action", _("Action")

REDACTED = "[redacted]"
# Fields never copied into an audit entry in clear, whatever model they sit on.
SENSITIVE_FIELD_NAMES = {"password", "secrets_encrypted", "digest", "secret", "secret_encrypted"}


def _jsonable(value: Any) -> Any:
    if isinstance(value, (datetime.datetime, datetime.date, datetime.time)):
        return value.isoformat()
    if isinstance(value, (decimal.Decimal, uuid.UUID)):
        return str(value)
    if isinstance(value, (dict, list, str, int, float, bool)) or value is None:
        return value
    return str(value)


def snapshot(instance: models.Model) -> dict[str, Any]:
    """The instance's concrete field values, JSON-ready, with secrets redacted."""
    data = {}
    for field in instance._meta.concrete_fields:
        name = field.attname
        value = getattr(instance, name)
        if field.name in SENSITIVE_FIELD_NAMES or name in SENSITIVE_FIELD_NAMES:
            data[field.name] = REDACTED if value else ""
        else:
            data[field.name] = _jsonable(value)
    return data


def diff(before: dict, after: dict) -> dict[str, list]:
    return {key: [before.get(key), after.get(key)] for key in sorted(set(before) | set(after)) if before.get(key) != after.get(key)}


def _scope_of(instance: models.Model) -> tuple[int | None, int | None]:
    Organization, Tenant = apps.get_model("accounts", "Organization"), apps.get_model("accounts", "Tenant")
    if isinstance(instance, Tenant):
        return instance.organization_id, instance.pk
    if isinstance(instance, Organization):
        return instance.pk, None
    tenant_id = getattr(instance, "tenant_id", None)
    organization_id = getattr(instance, "organization_id", None)
    if tenant_id and not organization_id:
        organization_id = Tenant.objects.filter(pk=tenant_id).values_list("organization_id", flat=True).first()
    return organization_id, tenant_id


def record_change(
    *,
    actor,
    action: str,
    instance: models.Model,
    before: dict | None = None,
    after: dict | None = None,
    source: str = "api",
    extra: dict | None = None,
) -> models.Model:
    """Append one audit entry. `before`/`after` are snapshots; only changed fields are kept."""
    organization_id, tenant_id = _scope_of(instance)
    if action == AuditAction.CREATE:
        changes = {key: [None, value] for key, value in (after or snapshot(instance)).items()}
    elif action == AuditAction.DELETE:
        changes = {key: [value, None] for key, value in (before or {}).items()}
    elif action == AuditAction.UPDATE:
        changes = diff(before or {}, after or snapshot(instance))
    else:
        changes = {}
    if extra:
        changes["_details"] = extra
    actor_obj = actor if getattr(actor, "is_authenticated", False) else None
    return apps.get_model("accounts", "AuditEvent").objects.create(
        actor=actor_obj,
        actor_username=getattr(actor_obj, "username", "") or "",
        organization_id=organization_id,
        tenant_id=tenant_id,
        request_id=current_request_id.get() or "",
        source=source,
        action=action,
        object_type=instance._meta.label_lower,
        object_id=str(instance.pk),
        object_repr=str(instance)[:200],
        changes=changes,
    )
