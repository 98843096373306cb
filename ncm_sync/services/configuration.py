"""Routers' configuration managers fetched from NCM on demand.

Only full syncs list configuration managers (a scheduled sync is full every NCM_FULL_SYNC_MINUTES, a requested one
always: `runs.plan_sync`); the pages and endpoints that show or use them (the router page, the configuration API,
the config-push preview, a finished job) call `refresh_configuration_managers` first, which asks NCM for the
managers of the routers whose copy is older than the tenant's sync interval (one call per 100 routers, within the
credential's rate budget) and stores them. NCM unreachable: the copy already held is shown, with its age and the
reason (`ConfigurationFreshness`), never an error page.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Iterable

from django.conf import settings
from django.db.models import Max
from django.utils import timezone

from accounts.models import Credential, Provider, Tenant
from ncm_sync.client import NcmError, client_for_credential
from ncm_sync.models import ConfigurationManager, Router, SyncState
from ncm_sync.ratebudget import RateBudgetTimeout
from ncm_sync.services.sync import content_hash

__all__ = ["ConfigurationFreshness", "refresh_configuration_managers", "store_configuration_managers"]

logger = logging.getLogger(__name__)
BATCH = 100  # routers per `router__in` call


@dataclass
class ConfigurationFreshness:
    """What a caller shows beside the configuration: how many routers were fetched now, and if NCM could not be
    asked, why and how old the copy shown is."""

    fetched: int = 0
    error: str = ""
    as_of: datetime | None = None

    @property
    def message(self) -> str:
        if not self.error:
            return ""
        when = f" (as of {timezone.localtime(self.as_of):%Y-%m-%d %H:%M})" if self.as_of else ""
        return f"Configuration shown from the portal's copy{when}: NCM could not be asked ({self.error})."


def _stale_routers(tenant: Tenant, routers: list[Router], now: datetime) -> tuple[list[Router], datetime | None]:
    """Routers whose manager copy is older than the tenant's sync interval: not listed completely since, and not
    fetched on demand since."""
    cutoff = now - timedelta(minutes=max(tenant.sync_interval_minutes, 1))
    listed_at = SyncState.objects.filter(tenant=tenant).values_list("full_sync_at", flat=True).first()
    if settings.NCM_FULL_SYNC_MINUTES <= 0 or (listed_at is not None and listed_at >= cutoff):
        return [], listed_at
    seen = dict(
        ConfigurationManager.objects.filter(tenant=tenant, router__in=routers, deleted_at__isnull=True)
        .order_by().values("router_id").annotate(seen=Max("last_seen_at")).values_list("router_id", "seen")
    )
    stale = [r for r in routers if seen.get(r.pk) is None or seen[r.pk] < cutoff]
    oldest = min([seen[r.pk] for r in stale if seen.get(r.pk)] + ([listed_at] if listed_at else []), default=None)
    return stale, oldest


def refresh_configuration_managers(*, tenant: Tenant, routers: Iterable[Router]) -> ConfigurationFreshness:
    """Fetch from NCM the configuration managers of those `routers` (of `tenant`) whose copy is stale, and store
    them. Never raises for NCM failures: the result says what happened."""
    routers = [r for r in routers if r.tenant_id == tenant.pk and r.deleted_at is None]
    now = timezone.now()
    stale, as_of = _stale_routers(tenant, routers, now)
    result = ConfigurationFreshness(as_of=as_of)
    if not stale:
        return result
    credential = Credential.objects.filter(tenant=tenant, provider=Provider.NCM).first()
    if credential is None:
        result.error = "the tenant has no NCM credential"
        return result
    managers = []
    try:
        with client_for_credential(credential) as client:
            ids = [r.ncm_id for r in stale]
            for start in range(0, len(ids), BATCH):
                managers += client.list("configuration_managers", router__in=ids[start:start + BATCH])
    except (NcmError, RateBudgetTimeout) as exc:
        result.error = getattr(exc, "message", "") or str(exc) or type(exc).__name__
        logger.info("configuration managers of tenant %s not refreshed: %s", tenant.pk, result.error)
        return result
    result.fetched = store_configuration_managers(tenant_id=tenant.pk, managers=managers,
                                                  routers={r.ncm_id: r.pk for r in stale}, now=now)
    return result


def store_configuration_managers(*, tenant_id: int, managers: list[dict], routers: dict[str, int], now=None) -> int:
    """Upsert configuration managers NCM returned for `routers` (NCM id -> portal id), marked seen now."""
    now = now or timezone.now()
    written = 0
    for obj in managers:
        columns = ConfigurationManager.columns(obj)
        router_pk = routers.get(columns["router_ncm_id"])
        if not obj.get("id") or router_pk is None:
            continue
        values = {"data": obj, "content_hash": content_hash(obj), "last_seen_at": now, "deleted_at": None,
                  **columns, "router_id": router_pk}
        ConfigurationManager.objects.update_or_create(
            tenant_id=tenant_id, ncm_id=str(obj["id"]), defaults=values, create_defaults={**values, "first_seen_at": now},
        )
        written += 1
    return written
