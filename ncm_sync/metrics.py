"""Prometheus figures of the NCM mirror (portal/metrics.py): per-tenant sync freshness, lag, duration and calls,
run outcomes, and each credential's use of its NCM call budget.

Every figure comes from a bounded number of queries (grouped by tenant, the last hour of runs by the
`created_at` index) plus one cache round trip for all budgets, so a scrape costs the same at 5 or 500 tenants.
"""
from __future__ import annotations

import logging
from datetime import timedelta

from django.conf import settings
from django.db.models import Count, F, Max, Sum
from django.utils import timezone
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

from accounts.models import Credential, Provider, SyncStatus, Tenant
from ncm_sync.models import SyncRun, SyncRunStatus, SyncState
from ncm_sync.ratebudget import budget_key_for_secrets, budget_usage
from ncm_sync.services.runs import dispatcher_last_run

logger = logging.getLogger(__name__)

TENANT_LABELS = ["tenant", "organization"]


def collect():
    now = timezone.now()
    tenants = {
        tenant.pk: tenant for tenant in Tenant.objects.select_related("organization").only(
            "slug", "organization__slug", "last_synced_at", "next_sync_at", "sync_status")
    }

    def labels(tenant_id):
        tenant = tenants.get(tenant_id)
        return [tenant.slug, tenant.organization.slug] if tenant else None

    last_success = GaugeMetricFamily("portal_tenant_last_sync_timestamp_seconds",
                                     "When the tenant's last successful sync started (Unix time).", labels=TENANT_LABELS)
    lag = GaugeMetricFamily("portal_tenant_sync_lag_seconds",
                            "How far past its due time the tenant's next sync is (0 when not yet due).", labels=TENANT_LABELS)
    failing = GaugeMetricFamily("portal_tenant_sync_failed",
                                "1 when the tenant's last sync failed (its error is on the sync page).", labels=TENANT_LABELS)
    for tenant in tenants.values():
        tl = labels(tenant.pk)
        if tenant.last_synced_at:
            last_success.add_metric(tl, tenant.last_synced_at.timestamp())
        due = tenant.next_sync_at
        lag.add_metric(tl, max(0.0, (now - due).total_seconds()) if due else 0.0)
        failing.add_metric(tl, 1.0 if tenant.sync_status == SyncStatus.FAILED else 0.0)
    yield last_success
    yield lag
    yield failing

    hour = SyncRun.objects.filter(created_at__gte=now - timedelta(hours=1))
    runs = GaugeMetricFamily("portal_sync_runs_last_hour", "Sync runs created in the last hour, by status.", labels=["status"])
    for row in hour.values("status").annotate(n=Count("id")):
        runs.add_metric([row["status"]], row["n"])
    yield runs

    # Sync duration and NCM calls of the runs finished in the last hour, per tenant and in total.
    finished = hour.filter(finished_at__isnull=False, started_at__isnull=False).annotate(duration=F("finished_at") - F("started_at"))
    calls = GaugeMetricFamily("portal_tenant_sync_api_calls_last_hour",
                              "NCM API calls made by the tenant's sync runs created in the last hour.", labels=TENANT_LABELS)
    longest = GaugeMetricFamily("portal_tenant_sync_duration_seconds_max_last_hour",
                                "The tenant's longest sync run (started to finished) in the last hour.", labels=TENANT_LABELS)
    total_duration, total_runs, total_calls = 0.0, 0, 0
    for row in finished.values("tenant_id").annotate(calls=Sum("api_calls"), longest=Max("duration"),
                                                      total=Sum("duration"), n=Count("id")):
        tl = labels(row["tenant_id"])
        if tl is None:
            continue
        calls.add_metric(tl, row["calls"] or 0)
        longest.add_metric(tl, row["longest"].total_seconds() if row["longest"] else 0.0)
        total_duration += row["total"].total_seconds() if row["total"] else 0.0
        total_runs += row["n"]
        total_calls += row["calls"] or 0
    yield calls
    yield longest
    duration = GaugeMetricFamily("portal_sync_duration_seconds_last_hour",
                                 "Sync runs finished in the last hour: total seconds (sum) and runs (count).", labels=["stat"])
    duration.add_metric(["sum"], total_duration)
    duration.add_metric(["count"], total_runs)
    yield duration
    all_calls = GaugeMetricFamily("portal_sync_api_calls_last_hour", "NCM API calls of sync runs finished in the last hour.")
    all_calls.add_metric([], total_calls)
    yield all_calls

    active = GaugeMetricFamily("portal_sync_runs_active", "Sync runs queued or running now.", labels=["status"])
    for row in SyncRun.objects.filter(status__in=[SyncRunStatus.QUEUED, SyncRunStatus.RUNNING]).values("status").annotate(n=Count("id")):
        active.add_metric([row["status"]], row["n"])
    yield active

    last = dispatcher_last_run()
    dispatcher = GaugeMetricFamily("portal_sync_dispatcher_last_run_timestamp_seconds",
                                   "When the sync dispatcher (beat) last ran (Unix time; 0: not since the cache was emptied).")
    dispatcher.add_metric([], last.timestamp() if last else 0.0)
    yield dispatcher

    yield from _budgets(labels)


def _budgets(labels):
    """Each NCM credential's calls in the current window against its limit (one budget per API key pair,
    shared by every worker: ncm_sync/ratebudget.py), and how often a caller found it exhausted."""
    from accounts.services import credential_secrets

    limits = dict(SyncState.objects.filter(rate_limit_per_minute__isnull=False).values_list("tenant_id", "rate_limit_per_minute"))
    default = int(settings.NCM_RATE_LIMIT_PER_MINUTE)
    rows = []
    for credential in Credential.objects.filter(provider=Provider.NCM).only("pk", "tenant_id", "secrets_encrypted"):
        try:
            key = budget_key_for_secrets(credential_secrets(credential))
        except Exception:  # an undecryptable credential (rotated keys) must not hide the others
            logger.warning("metrics: credential %s could not be read", credential.pk)
            continue
        rows.append((credential, key))
    usage = budget_usage([key for _c, key in rows])
    help_labels = ["tenant", "organization", "credential"]
    used = GaugeMetricFamily("portal_ncm_rate_budget_used_calls",
                             "NCM calls the credential's shared budget admitted in the current window (one minute).", labels=help_labels)
    limit = GaugeMetricFamily("portal_ncm_rate_budget_limit_calls", "The credential's NCM calls allowed per window.", labels=help_labels)
    refused = CounterMetricFamily("portal_ncm_rate_budget_exhausted",
                                  "Times a caller found the credential's budget exhausted and had to wait.", labels=help_labels)
    for credential, key in rows:
        tl = labels(credential.tenant_id)
        if tl is None:
            continue
        cl = [*tl, str(credential.pk)]
        used.add_metric(cl, usage[key][0])
        limit.add_metric(cl, limits.get(credential.tenant_id) or default)
        refused.add_metric(cl, usage[key][1])
    yield used
    yield limit
    yield refused
