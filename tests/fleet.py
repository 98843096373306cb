"""Shared test data for the NCM side, in one place: tenants on a simulator, and mirrored rows written
directly (as a sync would). Fixtures using them (`sims`, `_fast_retries`) live in tests/conftest.py."""
from __future__ import annotations

import itertools
from datetime import timedelta

from django.utils import timezone

from accounts.services import credential_save
from ncm_sync.models import Alert, ConfigurationManager, Group, Location, NetDevice, NetDeviceHealth, NetDeviceMetrics, Router
from tests.factories import make_org, make_tenant

__all__ = ["KEY_FIELDS", "tenant_on", "sim_keys", "mirror_row", "mirror_rows", "mirrored", "make_fleet"]

KEY_FIELDS = {"cp_api_id": "X-CP-API-ID", "cp_api_key": "X-CP-API-KEY", "ecm_api_id": "X-ECM-API-ID", "ecm_api_key": "X-ECM-API-KEY"}
_ncm_ids = itertools.count(900_000)


def tenant_on(sim, org=None, name=None, **fields):
    """A tenant whose NCM credential points at `sim` (an ncm_sim simulator)."""
    from ncm_sync.models import SyncState

    tenant = make_tenant(org or make_org(), name, **fields)
    credential_save(
        tenant=tenant, provider="ncm", base_url=sim.base_url,
        secrets_in={name: sim.keys[header] for name, header in KEY_FIELDS.items()},
    )
    SyncState.objects.get_or_create(tenant=tenant)
    return tenant


def sim_keys(tag: str) -> dict:
    """Per-simulator API keys marked as test secrets (any leak fails the suite)."""
    return {header: f"tsecret-{tag}-{header.lower()}-0123456789" for header in KEY_FIELDS.values()}


def _row(model, tenant, ncm_id, data, fields):
    now = timezone.now()
    ncm_id = str(ncm_id if ncm_id is not None else next(_ncm_ids))
    return model(tenant=tenant, ncm_id=ncm_id, data={"id": ncm_id, **(data or {})}, content_hash="x" * 32,
                 first_seen_at=now, last_seen_at=now, **fields)


def mirror_row(model, tenant, ncm_id=None, *, data: dict | None = None, **fields):
    """One mirrored NCM row (any mirror model), saved."""
    row = _row(model, tenant, ncm_id, data, fields)
    row.save()
    return row


def mirror_rows(model, tenant, count: int, *, data: dict | None = None, **fields) -> list:
    """`count` mirrored rows in one INSERT (the overview's stored figures refreshed after it, as a sync does)."""
    from ncm_sync.services.figures import refresh_tenant_figures

    rows = model.objects.bulk_create([_row(model, tenant, None, data, fields) for _ in range(count)])
    refresh_tenant_figures([tenant.pk])
    return rows


def mirrored(model, **columns):
    """A Spec `make` (tests/api_specs.py): one mirrored row of `model` in the given tenant."""
    return lambda tenant: mirror_row(model, tenant, data=columns, **columns)


def make_fleet(tenant, *, prefix: str = "rtr", base: int = 1000):
    """Four routers: two online (one with poor modem + alert), one offline, one with outdated firmware."""
    group = mirror_row(Group, tenant, base, name=f"{prefix}-stores", product="IBR900", firmware="7.24.10",
                    data={"configuration": [{"system": {"system_id": "store-${id}", "timezone": "UTC"},
                                             "wlan": {"radio": {"0": {"bss": {"0": {"ssid": "Store", "wpapsk": "hunter2"}}}}}}, []]})
    routers = []
    specs = [("alpha", "online", "7.24.10"), ("bravo", "online", "7.24.10"), ("charlie", "offline", "7.24.10"),
             ("delta", "online", "7.22.0")]
    for i, (name, state, firmware) in enumerate(specs):
        r = mirror_row(Router, tenant, base + i, name=f"{prefix}-{name}", state=state, product="IBR900", firmware=firmware,
                    serial_number=f"SN{base + i}", mac=f"00:30:44:00:{i:02x}:01", group=group,
                    state_updated_at=timezone.now() - timedelta(hours=i))
        modem = mirror_row(NetDevice, tenant, base * 10 + i, name="mdm-int1", mode="wan", type="mdm", router=r,
                        carrier=["Verizon", "AT&T", "T-Mobile", "Verizon"][i], connection_state="connected")
        category, score = [("excellent", 90), ("poor", 12), ("fair", 40), ("good", 60)][i]
        mirror_row(NetDeviceHealth, tenant, base * 10 + i, net_device=modem, cellular_health_score=score,
                cellular_health_category=category)
        mirror_row(NetDeviceMetrics, tenant, base * 10 + i, net_device=modem, rsrp=-80.0 - i * 10, rsrq=-9.5, sinr=12.0 - i,
                signal_strength=score, dbm=-60 - i)
        routers.append(r)
    mirror_row(ConfigurationManager, tenant, base, router=routers[0], synched=True,
            data={"configuration": [{"system": {"system_id": "alpha-custom"}}, [["system", "timezone"]]]})
    mirror_row(Location, tenant, base, router=routers[0], latitude=41.88, longitude=-87.63, accuracy=10)
    mirror_row(Alert, tenant, base, router=routers[1], type="connection_state", ncm_created_at=timezone.now(),
            friendly_info=f"{prefix}-bravo went offline")
    return routers
