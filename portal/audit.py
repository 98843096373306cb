"""Audit log writer: the one audit mechanism. Services call `record_change` for the writes they perform.

The face a write came through (`api`, `ui`, `admin`; `job` in workers) is the request's *audit source*, set
once per request by `AuditSourceMiddleware` from the URL, so a service records it without being told. The
API and admin bases audit plain model saves that no service recorded (`was_recorded`), so nothing is logged
twice and nothing is missed. It lives in the ground layer; the log's model (`accounts.AuditEvent`) is
looked up by name, not imported.
"""
from __future__ import annotations

import datetime
import decimal
import uuid
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

from django.apps import apps
from django.db import models
from django.utils.translation import gettext_lazy as _

from portal.middleware import current_request_id

__all__ = ["AuditAction", "snapshot", "record_change", "diff", "audit_source", "current_audit_source", "was_recorded"]

# The face this write came through, and what has been recorded in this request (label, pk, action).
_source: ContextVar[str | None] = ContextVar("audit_source", default=None)
_recorded: ContextVar[set | None] = ContextVar("audit_recorded", default=None)


@contextmanager
def audit_source(source: str):
    """Within this block, audit entries default to `source` (set per request by the middleware)."""
    tokens = _source.set(source), _recorded.set(set())
    try:
        yield
    finally:
        _source.reset(tokens[0])
        _recorded.reset(tokens[1])


def current_audit_source(default: str = "system") -> str:
    """The face of the current request; outside a request (management commands, workers) `system`."""
    return _source.get() or default


def was_recorded(instance: models.Model, action: str) -> bool:
    """Whether a service already recorded `action` on `instance` in this request."""
    recorded = _recorded.get()
    return recorded is not None and (instance._meta.label_lower, str(instance.pk), action) in recorded


class AuditSourceMiddleware:
    """Sets the audit source of each request from its URL: /api/ → api, /admin/ → admin, pages → ui."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        path = request.path
        source = "api" if path.startswith("/api/") else "admin" if path.startswith("/admin/") else "ui"
        with audit_source(source):
            return self.get_response(request)


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
    source: str | None = None,
    extra: dict | None = None,
) -> models.Model:
    """Append one audit entry. `before`/`after` are snapshots; only changed fields are kept."""
    organization_id, tenant_id = _scope_of(instance)
    if action == AuditAction.DELETE:
        # Recorded after the delete: a scope that went with the row (a deleted tenant) is not referenced.
        Organization, Tenant = apps.get_model("accounts", "Organization"), apps.get_model("accounts", "Tenant")
        if tenant_id and not Tenant.objects.filter(pk=tenant_id).exists():
            tenant_id = None
        if organization_id and not Organization.objects.filter(pk=organization_id).exists():
            organization_id = None
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
    source = source or current_audit_source()
    recorded = _recorded.get()
    if recorded is not None:
        recorded.add((instance._meta.label_lower, str(instance.pk), action))
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
