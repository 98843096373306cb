"""Licences from NCM API v3 (ncm_sim's JSON:API subscriptions and asset_endpoints): cursor paging to the end,
a failed page changes nothing, routers matched, `/api/v1/licences/`, and `licence.expiring` once per end date."""
from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from accounts.services import credential_save
from history.licences import sync_licences, tenants_with_v3_token
from history.models import Licence, Subscription
from history.selectors import licence_expiry_counts
from ncm_sim import v3 as sim_v3
from ncm_sync.client import NcmError
from ncm_sync.models import Router
from ncm_sync.services import sync_tenant
from portal.events import domain_event
from tests.fleet import sim_keys, tenant_on

pytestmark = pytest.mark.django_db(transaction=True)


def _v3_tenant(sims, routers=120, seed=31):
    sim = sims.start(routers=routers, seed=seed, keys=sim_keys(f"v{seed}"), v3_token=f"tsecret-v3-token-{seed}-0123456789")
    tenant = tenant_on(sim)
    from accounts.models import Credential

    credential_save(tenant=tenant, provider="ncm", base_url=sim.base_url, secrets_in={"api_token": sim.v3_token},
                    credential=Credential.objects.get(tenant=tenant, provider="ncm"))
    sync_tenant(tenant_id=tenant.pk)
    return sim, tenant


def test_v3_sync_pages_to_the_end_and_matches_routers(sims):
    sim, tenant = _v3_tenant(sims)
    events = []

    def receiver(sender, tenant, event, data, **kw):
        events.append((event, data))

    domain_event.connect(receiver, dispatch_uid="test-licences")
    try:
        sim.state.calls.clear()
        counts = sync_licences(tenant)
        assert counts["licences"] == 120 and counts["subscriptions"] == len(sim_v3.SUBSCRIPTION_PLANS)
        # 120 assets at page[size]=50: 3 pages, each a request (JSON:API links.next followed to its end).
        assert Licence.objects.filter(tenant=tenant).count() == 120
        assert set(Licence.objects.filter(tenant=tenant).values_list("ncm_id", flat=True)) == {
            a["id"] for a in sim_v3.asset_endpoints(sim.state)}
        # Every licence is matched to its mirrored router and carries its subscription's end date.
        for lic in Licence.objects.filter(tenant=tenant).select_related("router", "subscription"):
            assert lic.router is not None and lic.ncm_id == f"ae-{lic.router.ncm_id}"
            assert lic.end_time == lic.subscription.end_time
        assert tenants_with_v3_token() == [tenant.pk]
        # licence.expiring: the subscription ending in 20 days (within 30), once.
        expiring = [d for e, d in events if e == "licence.expiring"]
        assert [d["name"] for d in expiring] == ["NetCloud Branch Essentials"] and expiring[0]["devices"] > 0
        sync_licences(tenant)
        assert len([e for e, _ in events if e == "licence.expiring"]) == 1
    finally:
        domain_event.disconnect(dispatch_uid="test-licences")
    counts = licence_expiry_counts(Licence.objects.filter(tenant=tenant))
    assert counts[30] > 0 and counts[60] > counts[30] and counts[90] > counts[60] and counts["expired"] > 0


def test_v3_failed_page_changes_nothing(sims, monkeypatch):
    sim, tenant = _v3_tenant(sims, routers=80, seed=32)
    sync_licences(tenant)
    before = set(Licence.objects.filter(tenant=tenant).values_list("ncm_id", "end_time"))
    real = sim_v3.handle
    state = {"n": 0}

    def flaky(fleet, token, method, raw_path, headers, host):
        if "asset_endpoints" in raw_path and "page%5Bafter%5D" in raw_path:
            return 503, {"errors": [{"status": "503", "title": "Unavailable"}]}
        state["n"] += 1
        return real(fleet, token, method, raw_path, headers, host)

    monkeypatch.setattr("ncm_sim.v3.handle", flaky)
    sim.state.tables["routers"].pop(next(iter(sim.state.tables["routers"])))
    with pytest.raises(NcmError):
        sync_licences(tenant)
    assert set(Licence.objects.filter(tenant=tenant).values_list("ncm_id", "end_time")) == before


def test_no_token_no_v3_calls_and_api(sims, client_for, world):
    sim = sims.start(routers=5, seed=33, keys=sim_keys("v33"))
    tenant = tenant_on(sim)
    assert sync_licences(tenant) == {}
    # The API lists licences with their status and filters by expiry.
    from tests.history.specs import _licence

    own = _licence(world.tenants[0])
    _licence(world.tenants[-1])
    Licence.objects.filter(pk=own.pk).update(end_time=timezone.now() + timedelta(days=20, hours=1))
    client = client_for(world.actor("read_only", "tenant", 0).user)
    rows = client.get("/api/v1/licences/").json()["results"]
    assert [r["id"] for r in rows] == [own.pk]
    assert rows[0]["status"] == "expiring" and rows[0]["days_left"] == 20 and rows[0]["subscription_name"] == "NCE"
    assert client.get("/api/v1/licences/", {"expiring_within": 10}).json()["count"] == 0
    assert client.get("/api/v1/licences/", {"expiring_within": 30}).json()["count"] == 1
    assert client.get("/api/v1/licences/", {"expiring_within": "soon"}).status_code == 400
    assert Subscription.objects.count() >= 2 and Router.objects.exists()
