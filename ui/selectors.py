"""Reads for pages. Everything starts from `Model.objects.for_user(user, action)`."""
from __future__ import annotations

from datetime import timedelta

from django.utils import timezone

from accounts.models import SyncStatus, Tenant
from accounts.roles import Action

__all__ = ["is_stale", "overview_tenants", "stale_tenant_ids"]


def is_stale(tenant: Tenant, now=None) -> bool:
    """Data is stale when the tenant never synced or its last success is older than two intervals (+5 min)."""
    return _stale(tenant.last_synced_at, tenant.sync_interval_minutes, now or timezone.now())


def _stale(last_synced_at, interval_minutes, now) -> bool:
    return last_synced_at is None or now - last_synced_at > timedelta(minutes=2 * interval_minutes + 5)


def overview_tenants(user):
    """Tenants in scope with the figures the MSP overview shows."""
    qs = Tenant.objects.for_user(user, Action.VIEW).select_related("organization")
    return annotate_tenant_figures(qs)


def annotate_tenant_figures(qs):
    """Routers online/offline, open alerts and poor modems per tenant (when the NCM mirror is installed)."""
    try:
        from ui import mirror
    except ImportError:  # pragma: no cover - the mirror app is part of the project
        return qs
    return mirror.annotate_tenant_figures(qs)


def stale_tenant_ids(qs) -> list[int]:
    now = timezone.now()
    return [pk for pk, last, interval in qs.values_list("id", "last_synced_at", "sync_interval_minutes") if _stale(last, interval, now)]


SYNC_STATUS_FILTERS = {s.value for s in SyncStatus}


def overview_totals(tenants) -> dict[str, int]:
    from ui import mirror

    return mirror.overview_totals(tenants)
