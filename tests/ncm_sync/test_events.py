"""Outbound events from syncs: router.offline / router.online on state changes, sync.failed on failure."""
from __future__ import annotations

import pytest

from accounts.services import credential_save
from ncm_sync.models import Router
from ncm_sync.services import sync_tenant
from tests.fleet import sim_keys, tenant_on
from webhooks.models import WebhookDelivery
from webhooks.services import webhook_save


@pytest.mark.django_db(transaction=True)
def test_router_state_changes_and_failed_syncs_are_announced(sims):
    sim = sims.start(routers=20, seed=31, keys=sim_keys("ev"))
    tenant = tenant_on(sim)
    webhook_save(url="https://hooks.example.com/in", tenant=tenant,
                 events=["router.offline", "router.online", "sync.failed"])
    assert sync_tenant(tenant_id=tenant.pk).status == "succeeded"
    assert not WebhookDelivery.objects.exists()  # a first sync announces no transitions

    online = Router.objects.filter(tenant=tenant, state="online").first()
    offline = Router.objects.filter(tenant=tenant, state="offline").first()
    sim.update_router(online.ncm_id, state="offline")
    sim.update_router(offline.ncm_id, state="online")
    assert sync_tenant(tenant_id=tenant.pk).status == "succeeded"
    events = {(d.event, d.payload["data"]["router"]) for d in WebhookDelivery.objects.all()}
    assert events == {("router.offline", online.pk), ("router.online", offline.pk)}

    from accounts.models import Credential

    credential = Credential.objects.get(tenant=tenant)
    credential_save(tenant=tenant, provider="ncm", base_url=credential.base_url,
                    secrets_in={"cp_api_key": "tsecret-wrong-key-0123456789"}, credential=credential)
    run = sync_tenant(tenant_id=tenant.pk)
    assert run.status == "failed"
    failed = WebhookDelivery.objects.get(event="sync.failed")
    assert failed.payload["data"]["sync_run"] == run.pk and "rejected" in failed.payload["data"]["error"].lower()
