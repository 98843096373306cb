"""Alert push and the periodic alert sync together, against the NCM simulator: one row per alert whichever
arrives first, the sync fills what the push missed, and alert.created fires once per new alert."""
from __future__ import annotations

import hashlib
import hmac
import json

import pytest
from rest_framework.test import APIClient

from ncm_sync.models import Alert
from ncm_sync.services import sync_tenant
from tests.fleet import sim_keys, tenant_on
from webhooks import alert_push, services
from webhooks.models import WebhookDelivery
from webhooks.tasks import deliver_webhook_task, store_pushed_alerts_task


def _push(url: str, secret: str, alert: dict):
    body = json.dumps(alert).encode()
    signature = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return APIClient().generic("POST", url, body, content_type="application/json", HTTP_X_CP_SIGNATURE=signature)


@pytest.mark.django_db(transaction=True)
def test_push_and_sync_store_each_alert_once(sims, monkeypatch):  # noqa: F811
    monkeypatch.setattr(deliver_webhook_task, "delay", lambda *a, **k: None)
    monkeypatch.setattr(store_pushed_alerts_task, "apply_async", lambda args, **kw: store_pushed_alerts_task(*args))
    sim = sims.start(routers=15, seed=21, keys=sim_keys("push"))
    tenant = tenant_on(sim)
    services.webhook_save(url="https://hooks.example.com/in", events=["alert.created"], tenant=tenant)
    receiver, token, secret = alert_push.receiver_rotate(tenant=tenant)
    url = f"/hooks/ncm/{token}/"

    first = sync_tenant(tenant_id=tenant.pk)
    assert first.status == "succeeded", first.error
    backfilled = Alert.objects.filter(tenant=tenant).count()
    assert backfilled == len(sim.state.alerts) > 0
    assert not WebhookDelivery.objects.exists()  # the first listing is history, not news

    # NCM pushes an alert it already listed: nothing new.
    with sim.state.lock:
        known = dict(sim.state.alerts[0])
    assert _push(url, secret, known).status_code == 202
    assert Alert.objects.filter(tenant=tenant).count() == backfilled

    # A new alert arrives by push first, then the sync lists it: still one row, one event.
    router_id = next(iter(sim.state.tables["routers"]))
    pushed = sim.add_alert(router_id, type="ipsec_tunnel_down")
    assert _push(url, secret, pushed).status_code == 202
    missed = sim.add_alert(router_id, type="connection_state", info={"state": "offline"})  # the push was lost
    run = sync_tenant(tenant_id=tenant.pk)
    assert run.status == "succeeded", run.error
    assert Alert.objects.filter(tenant=tenant).count() == backfilled + 2
    for alert in (pushed, missed):
        assert Alert.objects.filter(tenant=tenant, ncm_id=alert["created_at_timeuuid"]).count() == 1
    events = {d.payload["data"]["ncm_id"] for d in WebhookDelivery.objects.filter(event="alert.created")}
    assert events == {pushed["created_at_timeuuid"], missed["created_at_timeuuid"]}
    assert WebhookDelivery.objects.count() == 2
    row = Alert.objects.get(tenant=tenant, ncm_id=pushed["created_at_timeuuid"])
    assert row.router is not None and row.router.ncm_id == str(router_id)
