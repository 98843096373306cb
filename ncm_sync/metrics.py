"""Prometheus figures of the NCM mirror (portal/metrics.py): per-tenant sync freshness and lag, run outcomes."""
from __future__ import annotations

from datetime import timedelta

from django.db.models import Count
from django.utils import timezone
from prometheus_client.core import GaugeMetricFamily

from accounts.models import Tenant
from ncm_sync.models import SyncRun
from ncm_sync.services.runs import dispatcher_last_run


def collect():
    now = timezone.now()
    last_success = GaugeMetricFamily("portal_tenant_last_sync_timestamp_seconds",
                                     "When the tenant's last successful sync started (Unix time).", labels=["tenant", "organization"])
    lag = GaugeMetricFamily("portal_tenant_sync_lag_seconds",
                            "How far past its due time the tenant's next sync is (0 when not yet due).", labels=["tenant", "organization"])
    for tenant in Tenant.objects.select_related("organization").only(
            "slug", "organization__slug", "last_synced_at", "next_sync_at"):
        labels = [tenant.slug, tenant.organization.slug]
        if tenant.last_synced_at:
            last_success.add_metric(labels, tenant.last_synced_at.timestamp())
        due = tenant.next_sync_at
        lag.add_metric(labels, max(0.0, (now - due).total_seconds()) if due else 0.0)
    yield last_success
    yield lag

    runs = GaugeMetricFamily("portal_sync_runs_last_hour", "Sync runs created in the last hour, by status.", labels=["status"])
    for row in SyncRun.objects.filter(created_at__gte=now - timedelta(hours=1)).values("status").annotate(n=Count("id")):
        runs.add_metric([row["status"]], row["n"])
    yield runs

    active = GaugeMetricFamily("portal_sync_runs_active", "Sync runs queued or running now.", labels=["status"])
    for row in SyncRun.objects.filter(status__in=["queued", "running"]).values("status").annotate(n=Count("id")):
        active.add_metric([row["status"]], row["n"])
    yield active

    last = dispatcher_last_run()
    dispatcher = GaugeMetricFamily("portal_sync_dispatcher_last_run_timestamp_seconds",
                                   "When the sync dispatcher (beat) last ran (Unix time; 0: not since the cache was emptied).")
    dispatcher.add_metric([], last.timestamp() if last else 0.0)
    yield dispatcher
