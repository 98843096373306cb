"""The MSP overview's stored per-tenant figures (`TenantFigures`) always equal the live counts the tenant pages
show: after a sync against the simulator (creates, state changes, deletions), an alert pushed, acknowledged,
reopened or acknowledged in bulk, and for a tenant never refreshed (counted live)."""
from __future__ import annotations

import pytest
from django.utils import timezone

from accounts.models import Tenant
from accounts.roles import Role
from ncm_sync import selectors
from ncm_sync.models import Alert, Router, TenantFigures
from ncm_sync.services import sync_tenant
from ncm_sync.services.alerts import alert_acknowledge, alert_unacknowledge, alerts_acknowledge
from tests.factories import make_org, make_tenant, make_user
from tests.fleet import mirror_rows, sim_keys, tenant_on
from webhooks.alert_push import store_alert


def live(tenant) -> dict:
    return selectors.live_tenant_figures(Tenant.objects.filter(pk=tenant.pk)).values(*selectors.TENANT_FIGURES).get()


def shown(tenant) -> dict:
    """What the MSP overview reads."""
    return selectors.annotate_tenant_figures(Tenant.objects.filter(pk=tenant.pk)).values(*selectors.TENANT_FIGURES).get()


def in_sim(sim) -> dict:
    routers = list(sim.state.tables["routers"].values())
    return {"routers_total": len(routers), "routers_online": sum(r["state"] == "online" for r in routers),
            "routers_offline": sum(r["state"] == "offline" for r in routers)}


def stored(tenant) -> dict:
    return TenantFigures.objects.filter(tenant=tenant).values(*selectors.TENANT_FIGURES).get()


@pytest.mark.django_db(transaction=True)
def test_figures_follow_every_sync(sims):
    sim = sims.start(routers=40, seed=31, keys=sim_keys("fig"))
    tenant = tenant_on(sim)
    assert not TenantFigures.objects.filter(tenant=tenant).exists()
    assert sync_tenant(tenant_id=tenant.pk).status == "succeeded"
    first = stored(tenant)
    assert first == live(tenant) == shown(tenant)
    assert first == {**first, **in_sim(sim)}

    ids = sorted(sim.state.tables["routers"])
    online = [rid for rid in ids if sim.state.tables["routers"][rid]["state"] == "online"]
    sim.delete_router(online[1])
    sim.update_router(online[0], state="offline")
    sim.create_router(name="Brand new")
    sim.add_alert(online[0], type="connection_state")
    assert sync_tenant(tenant_id=tenant.pk).status == "succeeded"
    after = stored(tenant)
    assert after == live(tenant) == shown(tenant)
    assert after == {**after, **in_sim(sim)}
    assert after["routers_total"] == 40 and after["routers_offline"] == first["routers_offline"] + 1


@pytest.mark.django_db
def test_figures_follow_alert_push_and_acknowledgements():
    tenant = make_tenant(make_org())
    admin = make_user(org=tenant.organization, role=Role.ADMIN)
    router, = mirror_rows(Router, tenant, 1, state="online")
    assert stored(tenant)["routers_total"] == 1

    alert, created = store_alert(tenant_id=tenant.pk, obj={
        "created_at_timeuuid": "f2a4c7a0-0000-11ee-8000-000000000001", "type": "ipsec_tunnel_down",
        "router": f"https://www.cradlepointecm.com/api/v2/routers/{router.ncm_id}/", "info": {},
    })
    assert created and stored(tenant)["alerts_open"] == 1 == live(tenant)["alerts_open"]
    alert_acknowledge(alert=alert, user=admin)
    assert stored(tenant)["alerts_open"] == 0 == live(tenant)["alerts_open"]
    alert_unacknowledge(alert=alert, user=admin)
    assert stored(tenant)["alerts_open"] == 1 == live(tenant)["alerts_open"]
    mirror_rows(Alert, tenant, 3, type="cpu_utilization")
    assert stored(tenant)["alerts_open"] == 4
    assert alerts_acknowledge(queryset=Alert.objects.filter(tenant=tenant), user=admin, source="api") == 4
    assert stored(tenant) == live(tenant) == shown(tenant)
    assert stored(tenant)["alerts_open"] == 0


@pytest.mark.django_db
def test_a_tenant_never_refreshed_is_counted_live():
    tenant = make_tenant(make_org())
    now = timezone.now()
    Router.objects.bulk_create([  # no signal, no refresh: as rows left by a portal before stored figures
        Router(tenant=tenant, ncm_id=str(i), data={}, content_hash="x" * 32, state="offline", first_seen_at=now,
               last_seen_at=now) for i in range(3)])
    assert not TenantFigures.objects.filter(tenant=tenant).exists()
    assert shown(tenant)["routers_offline"] == 3 == shown(tenant)["routers_total"]
