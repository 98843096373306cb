"""Reads for pages. Everything starts from `Model.objects.for_user(user, action)`; mirror figures come from
`ncm_sync.selectors` (the API's too), and table filters from the app's FilterSet (`filterset_filters`)."""
from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import timedelta

import django_filters
from django.http import QueryDict
from django.utils import timezone

from accounts.models import SyncStatus, Tenant
from accounts.roles import Action
from ncm_sync.selectors import annotate_tenant_figures

__all__ = ["is_stale", "overview_tenants", "stale_tenant_ids", "filterset_filters", "SYNC_STATUS_FILTERS"]


def is_stale(tenant: Tenant, now=None) -> bool:
    """Data is stale when the tenant never synced or its last success is older than two intervals (+5 min)."""
    return _stale(tenant.last_synced_at, tenant.sync_interval_minutes, now or timezone.now())


def _stale(last_synced_at, interval_minutes, now) -> bool:
    return last_synced_at is None or now - last_synced_at > timedelta(minutes=2 * interval_minutes + 5)


def overview_tenants(user):
    """Tenants in scope with the figures the MSP overview shows (`ncm_sync.selectors.annotate_tenant_figures`)."""
    return annotate_tenant_figures(Tenant.objects.for_user(user, Action.VIEW).select_related("organization"))


def stale_tenant_ids(qs) -> list[int]:
    now = timezone.now()
    return [pk for pk, last, interval in qs.values_list("id", "last_synced_at", "sync_interval_minutes") if _stale(last, interval, now)]


SYNC_STATUS_FILTERS = {s.value for s in SyncStatus}


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
