"""Administration in scope: the audit log (admins only; same scoping as the API)."""
from __future__ import annotations

import json

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.shortcuts import render
from django.utils.html import format_html

from accounts.models import AuditAction, AuditEvent
from accounts.roles import Action
from ui.access import OrgPermissions
from ui.tables import Column, DataTable, Grouping, when_column


@login_required
def audit_log(request):
    if not OrgPermissions(request.user).allows(Action.VIEW_AUDIT):
        raise PermissionDenied("Only admins read the audit log.")
    qs = AuditEvent.objects.for_user(request.user, Action.VIEW_AUDIT).select_related("tenant", "organization")
    columns = [
        when_column("when", "When", "created_at", order_by="created_at"),
        Column("actor", "Actor", value="actor_username", order_by="actor_username"),
        Column("source", "Source", value="source", order_by="source"),
        Column("action", "Action", value="action", order_by="action"),
        Column("object_type", "Object type", value="object_type", order_by="object_type"),
        Column("object", "Object", value=lambda e: f"{e.object_repr} (#{e.object_id})", order_by="object_repr"),
        Column("tenant", "Tenant", value="tenant.name", order_by="tenant__name"),
        Column("changes", "Changes", value=lambda e: json.dumps(e.changes, sort_keys=True, default=str)[:2000], clickable=False,
               render=lambda e: format_html("<code>{}</code>", json.dumps(e.changes, sort_keys=True, default=str)[:240])),
        Column("request", "Request id", value="request_id", css="hide-col"),
    ]
    table = DataTable(
        request, qs, columns, table_id="audit-table", title="Audit log", export_name="audit-log",
        search_fields=["actor_username", "object_repr", "object_type", "object_id", "request_id"], default_sort="-when",
        filters={
            "action": lambda q, v: q.filter(action=v) if v in AuditAction.values else q,
            "source": lambda q, v: q.filter(source=v),
            "actor": lambda q, v: q.filter(actor_username=v),
            "object_type": lambda q, v: q.filter(object_type=v),
            "tenant": lambda q, v: q.filter(tenant_id=v) if v.isdigit() else q,
        },
        groupings=[Grouping("actor", "Actor", "actor_username"), Grouping("object_type", "Object type", "object_type")],
        empty_message="No audit events in your scope yet.",
    )
    export = table.export_response()
    if export:
        return export
    return render(request, "ui/admin/audit.html", {"table": table, "noun": "events", "actions": AuditAction.choices,
                                                   "sources": ["ui", "api", "admin", "job", "system"]})
