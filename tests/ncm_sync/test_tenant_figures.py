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
from ncm_sync.services.figures import refresh_tenant_figures
from ncm_sync.services.alerts import alert_acknowledge, alert_unacknowledge, alerts_acknowledge
from tests.factories import make_org, make_tenant, make_user
from tests.fleet import mirror_rows, sim_keys, tenant_on
from webhooks.alert_push import store_alert


def live(tenant) -> dict:
    return selectors.live_tenant_figures(Tenant.objects.filter(pk=tenant.pk)).values(*selectors.STORED_FIGURES).get()


def shown(tenant) -> dict:
    """What the MSP overview reads."""
    return selectors.annotate_tenant_figures(
        Tenant.objects.filter(pk=tenant.pk), selectors.STORED_FIGURES).values(*selectors.STORED_FIGURES).get()


def in_sim(sim) -> dict:
    routers = list(sim.state.tables["routers"].values())
    return {"routers_total": len(routers), "routers_online": sum(r["state"] == "online" for r in routers),
            "routers_offline": sum(r["state"] == "offline" for r in routers)}


def stored(tenant) -> dict:
    return TenantFigures.objects.filter(tenant=tenant).values(*selectors.STORED_FIGURES).get()


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
    assert stored(tenant)["alerts_acknowledged"] == 4 == stored(tenant)["alerts_total"]


@pytest.mark.django_db
def test_unfiltered_alert_counts_read_the_stored_figures_and_equal_the_live_count(client_for):
    """`alerts/counts` with no filter (or `?tenant=`) answers from the stored figures; with a filter it counts
    live. Both say the same, per tenant, for open, acknowledged, events and total; only tenants in scope."""
    org = make_org()
    tenants = [make_tenant(org, name=name) for name in ("Alpha", "Bravo", "Charlie")]
    admin = make_user(org=org, role=Role.ADMIN)
    for index, tenant in enumerate(tenants[:2]):
        mirror_rows(Alert, tenant, 3 + index, type="cpu_utilization")
        mirror_rows(Alert, tenant, 2, type="modem_wan_connected")  # events
    first_problem = Alert.objects.filter(tenant=tenants[0], type="cpu_utilization").order_by("pk").first()
    alerts_acknowledge(queryset=Alert.objects.filter(pk=first_problem.pk), user=admin, source="api")
    outsider = make_tenant(make_org(), name="Outsider")
    mirror_rows(Alert, outsider, 5, type="cpu_utilization")

    client = client_for(admin)
    stored_answer = client.get("/api/v1/alerts/counts/").json()
    live_answer = client.get("/api/v1/alerts/counts/?ordering=id").json()  # any parameter: counted live
    assert stored_answer == live_answer
    assert [row["tenant_name"] for row in stored_answer] == ["Alpha", "Bravo"]  # Charlie has none; Outsider unseen
    assert stored_answer[0] == {"tenant": tenants[0].pk, "tenant_name": "Alpha", "open": 2, "acknowledged": 1,
                                "events": 2, "total": 5}
    one = client.get(f"/api/v1/alerts/counts/?tenant={tenants[1].pk}").json()
    assert one == [stored_answer[1]]
    assert client.get(f"/api/v1/alerts/counts/?tenant={outsider.pk}").json() == []
    assert client.get("/api/v1/alerts/counts/?tenant=x").status_code == 400

    # The unfiltered answer is the stored one: rows written in bulk (as a sync writes them) count from the
    # refresh at the sync's end on, while a filtered answer counts them at once.
    bravo = tenants[1]
    now = timezone.now()
    Alert.objects.bulk_create([Alert(tenant=bravo, ncm_id="bulk-1", data={}, content_hash="x" * 32,
                                     type="cpu_utilization", first_seen_at=now, last_seen_at=now)])

    def totals(query=""):
        return [row["total"] for row in client.get(f"/api/v1/alerts/counts/?tenant={bravo.pk}{query}").json()]

    assert totals() == [6] and totals("&ordering=id") == [7]
    refresh_tenant_figures([bravo.pk])
    assert totals() == [7] == totals("&ordering=id")


@pytest.mark.django_db
def test_a_tenant_never_refreshed_is_counted_live():
    tenant = make_tenant(make_org())
    now = timezone.now()
    Router.objects.bulk_create([  # no signal, no refresh: as rows left by a portal before stored figures
        Router(tenant=tenant, ncm_id=str(i), data={}, content_hash="x" * 32, state="offline", first_seen_at=now,
               last_seen_at=now) for i in range(3)])
    assert not TenantFigures.objects.filter(tenant=tenant).exists()
    assert shown(tenant)["routers_offline"] == 3 == shown(tenant)["routers_total"]
