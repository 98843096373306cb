"""Outbound webhooks: subscriptions, event fan-out, signed delivery with retries, auto-disable.

Deliveries follow Standard Webhooks v1: headers `webhook-id` (stable across retries and redeliveries),
`webhook-timestamp` (of the attempt) and `webhook-signature` (`v1,<base64 HMAC-SHA256 of "id.ts.body">`).
Retries back off over about 3 days; far-future retries are scheduled in the database and picked up by the
minute sweep rather than parked in the broker (a broker ETA past the visibility timeout re-delivers).
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import random
import secrets
import uuid
from datetime import timedelta

import requests
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from accounts.audit import AuditAction, record_change, snapshot
from accounts.authorization import require_action
from accounts.models import Organization, Tenant
from accounts.roles import Action
from portal.crypto import decrypt_json, encrypt_json
from portal.safe_http import DEFAULT_TIMEOUT, UnsafeTargetError, safe_session, validate_public_url
from portal.retention import delete_in_batches, retention_cutoff
from portal.tasks import enqueue
from webhooks.models import DeliveryStatus, Event, Webhook, WebhookDelivery

logger = logging.getLogger(__name__)

DELIVER_TASK = "webhooks.tasks.deliver_webhook_task"

__all__ = [
    "webhook_save",
    "webhook_delete",
    "emit_event",
    "attempt_delivery",
    "redeliver",
    "due_deliveries",
    "sign",
    "RETRY_DELAYS",
]

# After the first attempt: 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 14 h, 20 h, 24 h (Standard Webhooks schedule).
RETRY_DELAYS = [
    timedelta(seconds=5), timedelta(minutes=5), timedelta(minutes=30), timedelta(hours=2), timedelta(hours=5),
    timedelta(hours=10), timedelta(hours=14), timedelta(hours=20), timedelta(hours=24),
]
MAX_ATTEMPTS = len(RETRY_DELAYS) + 1
# A subscription whose deliveries keep exhausting every retry is switched off, saying why.
DISABLE_AFTER_FAILED_DELIVERIES = 5
# Only retries this short go through the broker's countdown; longer ones wait in the database.
BROKER_COUNTDOWN_LIMIT = timedelta(minutes=5)
# While one worker attempts a delivery, others leave it alone for this long.
ATTEMPT_LEASE = timedelta(minutes=2)
RESPONSE_BODY_LIMIT = 4096


#
# Subscriptions
#
def generate_secret() -> str:
    return "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()


def _secret_key(secret: str) -> bytes:
    return base64.b64decode(secret.removeprefix("whsec_"))


def webhook_save(
    *,
    actor=None,
    url: str,
    events: list[str],
    organization: Organization | None = None,
    tenant: Tenant | None = None,
    enabled: bool = True,
    description: str = "",
    secret: str | None = None,
    webhook: Webhook | None = None,
) -> tuple[Webhook, str | None]:
    """Create or update a subscription. Returns (webhook, clear secret if one was set now, else None)."""
    if bool(organization) == bool(tenant):
        raise ValidationError({"organization": ["Give exactly one of organization or tenant."]})
    if actor is not None:
        # Subscribing to a scope's events needs credential rights there (and on the scope it leaves).
        require_action(actor, Action.MANAGE_CREDENTIALS, organization=organization, tenant=tenant)
        if webhook is not None and webhook.pk:
            require_action(actor, Action.MANAGE_CREDENTIALS, organization=webhook.organization, tenant=webhook.tenant)
    unknown = sorted(set(events) - set(Event.values))
    if not events or unknown:
        raise ValidationError({"events": [f"Choose one or more of: {', '.join(Event.values)}" + (f" (unknown: {', '.join(unknown)})" if unknown else "")]})
    try:
        validate_public_url(url)
    except UnsafeTargetError as exc:
        raise ValidationError({"url": [str(exc)]}) from None
    if secret is not None:
        try:
            if not secret.startswith("whsec_") or not 24 <= len(_secret_key(secret)) <= 64:
                raise ValueError
        except ValueError:
            raise ValidationError({"secret": ["Use whsec_ followed by base64 of 24 to 64 random bytes, or omit it."]}) from None
    before = snapshot(webhook) if webhook is not None and webhook.pk else None
    webhook = webhook or Webhook()
    clear = None
    if webhook.pk is None or secret is not None:
        clear = secret or generate_secret()
        webhook.secret_encrypted = encrypt_json({"secret": clear})
    webhook.organization, webhook.tenant = organization, tenant
    webhook.url, webhook.events, webhook.description = url, sorted(set(events)), description
    if enabled and not webhook.enabled:
        webhook.consecutive_failures, webhook.disabled_reason = 0, ""
    webhook.enabled = enabled
    webhook.save()
    if actor is not None:
        record_change(actor=actor, action=AuditAction.UPDATE if before else AuditAction.CREATE, instance=webhook,
                      before=before, after=snapshot(webhook) if before else None)
    return webhook, clear


def webhook_delete(*, actor, webhook: Webhook) -> None:
    """Delete a subscription and its delivery log (credential rights on its scope)."""
    if actor is not None:
        require_action(actor, Action.MANAGE_CREDENTIALS, organization=webhook.organization, tenant=webhook.tenant)
        record_change(actor=actor, action=AuditAction.DELETE, instance=webhook, before=snapshot(webhook))
    webhook.delete()


def sign(secret: str, msg_id: str, timestamp: int, body: bytes) -> str:
    signed = f"{msg_id}.{timestamp}.".encode() + body
    digest = hmac.new(_secret_key(secret), signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


#
# Events
#
def deliver_domain_event(sender, *, tenant: Tenant, event: str, data: dict, **kwargs) -> None:
    """Receiver of portal.events.domain_event: queue deliveries to the webhooks subscribed to it."""
    emit_event(tenant=tenant, event=event, data=data)


def emit_event(*, tenant: Tenant, event: str, data: dict) -> list[WebhookDelivery]:
    """Queue `event` for every enabled subscription of the tenant or of its organization."""
    if event not in Event.values:
        raise ValueError(f"Unknown event {event!r}")
    # Filtered in Python: JSON containment is not portable to SQLite (the demo) and a tenant has few hooks.
    hooks = [hook for hook in Webhook.objects.filter(enabled=True).filter(_scope_q(tenant)) if event in hook.events]
    now = timezone.now()
    payload = {"type": event, "timestamp": now.isoformat(), "data": {"tenant": tenant.pk, **data}}
    deliveries = WebhookDelivery.objects.bulk_create(
        [
            WebhookDelivery(webhook=hook, tenant=tenant, event=event, msg_id=f"msg_{uuid.uuid4().hex}",
                            payload=payload, next_attempt_at=now)
            for hook in hooks
        ]
    )
    if deliveries:
        ids = [d.pk for d in deliveries]
        transaction.on_commit(lambda: [enqueue(DELIVER_TASK, pk) for pk in ids])
    return deliveries


def _scope_q(tenant: Tenant) -> Q:
    return Q(tenant=tenant) | Q(organization_id=tenant.organization_id)


#
# Delivery
#
def _claim(delivery_id: int) -> WebhookDelivery | None:
    """Take the delivery for one attempt (a lease), or None if it's done, not due, or taken."""
    now = timezone.now()
    with transaction.atomic():
        delivery = (
            WebhookDelivery.objects.select_for_update(skip_locked=True).select_related("webhook")
            .filter(pk=delivery_id, status__in=[DeliveryStatus.PENDING, DeliveryStatus.RETRYING])
            .filter(next_attempt_at__lte=now).first()
        )
        if delivery is None:
            return None
        delivery.next_attempt_at = now + ATTEMPT_LEASE
        delivery.save(update_fields=["next_attempt_at"])
        return delivery


def _retry_after(response: requests.Response | None) -> timedelta | None:
    if response is None or response.status_code not in (429, 502, 503, 504):
        return None
    try:
        return timedelta(seconds=min(int(response.headers.get("Retry-After", "")), 86400))
    except ValueError:
        return None


def attempt_delivery(delivery_id: int) -> WebhookDelivery | None:
    """Send one attempt of a delivery and record its outcome; schedule the next attempt if it failed."""
    delivery = _claim(delivery_id)
    if delivery is None:
        return None
    webhook = delivery.webhook
    if not webhook.enabled:
        delivery.status, delivery.error, delivery.next_attempt_at = DeliveryStatus.FAILED, "Webhook is disabled.", None
        delivery.save(update_fields=["status", "error", "next_attempt_at"])
        return delivery

    body = json.dumps(delivery.payload, separators=(",", ":"), sort_keys=True).encode()
    timestamp = int(timezone.now().timestamp())
    secret = decrypt_json(webhook.secret_encrypted)["secret"]
    headers = {
        "content-type": "application/json",
        "user-agent": "ncm-msp-portal-webhooks/1",
        "webhook-id": delivery.msg_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": sign(secret, delivery.msg_id, timestamp, body),
    }
    response, error = None, ""
    try:
        validate_public_url(webhook.url)
        response = safe_session().post(webhook.url, data=body, headers=headers, timeout=DEFAULT_TIMEOUT, allow_redirects=False)
    except UnsafeTargetError as exc:
        error = str(exc)
    except requests.Timeout:
        error = "The receiver did not answer in time."
    except requests.RequestException as exc:
        error = f"Could not connect: {exc.__class__.__name__}."

    now = timezone.now()
    delivery.attempts += 1
    delivery.last_attempt_at = now
    delivery.response_code = response.status_code if response is not None else None
    delivery.response_body = (response.text[:RESPONSE_BODY_LIMIT] if response is not None else "")
    succeeded = response is not None and 200 <= response.status_code < 300
    with transaction.atomic():
        webhook = Webhook.objects.select_for_update().get(pk=webhook.pk)
        if succeeded:
            delivery.status, delivery.error, delivery.next_attempt_at = DeliveryStatus.SUCCEEDED, "", None
            webhook.consecutive_failures = 0
        elif response is not None and response.status_code == 410:
            delivery.status, delivery.next_attempt_at = DeliveryStatus.FAILED, None
            delivery.error = "The receiver answered 410 Gone: the subscription was disabled."
            webhook.enabled, webhook.disabled_reason = False, "Disabled: the receiver answered 410 Gone."
        elif delivery.attempts >= MAX_ATTEMPTS:
            delivery.status, delivery.next_attempt_at = DeliveryStatus.FAILED, None
            delivery.error = error or f"Receiver answered HTTP {delivery.response_code} on every attempt."
            webhook.consecutive_failures += 1
            if webhook.consecutive_failures >= DISABLE_AFTER_FAILED_DELIVERIES:
                webhook.enabled = False
                webhook.disabled_reason = (
                    f"Disabled after {webhook.consecutive_failures} deliveries failed every retry; "
                    "fix the receiver, then enable the webhook again."
                )
        else:
            delay = RETRY_DELAYS[delivery.attempts - 1]
            delay = max(delay, _retry_after(response) or delay)
            delay += timedelta(seconds=random.uniform(0, delay.total_seconds() * 0.1))  # jitter
            delivery.status, delivery.next_attempt_at = DeliveryStatus.RETRYING, now + delay
            delivery.error = error or f"Receiver answered HTTP {delivery.response_code}."
        delivery.save()
        webhook.save(update_fields=["enabled", "disabled_reason", "consecutive_failures", "updated_at"])
    if delivery.status == DeliveryStatus.RETRYING and delivery.next_attempt_at - now <= BROKER_COUNTDOWN_LIMIT:
        enqueue(DELIVER_TASK, delivery.pk, countdown=(delivery.next_attempt_at - now).total_seconds())
    logger.info("Webhook delivery %s attempt %s: %s", delivery.pk, delivery.attempts, delivery.status)
    return delivery


def redeliver(*, delivery: WebhookDelivery, actor=None) -> WebhookDelivery:
    """Send a delivery again now, keeping its webhook-id so receivers can de-duplicate."""
    if actor is not None:
        webhook = delivery.webhook
        require_action(actor, Action.MANAGE_CREDENTIALS, organization=webhook.organization, tenant=webhook.tenant)
        record_change(actor=actor, action=AuditAction.ACTION, instance=delivery, extra={"action": "redeliver"})
    delivery.status, delivery.next_attempt_at, delivery.error = DeliveryStatus.PENDING, timezone.now(), ""
    delivery.save(update_fields=["status", "next_attempt_at", "error"])
    pk = delivery.pk
    transaction.on_commit(lambda: enqueue(DELIVER_TASK, pk))
    return delivery


def due_deliveries(limit: int = 500) -> list[int]:
    """Deliveries whose next attempt is due (retries parked in the database, or lost tasks)."""
    return list(
        WebhookDelivery.objects.filter(
            status__in=[DeliveryStatus.PENDING, DeliveryStatus.RETRYING], next_attempt_at__lte=timezone.now()
        ).order_by("next_attempt_at").values_list("pk", flat=True)[:limit]
    )


def prune_deliveries(*, now=None) -> int:
    """Settled webhook deliveries past retention (settings.RETENTION_DAYS["webhook_deliveries"]), in batches."""
    cutoff = retention_cutoff("webhook_deliveries", now)
    if cutoff is None:
        return 0
    return delete_in_batches(WebhookDelivery.objects.filter(
        created_at__lt=cutoff, status__in=[DeliveryStatus.SUCCEEDED, DeliveryStatus.FAILED]))
