"""Outbound webhooks: Standard Webhooks signatures, retries with a delivery log, auto-disable, SSRF refusal."""
from __future__ import annotations

import json
import socket
from datetime import timedelta

import pytest
from django.utils import timezone
from standardwebhooks import Webhook as StandardWebhook

from webhooks import services
from webhooks.models import DeliveryStatus, WebhookDelivery
from tests.helpers.receiver import Receiver

pytestmark = pytest.mark.django_db


def _subscribe(world, url, events=("sync.failed",), tenant_index=0):
    return services.webhook_save(url=url, events=list(events), tenant=world.tenants[tenant_index])


def _verify(secret: str, request) -> dict:
    return StandardWebhook(secret).verify(request.body, {k.lower(): v for k, v in request.headers.items()})


def test_delivery_is_signed_per_standard_webhooks(world):
    with Receiver() as receiver:
        webhook, secret = _subscribe(world, receiver.url)
        (delivery,) = services.emit_event(tenant=world.tenants[0], event="sync.failed", data={"run": 7})
        services.attempt_delivery(delivery.pk)
    assert len(receiver.requests) == 1
    payload = _verify(secret, receiver.requests[0])
    assert payload["type"] == "sync.failed" and payload["data"]["run"] == 7
    assert receiver.requests[0].headers["webhook-id"] == delivery.msg_id
    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.SUCCEEDED and delivery.response_code == 200 and delivery.attempts == 1


def test_events_reach_only_matching_subscriptions_in_scope(world):
    with Receiver() as receiver:
        _subscribe(world, receiver.url, events=["job.finished"], tenant_index=0)
        other_tenant, _ = _subscribe(world, receiver.url, events=["sync.failed"], tenant_index=1)
        org_wide, _ = services.webhook_save(url=receiver.url, events=["sync.failed"], organization=world.orgs[0])
        deliveries = services.emit_event(tenant=world.tenants[0], event="sync.failed", data={})
    assert [d.webhook_id for d in deliveries] == [org_wide.pk]


def test_failing_receiver_is_retried_then_accepts_and_the_log_shows_it(world, time_machine):
    with Receiver(statuses=[500, 503, 200]) as receiver:
        webhook, secret = _subscribe(world, receiver.url)
        (delivery,) = services.emit_event(tenant=world.tenants[0], event="sync.failed", data={})
        services.attempt_delivery(delivery.pk)
        _verify(secret, receiver.requests[-1])
        delivery.refresh_from_db()
        assert delivery.status == DeliveryStatus.RETRYING and delivery.attempts == 1 and delivery.response_code == 500
        assert services.attempt_delivery(delivery.pk) is None  # not due yet: nothing sent
        assert len(receiver.requests) == 1
        for _ in range(2):
            time_machine.move_to(delivery.next_attempt_at + timedelta(seconds=1))
            assert delivery.pk in services.due_deliveries()
            services.attempt_delivery(delivery.pk)
            _verify(secret, receiver.requests[-1])  # each attempt signed with its own timestamp
            delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.SUCCEEDED and delivery.attempts == 3
    assert len({r.headers["webhook-id"] for r in receiver.requests}) == 1
    webhook.refresh_from_db()
    assert webhook.consecutive_failures == 0 and webhook.enabled


def test_retry_after_is_honoured(world):
    with Receiver(statuses=[429], extra_headers={"Retry-After": "3600"}) as receiver:
        _subscribe(world, receiver.url)
        (delivery,) = services.emit_event(tenant=world.tenants[0], event="sync.failed", data={})
        services.attempt_delivery(delivery.pk)
    delivery.refresh_from_db()
    assert delivery.next_attempt_at - timezone.now() >= timedelta(minutes=59)


def test_subscription_that_keeps_failing_is_disabled_and_says_so(world, time_machine):
    with Receiver(statuses=[500]) as receiver:
        webhook, _ = _subscribe(world, receiver.url)
        for _ in range(services.DISABLE_AFTER_FAILED_DELIVERIES):
            (delivery,) = services.emit_event(tenant=world.tenants[0], event="sync.failed", data={})
            while True:
                services.attempt_delivery(delivery.pk)
                delivery.refresh_from_db()
                if delivery.status == DeliveryStatus.FAILED:
                    break
                time_machine.move_to(delivery.next_attempt_at + timedelta(seconds=1))
            assert delivery.attempts == services.MAX_ATTEMPTS
    webhook.refresh_from_db()
    assert not webhook.enabled
    assert "failed every retry" in webhook.disabled_reason
    assert services.emit_event(tenant=world.tenants[0], event="sync.failed", data={}) == []


def test_410_disables_at_once(world):
    with Receiver(statuses=[410]) as receiver:
        webhook, _ = _subscribe(world, receiver.url)
        (delivery,) = services.emit_event(tenant=world.tenants[0], event="sync.failed", data={})
        services.attempt_delivery(delivery.pk)
    webhook.refresh_from_db()
    assert not webhook.enabled and "410" in webhook.disabled_reason


def test_redirects_are_not_followed(world):
    with Receiver() as target, Receiver(statuses=[302], extra_headers={"Location": "TARGET"}) as redirector:
        redirector.extra_headers["Location"] = target.url
        _subscribe(world, redirector.url)
        (delivery,) = services.emit_event(tenant=world.tenants[0], event="sync.failed", data={})
        services.attempt_delivery(delivery.pk)
    assert target.requests == []
    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.RETRYING and delivery.response_code == 302


def test_api_create_shows_secret_once_and_redeliver_keeps_the_id(world, client_for):
    admin = client_for(world.actor("admin", "org", 0).user)
    with Receiver() as receiver:
        created = admin.post(
            "/api/v1/webhooks/", {"tenant": world.tenants[0].pk, "url": receiver.url, "events": ["sync.failed"]},
            format="json",
        )
        assert created.status_code == 201, created.content
        secret = created.json()["secret"]
        assert secret.startswith("whsec_")
        assert "secret" not in admin.get(f"/api/v1/webhooks/{created.json()['id']}/").json()
        (delivery,) = services.emit_event(tenant=world.tenants[0], event="sync.failed", data={})
        services.attempt_delivery(delivery.pk)
        response = admin.post(f"/api/v1/webhook-deliveries/{delivery.pk}/redeliver/")
        assert response.status_code == 202
        services.attempt_delivery(delivery.pk)
    assert [r.headers["webhook-id"] for r in receiver.requests] == [delivery.msg_id] * 2
    log = admin.get("/api/v1/webhook-deliveries/", {"webhook": created.json()["id"]}).json()["results"]
    assert log[0]["attempts"] == 2 and log[0]["status"] == "succeeded" and log[0]["response_code"] == 200
    # Not for other roles or other MSPs.
    assert client_for(world.actor("read_only", "org", 0).user).get("/api/v1/webhook-deliveries/").status_code == 403
    other = client_for(world.actor("admin", "org", 1).user)
    assert other.post(f"/api/v1/webhook-deliveries/{delivery.pk}/redeliver/").status_code == 404


def test_unknown_event_is_400_naming_the_field(world, client_for):
    admin = client_for(world.actor("admin", "org", 0).user)
    response = admin.post(
        "/api/v1/webhooks/", {"tenant": world.tenants[0].pk, "url": "https://hooks.example.com/x", "events": ["nope"]},
        format="json",
    )
    assert response.status_code == 400 and "events" in response.json()


SSRF_URLS = [
    "http://127.0.0.1/hook", "https://127.0.0.1/hook", "https://localhost/hook", "https://0.0.0.0/",
    "https://[::1]/", "https://[::ffff:127.0.0.1]/", "https://169.254.169.254/latest/meta-data/",
    "https://10.0.0.1/", "https://10.255.255.255/", "https://172.16.0.1/", "https://172.31.255.1/",
    "https://192.168.1.1/", "https://100.64.0.1/", "https://[fc00::1]/", "https://[fd12:3456::1]/",
    "https://[fe80::1]/", "https://2130706433/", "https://0x7f000001/", "https://0177.0.0.1/",
    "https://a@127.0.0.1/", "https://user:pw@hooks.example.com/", "ftp://hooks.example.com/",
    "gopher://127.0.0.1:6379/", "file:///etc/passwd", "https://unresolvable.invalid/",
    "https://224.0.0.1/", "https://240.0.0.1/", "https://198.18.0.1/", "https://[::]/", "javascript:alert(1)",
    "https://127.1/", "https://[::ffff:a9fe:a9fe]/",
]


@pytest.mark.parametrize("url", SSRF_URLS)
def test_ssrf_targets_are_refused(world, client_for, settings, url):
    settings.WEBHOOK_ALLOW_PRIVATE_TARGETS = False
    admin = client_for(world.actor("admin", "org", 0).user)
    response = admin.post(
        "/api/v1/webhooks/", {"tenant": world.tenants[0].pk, "url": url, "events": ["sync.failed"]}, format="json"
    )
    assert response.status_code == 400, (url, response.content)
    assert "url" in response.json()


def test_dns_rebinding_is_caught_at_connect_time(world, settings, monkeypatch):
    """The name resolved to a public address when saved, and to loopback when the delivery connects."""
    with Receiver() as receiver:
        webhook, _ = _subscribe(world, receiver.url)
        settings.WEBHOOK_ALLOW_PRIVATE_TARGETS = False
        monkeypatch.setattr("webhooks.services.validate_public_url", lambda url: url)
        (delivery,) = services.emit_event(tenant=world.tenants[0], event="sync.failed", data={})
        services.attempt_delivery(delivery.pk)
    assert receiver.requests == []
    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.RETRYING and delivery.response_code is None


def test_validation_checks_every_resolved_address(settings, monkeypatch):
    from portal.safe_http import UnsafeTargetError, validate_public_url

    settings.WEBHOOK_ALLOW_PRIVATE_TARGETS = False
    monkeypatch.setattr(
        "portal.safe_http.socket.getaddrinfo",
        lambda host, port, **kw: [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("93.184.216.34", port)),
                                  (socket.AF_INET, socket.SOCK_STREAM, 6, "", ("10.0.0.5", port))],
    )
    with pytest.raises(UnsafeTargetError):
        validate_public_url("https://mixed.example.com/hook")


def test_secrets_rotate_with_the_encryption_keys(world, settings):
    from cryptography.fernet import Fernet
    from django.core.management import call_command

    from portal.crypto import decrypt_json, get_fernet

    webhook, secret = _subscribe(world, "https://hooks.example.com/in")
    new_key = Fernet.generate_key().decode()
    settings.PORTAL_ENCRYPTION_KEYS = [new_key, *settings.PORTAL_ENCRYPTION_KEYS]
    get_fernet.cache_clear()
    try:
        call_command("rotate_encryption_keys")
        settings.PORTAL_ENCRYPTION_KEYS = [new_key]
        get_fernet.cache_clear()
        webhook.refresh_from_db()
        assert decrypt_json(webhook.secret_encrypted)["secret"] == secret
    finally:
        get_fernet.cache_clear()


def test_payload_is_json_with_type_and_data(world):
    with Receiver() as receiver:
        _subscribe(world, receiver.url, events=["alert.created"])
        (delivery,) = services.emit_event(tenant=world.tenants[0], event="alert.created", data={"alert": 1})
        services.attempt_delivery(delivery.pk)
    body = json.loads(receiver.requests[0].body)
    assert body["type"] == "alert.created" and body["data"] == {"tenant": world.tenants[0].pk, "alert": 1}
    assert WebhookDelivery.objects.get(pk=delivery.pk).status == DeliveryStatus.SUCCEEDED
