"""NCM alert push receiver: the alert-push action, x-cp-signature checks (valid, wrong, missing, replayed,
stale, oversized), idempotent storage shared with the sync, alert.created events."""
from __future__ import annotations

import hashlib
import hmac
import json
import re
import time
import uuid
from datetime import timedelta
from pathlib import Path

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from accounts.models import AuditEvent
from ncm_sync.models import Alert
from tests.fleet import mirrored
from webhooks import alert_push, services
from webhooks.models import AlertPushReceiver, WebhookDelivery
from webhooks.tasks import store_pushed_alerts_task

pytestmark = pytest.mark.django_db


@pytest.fixture
def queued(monkeypatch):
    """Captures the store task instead of sending it to the broker; `queued.run()` executes what was queued."""

    class Queue(list):
        def run(self):
            while self:
                args = self.pop(0)
                store_pushed_alerts_task(*args)

    calls = Queue()
    monkeypatch.setattr(store_pushed_alerts_task, "apply_async", lambda args, **kw: calls.append(args))
    return calls


def _receiver(world, client_for, tenant_index=0):
    admin = world.actor("admin", "org", 0).user
    response = client_for(admin).post(f"/api/v1/tenants/{world.tenants[tenant_index].pk}/alert-push/")
    assert response.status_code in (200, 201), response.content
    data = response.json()
    return data["url"], data["secret"]


def _alert(**fields) -> dict:
    now = timezone.now()
    return {
        "id": fields.pop("id", uuid.uuid4().hex),
        "type": "connection_state",
        "created_at": now.isoformat(),
        "detected_at": now.isoformat(),
        "friendly_info": "Router went offline",
        "info": {"state": "offline"},
        "router": "https://www.cradlepointecm.com/api/v2/routers/4242/",
        "account": "https://www.cradlepointecm.com/api/v2/accounts/77/",
        **fields,
    }


def _post(url: str, body: bytes, signature: str | None):
    headers = {"HTTP_X_CP_SIGNATURE": signature} if signature is not None else {}
    return APIClient().generic("POST", url, body, content_type="application/json", **headers)


def _sign(secret: str, body: bytes) -> str:
    return hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def _push(url, secret, alert: dict | list):
    body = json.dumps(alert).encode()
    return _post(url, body, _sign(secret, body))


#
# The action
#
def test_alert_push_action_creates_then_rotates(world, client_for):
    tenant = world.tenants[0]
    admin = world.actor("admin", "org", 0).user
    first = client_for(admin).post(f"/api/v1/tenants/{tenant.pk}/alert-push/")
    assert first.status_code == 201
    data = first.json()
    assert set(data) >= {"url", "secret"}
    assert re.match(r"^http://testserver/hooks/ncm/[A-Za-z0-9_-]{40,}/$", data["url"])
    assert len(data["secret"]) >= 32
    receiver = AlertPushReceiver.objects.get(tenant=tenant)
    # Neither the URL token nor the secret is stored in clear.
    token = data["url"].rstrip("/").rsplit("/", 1)[-1]
    assert token not in receiver.token_hash and data["secret"] not in receiver.secret_encrypted
    assert AuditEvent.objects.filter(object_id=str(tenant.pk), changes___details__action="alert_push_create").exists()

    second = client_for(admin).post(f"/api/v1/tenants/{tenant.pk}/alert-push/")
    assert second.status_code == 200
    new = second.json()
    assert new["url"] != data["url"] and new["secret"] != data["secret"]
    assert AlertPushReceiver.objects.filter(tenant=tenant).count() == 1
    # The old URL no longer exists; the new one works with the new secret only.
    assert _push(data["url"], data["secret"], _alert()).status_code == 404
    assert _push(new["url"], data["secret"], _alert()).status_code == 401


def test_alert_push_action_needs_credential_rights_and_scope(world, client_for):
    tenant = world.tenants[0]
    for role in ("full_access", "diagnostic", "read_only"):
        for level in ("org", "tenant"):
            user = world.actor(role, level, 0).user
            assert client_for(user).post(f"/api/v1/tenants/{tenant.pk}/alert-push/").status_code == 403, (role, level)
    foreign_admin = world.actor("admin", "org", 1).user
    assert client_for(foreign_admin).post(f"/api/v1/tenants/{tenant.pk}/alert-push/").status_code == 404
    other_tenant_admin = world.actor("admin", "tenant", 1).user
    assert client_for(other_tenant_admin).post(f"/api/v1/tenants/{tenant.pk}/alert-push/").status_code == 404
    assert APIClient().post(f"/api/v1/tenants/{tenant.pk}/alert-push/").status_code in (401, 403)
    assert not AlertPushReceiver.objects.exists()
    # A customer's own admin (tenant-level) may set up its receiver.
    tenant_admin = world.actor("admin", "tenant", 0).user
    assert client_for(tenant_admin).post(f"/api/v1/tenants/{tenant.pk}/alert-push/").status_code == 201


#
# Signature verification
#
def test_valid_signature_is_accepted_fast_and_the_alert_appears_in_the_api(world, client_for, queued):
    url, secret = _receiver(world, client_for)
    alert = _alert()
    started = time.monotonic()
    response = _push(url, secret, alert)
    elapsed = time.monotonic() - started
    assert response.status_code == 202, response.content
    assert response.json() == {"status": "accepted", "alerts": 1}
    assert elapsed < 1.0
    assert not Alert.objects.exists()  # the work is queued, not done in the request
    queued.run()

    admin = world.actor("admin", "org", 0).user
    rows = client_for(admin).get("/api/v1/alerts/", {"tenant": world.tenants[0].pk}).json()["results"]
    assert [r["ncm_id"] for r in rows] == [alert["id"]]
    row = rows[0]
    assert row["type"] == "connection_state" and row["friendly_info"] == "Router went offline"
    assert row["info"] == {"state": "offline"} and row["acknowledged"] is False
    receiver = AlertPushReceiver.objects.get(tenant=world.tenants[0])
    assert receiver.last_received_at is not None and receiver.received_count == 1


@pytest.mark.parametrize("signature", [
    "0" * 64,                                   # wrong
    "",                                         # empty
    "not-hex-at-all",
    "é" * 64,                                   # non-ASCII must not crash compare_digest
])
def test_wrong_signature_is_401_and_stores_nothing(world, client_for, queued, signature):
    url, _secret = _receiver(world, client_for)
    response = _post(url, json.dumps(_alert()).encode(), signature)
    assert response.status_code == 401
    assert response.json() == {"detail": "Missing or invalid x-cp-signature."}
    assert queued == [] and not Alert.objects.exists()
    assert AlertPushReceiver.objects.get(tenant=world.tenants[0]).rejected_count == 1


def test_missing_signature_is_401(world, client_for, queued):
    url, _secret = _receiver(world, client_for)
    assert _post(url, json.dumps(_alert()).encode(), None).status_code == 401
    assert queued == [] and not Alert.objects.exists()


def test_signature_under_another_tenants_secret_or_of_a_tampered_body_is_401(world, client_for, queued):
    url0, secret0 = _receiver(world, client_for, 0)
    _url1, secret1 = _receiver(world, client_for, 1)
    body = json.dumps(_alert()).encode()
    assert _post(url0, body, _sign(secret1, body)).status_code == 401
    tampered = body.replace(b"offline", b"online!")
    assert _post(url0, tampered, _sign(secret0, body)).status_code == 401
    # Upper-case hex and a sha256= prefix are the same signature.
    assert _post(url0, body, "sha256=" + _sign(secret0, body).upper()).status_code == 202
    assert len(queued) == 1


def test_replayed_delivery_is_not_processed_again(world, client_for, queued):
    url, secret = _receiver(world, client_for)
    alert = _alert()
    assert _push(url, secret, alert).status_code == 202
    replay = _push(url, secret, alert)
    assert replay.status_code == 200 and replay.json()["status"] == "duplicate"
    # The same alert in a different envelope (re-serialised, or in a list) is a replay too.
    again = _push(url, secret, [dict(reversed(list(alert.items())))])
    assert again.status_code == 200 and again.json()["status"] == "duplicate"
    assert len(queued) == 1
    queued.run()
    assert Alert.objects.count() == 1


def test_replay_window_is_24_hours(world, client_for, queued):
    from django.core.cache import cache

    url, secret = _receiver(world, client_for)
    alert = _alert(created_at=None, detected_at=None)
    assert _push(url, secret, alert).status_code == 202
    keys = [k for k in cache._cache.get_client().keys("*ncm-alert-push*")]
    assert keys and all(23 * 3600 < cache._cache.get_client().ttl(k) <= 24 * 3600 for k in keys)


def test_stale_alert_is_ignored(world, client_for, queued):
    url, secret = _receiver(world, client_for)
    old = (timezone.now() - alert_push.STALE_AFTER - timedelta(minutes=5)).isoformat()
    response = _push(url, secret, _alert(created_at=old, detected_at=old))
    assert response.status_code == 200 and response.json()["status"] == "stale"
    assert queued == [] and not Alert.objects.exists()
    # A recent alert in the same delivery still gets through; the stale one is dropped.
    response = _push(url, secret, [_alert(created_at=old, detected_at=old), _alert()])
    assert response.status_code == 202 and response.json()["alerts"] == 1


def test_oversized_body_is_413_and_unknown_url_404(world, client_for, queued):
    url, secret = _receiver(world, client_for)
    big = json.dumps(_alert(info={"pad": "x" * alert_push.MAX_BODY_BYTES})).encode()
    assert _post(url, big, _sign(secret, big)).status_code == 413
    assert _push("/hooks/ncm/not-a-real-token/", secret, _alert()).status_code == 404
    assert APIClient().get(url).status_code == 405
    assert queued == []


def test_signed_but_malformed_body_is_400(world, client_for, queued):
    url, secret = _receiver(world, client_for)
    for body in (b"not json", b"[]", b"[1, 2]", b'"text"'):
        assert _post(url, body, _sign(secret, body)).status_code == 400, body
    assert queued == []


def test_broker_down_answers_503_and_ncms_retry_gets_through(world, client_for, monkeypatch):
    url, secret = _receiver(world, client_for)

    def down(*args, **kwargs):
        raise ConnectionError("broker unreachable")

    monkeypatch.setattr(store_pushed_alerts_task, "apply_async", down)
    alert = _alert()
    assert _push(url, secret, alert).status_code == 503
    calls = []
    monkeypatch.setattr(store_pushed_alerts_task, "apply_async", lambda args, **kw: calls.append(args))
    assert _push(url, secret, alert).status_code == 202  # not taken for a replay
    assert len(calls) == 1


def test_digests_are_compared_in_constant_time_only():
    """No `==` on digests or signatures in the receiver code (timing side channel)."""
    source = Path(alert_push.__file__).read_text() + Path(alert_push.__file__).with_name("inbound.py").read_text()
    assert "compare_digest" in source
    for line in source.splitlines():
        if re.search(r"(signature|digest|expected|provided)\w*\s*[!=]=", line):
            raise AssertionError(f"non-constant-time comparison: {line.strip()}")


#
# Idempotent storage, shared with the sync
#
def test_same_alert_twice_is_one_row_and_one_event(world, client_for):
    tenant = world.tenants[0]
    services.webhook_save(url="https://hooks.example.com/in", events=["alert.created"], tenant=tenant)
    obj = _alert()
    first, created = alert_push.store_alert(tenant_id=tenant.pk, obj=obj)
    again, created_again = alert_push.store_alert(tenant_id=tenant.pk, obj=dict(obj, friendly_info="changed"))
    assert created and not created_again and first.pk == again.pk
    assert Alert.objects.filter(tenant=tenant).count() == 1
    (delivery,) = WebhookDelivery.objects.filter(event="alert.created")
    assert delivery.payload["data"]["alert"] == first.pk
    assert delivery.payload["data"]["ncm_id"] == obj["id"] and delivery.payload["data"]["tenant"] == tenant.pk
    # The task re-run (a redelivered message) stores nothing more.
    assert store_pushed_alerts_task(tenant.pk, [obj]) == 0
    assert Alert.objects.count() == 1 and WebhookDelivery.objects.count() == 1


def test_pushed_alert_links_to_the_mirrored_router_and_uses_the_syncs_id(world):
    tenant = world.tenants[0]
    router = mirrored(__import__("ncm_sync.models", fromlist=["Router"]).Router, name="r1")(tenant)
    obj = _alert(router=f"https://www.cradlepointecm.com/api/v2/routers/{router.ncm_id}/")
    alert, _ = alert_push.store_alert(tenant_id=tenant.pk, obj=obj)
    assert alert.router_id == router.pk and alert.ncm_id == Alert.ncm_id_of(obj)
    # An alert the sync already stored (same NCM id) is not stored again by a push.
    synced = mirrored(Alert, type="ipsec_tunnel_down")(tenant)
    _alert_row, created = alert_push.store_alert(tenant_id=tenant.pk, obj=_alert(id=synced.ncm_id))
    assert not created and Alert.objects.filter(tenant=tenant, ncm_id=synced.ncm_id).count() == 1


def test_alert_without_an_id_gets_a_stable_content_id(world):
    tenant = world.tenants[0]
    obj = _alert()
    del obj["id"]
    a, created = alert_push.store_alert(tenant_id=tenant.pk, obj=obj)
    b, created_b = alert_push.store_alert(tenant_id=tenant.pk, obj=dict(reversed(list(obj.items()))))
    assert created and not created_b and a.pk == b.pk and a.ncm_id.startswith("push-")


def test_same_alert_for_two_tenants_is_two_rows(world):
    obj = _alert()
    alert_push.store_alert(tenant_id=world.tenants[0].pk, obj=obj)
    alert_push.store_alert(tenant_id=world.tenants[1].pk, obj=obj)
    assert Alert.objects.filter(ncm_id=obj["id"]).count() == 2


def test_store_waits_while_a_sync_of_the_tenant_runs(world, monkeypatch):
    from celery.exceptions import Retry
    from django.core.cache import cache

    from ncm_sync.services.runs import lock_key

    tenant = world.tenants[0]
    cache.set(lock_key(tenant.pk), 99, 60)
    monkeypatch.setattr(store_pushed_alerts_task, "retry", lambda **kw: Retry("waiting", when=kw.get("countdown")))
    with pytest.raises(Retry):
        store_pushed_alerts_task(tenant.pk, [_alert()])
    assert not Alert.objects.exists()
    cache.delete(lock_key(tenant.pk))
    assert store_pushed_alerts_task(tenant.pk, [_alert()]) == 1


def test_receiver_secret_is_rotated_by_rotate_encryption_keys(world, client_for, settings):
    from cryptography.fernet import Fernet

    from accounts.services import rotate_all_secrets
    from portal.crypto import get_fernet

    url, secret = _receiver(world, client_for)
    before = AlertPushReceiver.objects.get().secret_encrypted
    settings.PORTAL_ENCRYPTION_KEYS = [Fernet.generate_key().decode(), *settings.PORTAL_ENCRYPTION_KEYS]
    get_fernet.cache_clear()
    try:
        assert rotate_all_secrets() >= 1
        receiver = AlertPushReceiver.objects.get()
        assert receiver.secret_encrypted != before
        assert alert_push.receiver_secret(receiver) == secret
    finally:
        settings.PORTAL_ENCRYPTION_KEYS = settings.PORTAL_ENCRYPTION_KEYS[1:]
        get_fernet.cache_clear()
