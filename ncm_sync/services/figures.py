"""The MSP overview's stored per-tenant figures (`ncm_sync.models.TenantFigures`).

They are counted with the tenant pages' own definitions (`selectors.live_tenant_figures`) and stored whenever the
mirror changes, so the overview costs one row per tenant at any fleet size: at the end of every sync run (bulk
writes send no signals), after alert pushes and acknowledgements, and on any single mirror row saved through
the ORM (`connect_signals`: the admin, tests' factories).
"""
from __future__ import annotations

from collections.abc import Iterable

from django.db.models.signals import post_save

from accounts.models import Tenant
from ncm_sync import selectors
from ncm_sync.models import Alert, NetDevice, NetDeviceHealth, NetDeviceMetrics, Router, TenantFigures

__all__ = ["refresh_tenant_figures", "connect_signals"]

# The mirror models the figures count.
COUNTED_MODELS = (Router, NetDevice, NetDeviceHealth, NetDeviceMetrics, Alert)


def refresh_tenant_figures(tenant_ids: Iterable[int]) -> int:
    """Count the tenants' figures now and store them (one query to count, one to write). Returns how many."""
    ids = sorted({int(pk) for pk in tenant_ids if pk is not None})
    if not ids:
        return 0
    counted = selectors.live_tenant_figures(Tenant.objects.filter(pk__in=ids), tenant_ids=ids).values(
        "pk", *selectors.STORED_FIGURES)
    rows = [TenantFigures(tenant_id=row.pop("pk"), **row) for row in counted]
    TenantFigures.objects.bulk_create(
        rows, update_conflicts=True, unique_fields=["tenant"],
        update_fields=[*selectors.STORED_FIGURES, "refreshed_at"],
    )
    return len(rows)


def _row_changed(sender, instance, **kwargs) -> None:
    if kwargs.get("raw"):  # fixtures being loaded
        return
    refresh_tenant_figures([instance.tenant_id])


def connect_signals() -> None:
    for model in COUNTED_MODELS:
        # Saves only: a delete receiver would stop Django from deleting a tenant's mirror in bulk (it would load
        # every row to signal it). The mirror's own deletions are tombstones the sync writes (refreshed at its end).
        post_save.connect(_row_changed, sender=model, dispatch_uid=f"tenant-figures-save-{model.__name__}")
