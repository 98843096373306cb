"""Reads for pages. Everything starts from `Model.objects.for_user(user, action)`; mirror figures come from
`ncm_sync.selectors` (the API's too), and table filters from the app's FilterSet (`filterset_filters`)."""
from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import timedelta

import django_filters
from django.db import connection
from django.db.models import DurationField, ExpressionWrapper, F, Q, Value
from django.http import QueryDict
from django.utils import timezone

from accounts.models import SyncStatus, Tenant
from accounts.roles import Action
from ncm_sync.selectors import annotate_tenant_figures

__all__ = ["is_stale", "stale_q", "overview_tenants", "stale_tenant_ids", "first_sync_pending", "first_sync_notice", "filterset_filters",
           "SYNC_STATUS_FILTERS"]


def is_stale(tenant: Tenant, now=None) -> bool:
    """Data is stale when the tenant never synced or its last success is older than two intervals (+5 min)."""
    return _stale(tenant.last_synced_at, tenant.sync_interval_minutes, now or timezone.now())


def _stale(last_synced_at, interval_minutes, now) -> bool:
    return last_synced_at is None or now - last_synced_at > timedelta(minutes=2 * interval_minutes + 5)


def overview_tenants(user):
    """Tenants in scope with the figures the MSP overview shows (`ncm_sync.selectors.annotate_tenant_figures`),
    plus their ecCloud devices (`eccloud_devices`, a subquery: no extra query)."""
    from django.db.models import Count, IntegerField, OuterRef, Subquery
    from django.db.models.functions import Coalesce

    from devices.models import Device

    eccloud = (Device.objects.filter(tenant=OuterRef("pk"), provider="eccloud", deleted_at__isnull=True).order_by()
               .values("tenant").annotate(n=Count("id")).values("n"))
    return annotate_tenant_figures(Tenant.objects.for_user(user, Action.VIEW).select_related("organization")).annotate(
        eccloud_devices=Coalesce(Subquery(eccloud, output_field=IntegerField()), 0))


def stale_q(now=None) -> Q:
    """`is_stale` in SQL (filters and counts in the database, not a loop over every tenant in Python)."""
    now = now or timezone.now()
    if connection.vendor != "postgresql":
        # SQLite (the demo) cannot multiply a duration: one condition per interval in use (a few at most).
        q = Q(last_synced_at__isnull=True)
        for minutes in Tenant.objects.order_by().values_list("sync_interval_minutes", flat=True).distinct():
            q |= Q(sync_interval_minutes=minutes, last_synced_at__lt=now - timedelta(minutes=minutes * 2 + 5))
        return q
    limit = ExpressionWrapper(F("sync_interval_minutes") * timedelta(minutes=2) + timedelta(minutes=5), output_field=DurationField())
    return Q(last_synced_at__isnull=True) | Q(last_synced_at__lt=Value(now) - limit)


def stale_tenant_ids(qs) -> list[int]:
    return list(qs.filter(stale_q()).order_by().values_list("id", flat=True))


SYNC_STATUS_FILTERS = {s.value for s in SyncStatus}


def first_sync_pending(tenants) -> int:
    """How many of `tenants` (a queryset) have never synced and have a sync queued or running: their figures
    are zeros only because the first sync from NCM has not finished yet."""
    return tenants.filter(last_synced_at__isnull=True, sync_status__in=[SyncStatus.QUEUED, SyncStatus.RUNNING]).count()


def first_sync_notice(request, tenants) -> dict:
    """Context for ui/_first_sync.html: while first syncs are on their way the notice polls the page (`watch=first`)
    and swaps in fresh figures; the poll after the last one finished says so and stops."""
    pending = first_sync_pending(tenants)
    params = request.GET.copy()
    params["watch"] = "first"
    return {"first_sync_pending": pending, "first_sync_done": not pending and request.GET.get("watch") == "first",
            "first_sync_poll": f"{request.path}?{params.urlencode()}"}


def filterset_filters(filterset_class, names: Iterable[str] | dict[str, str]) -> dict[str, Callable]:
    """Table filters (`DataTable(filters=...)`) that apply the API's FilterSet: `{"state": ...}` filters the
    table with the FilterSet's `state` filter, exactly as `?state=` does in the API. A dict maps the page's
    parameter to the FilterSet's (`{"in_group": "group"}`). A value the FilterSet refuses filters nothing."""
    mapping = dict(names) if isinstance(names, dict) else {name: name for name in names}

    def make(param: str) -> Callable:
        boolean = isinstance(filterset_class.base_filters[param], django_filters.BooleanFilter)

        def apply(queryset, value):
            data = QueryDict(mutable=True)
            if boolean:  # the pages' links say ?outdated=1; the API says true/false
                value = {"1": "true", "0": "false"}.get(value, value)
            data.setlist(param, [value])
            return filterset_class(data, queryset=queryset).qs

        return apply

    return {page_param: make(fs_param) for page_param, fs_param in mapping.items()}
