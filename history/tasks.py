"""Celery tasks (thin: ids in, a service call). Queues from CELERY_TASK_ROUTES, schedules from CELERY_BEAT_SCHEDULE."""
from __future__ import annotations

from celery import shared_task


@shared_task(name="history.tasks.collect_due_history", ignore_result=True)
def collect_due_history() -> int:
    """Beat, every HISTORY_COLLECT_INTERVAL_SECONDS: one collection task per tenant with an NCM credential."""
    from history.services import tenants_to_collect
    from portal.tasks import enqueue

    tenant_ids = tenants_to_collect()
    for tenant_id in tenant_ids:
        enqueue("history.tasks.collect_tenant_task", tenant_id)
    return len(tenant_ids)


@shared_task(name="history.tasks.collect_tenant_task", ignore_result=True)
def collect_tenant_task(tenant_id: int) -> None:
    from accounts.models import Tenant
    from history.services import collect_tenant
    from portal.logcontext import log_context

    tenant = Tenant.objects.filter(pk=tenant_id).first()
    if tenant is not None:
        with log_context(tenant_id=tenant_id):
            collect_tenant(tenant)


@shared_task(name="history.tasks.collect_router_task", ignore_result=True)
def collect_router_task(router_id: int) -> None:
    """On demand (a router page): the router's series for its last HISTORY_ON_DEMAND_DAYS days."""
    from history.services import collect_router
    from ncm_sync.models import Router

    router = Router.objects.select_related("tenant").filter(pk=router_id).first()
    if router is not None:
        collect_router(router)


@shared_task(name="history.tasks.prune_history_task", ignore_result=True)
def prune_history_task() -> dict:
    from history.services import prune_history

    return prune_history()


@shared_task(name="history.tasks.sync_due_licences", ignore_result=True)
def sync_due_licences() -> int:
    """Beat, every 6 hours: licences (NCM v3) of every tenant whose credential has an api_token."""
    from history.licences import tenants_with_v3_token
    from portal.tasks import enqueue

    tenant_ids = tenants_with_v3_token()
    for tenant_id in tenant_ids:
        enqueue("history.tasks.sync_licences_task", tenant_id)
    return len(tenant_ids)


@shared_task(name="history.tasks.sync_licences_task", ignore_result=True)
def sync_licences_task(tenant_id: int) -> None:
    from accounts.models import Tenant
    from history.licences import sync_licences

    tenant = Tenant.objects.filter(pk=tenant_id).first()
    if tenant is not None:
        sync_licences(tenant)


@shared_task(name="history.tasks.send_due_reports", ignore_result=True)
def send_due_reports_task() -> int:
    """Beat, every 15 minutes: scheduled reports whose period has ended (generated, emailed, kept)."""
    from history.reports import send_due_reports

    return send_due_reports()
