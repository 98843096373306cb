"""Celery tasks (thin: ids in, a service call). Routed to the `sync` queue by CELERY_TASK_ROUTES."""
from __future__ import annotations

from celery import shared_task


@shared_task(name="ncm_sync.tasks.sync_tenant_task", ignore_result=True, acks_late=False)
def sync_tenant_task(run_id: int) -> None:
    """Run one queued SyncRun (a redelivered or finished run is a no-op)."""
    from ncm_sync.models import SyncRun
    from ncm_sync.services import sync_tenant

    tenant_id = SyncRun.objects.filter(pk=run_id).values_list("tenant_id", flat=True).first()
    if tenant_id is not None:
        sync_tenant(tenant_id=tenant_id, run_id=run_id)


@shared_task(name="ncm_sync.tasks.dispatch_due_syncs", ignore_result=True)
def dispatch_due_syncs() -> int:
    """Beat, every minute: enqueue the tenants whose sync interval has passed."""
    from ncm_sync.services import dispatch_due_syncs as dispatch

    return len(dispatch())


@shared_task(ignore_result=True)
def prune_sync_runs_task() -> int:
    """Beat, daily: retention (settings.RETENTION_DAYS)."""
    from ncm_sync.services.runs import prune_sync_runs

    return prune_sync_runs()
