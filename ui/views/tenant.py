"""Tenant pages: the router dashboard, cellular health, router detail, alerts, sync runs."""
from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.shortcuts import render

from ui.access import TenantPermissions, tenant_or_404


def tenant_context(request, tenant, **extra):
    return {"tenant": tenant, "can": TenantPermissions(request.user, tenant), **extra}


@login_required
def tenant_dashboard(request, tenant_id):
    tenant = tenant_or_404(request, tenant_id)
    return render(request, "ui/tenant/dashboard_pending.html", tenant_context(request, tenant))
