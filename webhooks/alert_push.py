"""NCM alert push (inbound webhooks): the per-tenant receiver, signature checks, and idempotent alert storage.

Flow: NCM posts an alert to `/hooks/ncm/<token>/` with `x-cp-signature` = hex HMAC-SHA256 of the raw body
under the receiver's secret (ncm-sdk.md §4.2). The view (`webhooks.inbound`) answers within milliseconds:

- unknown token → 404; body over `MAX_BODY_BYTES` → 413; missing or wrong signature → 401, nothing stored
  (constant-time comparison, `hmac.compare_digest`);
- malformed JSON (after a valid signature) → 400;
- a delivery already accepted within `REPLAY_WINDOW` (same body, or the same alert identity) → 200
  `{"status": "duplicate"}`, nothing enqueued;
- an alert whose own `created_at`/`detected_at` is older than `STALE_AFTER` → 200 `{"status": "stale"}`,
  nothing stored;
- otherwise → 202 `{"status": "accepted"}` and a Celery task stores it.

Why 200 (ignored) rather than 4xx for duplicates and stale alerts: NCM sends no delivery id or timestamp
header, retries deliveries it believes failed, and suspends a destination that keeps failing. A lost 2xx
followed by NCM's retry must not count as a failure, and an attacker replaying a captured delivery gains
nothing either way: it is simply not processed again. (NCM's periodic alert sync fills any gap.)

Storage is idempotent: one row per (tenant, NCM alert id), `Alert.ncm_id_of(obj)` as the sync uses, so push
and sync never duplicate an alert; `alert.created` is emitted only when a row is really inserted.
"""
from __future__ import annotations

import hashlib
import hmac
import json
import logging
import secrets
from datetime import timedelta
from datetime import timezone as dt_timezone

from django.core.cache import cache
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from accounts.models import Tenant
from ncm_sync.events import announce_alert_created
from portal.crypto import decrypt_json, encrypt_json
from webhooks.models import AlertPushReceiver

logger = logging.getLogger(__name__)

__all__ = [
    "MAX_BODY_BYTES",
    "REPLAY_WINDOW",
    "STALE_AFTER",
    "receiver_rotate",
    "receiver_for_token",
    "receiver_secret",
    "signature_for",
    "signature_valid",
    "parse_alerts",
    "PushOutcome",
    "accept_push",
    "store_alert",
    "store_pushed_alerts",
    "sync_in_progress",
    "forget_push",
]

MAX_BODY_BYTES = 256 * 1024
MAX_ALERTS_PER_PUSH = 500
REPLAY_WINDOW = timedelta(hours=24)
STALE_AFTER = timedelta(hours=24)
SIGNATURE_HEADER = "x-cp-signature"


#
# The receiver
#
def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def receiver_rotate(*, tenant: Tenant) -> tuple[AlertPushReceiver, str, str]:
    """Create the tenant's receiver, or give it a new URL token and secret (the old ones stop working).

    Returns (receiver, clear URL token, clear secret); neither clear value is stored or shown again.
    """
    token = secrets.token_urlsafe(32)
    secret = secrets.token_urlsafe(32)
    now = timezone.now()
    with transaction.atomic():
        receiver = AlertPushReceiver.objects.select_for_update().filter(tenant=tenant).first()
        if receiver is None:
            receiver = AlertPushReceiver(tenant=tenant)
        else:
            receiver.rotated_at = now
        receiver.token_hash = _token_hash(token)
        receiver.secret_encrypted = encrypt_json({"secret": secret})
        receiver.save()
    return receiver, token, secret


def receiver_for_token(token: str) -> AlertPushReceiver | None:
    if not token or len(token) > 128:
        return None
    return AlertPushReceiver.objects.select_related("tenant").filter(token_hash=_token_hash(token)).first()


def receiver_secret(receiver: AlertPushReceiver) -> str:
    return decrypt_json(receiver.secret_encrypted)["secret"]


def signature_for(secret: str, body: bytes) -> str:
    """NCM's `x-cp-signature`: the hex HMAC-SHA256 of the raw body under the destination secret."""
    return hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def signature_valid(secret: str, body: bytes, header: str | None) -> bool:
    """Constant-time check of an `x-cp-signature` value (hex, any case, an optional `sha256=` prefix)."""
    if not header:
        return False
    provided = header.strip().lower().removeprefix("sha256=")
    expected = signature_for(secret, body)
    # compare_digest on ASCII bytes: constant time whatever the input (a non-ASCII str would raise).
    return hmac.compare_digest(expected.encode(), provided.encode("ascii", errors="replace"))


#
# Accepting a delivery
#
class PushError(Exception):
    def __init__(self, status: int, detail: str):
        super().__init__(detail)
        self.status = status
        self.detail = detail


def parse_alerts(body: bytes) -> list[dict]:
    """The alerts of one delivery: a JSON object (one alert) or a list of them."""
    try:
        payload = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise PushError(400, "The body is not JSON.") from None
    alerts = payload if isinstance(payload, list) else [payload]
    if not alerts or not all(isinstance(a, dict) for a in alerts):
        raise PushError(400, "Expected an alert object or a list of alert objects.")
    if len(alerts) > MAX_ALERTS_PER_PUSH:
        raise PushError(413, f"At most {MAX_ALERTS_PER_PUSH} alerts per delivery.")
    return alerts


def alert_ncm_id(obj: dict) -> str:
    """NCM's id of the alert as the sync stores it; for a push without one, a digest of the alert itself."""
    from ncm_sync.models import Alert

    ncm_id = Alert.ncm_id_of(obj)[:64]
    if ncm_id:
        return ncm_id
    canonical = json.dumps(obj, sort_keys=True, separators=(",", ":"), default=str)
    return "push-" + hashlib.sha256(canonical.encode()).hexdigest()[:40]


def _alert_time(obj: dict):
    for key in ("created_at", "detected_at"):
        value = obj.get(key)
        if isinstance(value, str):
            try:
                parsed = parse_datetime(value)
            except ValueError:
                parsed = None
            if parsed is not None:
                if timezone.is_naive(parsed):
                    parsed = parsed.replace(tzinfo=dt_timezone.utc)
                return parsed
    return None


class PushOutcome:
    ACCEPTED = "accepted"
    DUPLICATE = "duplicate"
    STALE = "stale"


def _seen_key(receiver_id: int, kind: str, value: str | bytes) -> str:
    raw = value if isinstance(value, bytes) else value.encode()
    return f"ncm-alert-push:{receiver_id}:{kind}:{hashlib.sha256(raw).hexdigest()}"


def accept_push(*, receiver: AlertPushReceiver, body: bytes, signature: str | None) -> tuple[str, list[dict]]:
    """Verify and triage one delivery; raises PushError (401/400/413) or returns (outcome, alerts to store).

    A delivery counts as seen (the 24 h replay window) only once it is accepted; the caller un-marks it with
    `forget_push` if it then cannot enqueue the work, so NCM's retry is processed.
    """
    if not signature_valid(receiver_secret(receiver), body, signature):
        AlertPushReceiver.objects.filter(pk=receiver.pk).update(
            last_rejected_at=timezone.now(), rejected_count=F("rejected_count") + 1
        )
        raise PushError(401, "Missing or invalid x-cp-signature.")
    alerts = parse_alerts(body)
    now = timezone.now()
    AlertPushReceiver.objects.filter(pk=receiver.pk).update(last_received_at=now, received_count=F("received_count") + 1)

    fresh = []
    for obj in alerts:
        when = _alert_time(obj)
        if when is not None and when < now - STALE_AFTER:
            logger.info("stale NCM alert push ignored (tenant %s, alert time %s)", receiver.tenant_id, when.isoformat())
            continue
        fresh.append(obj)
    if not fresh:
        return PushOutcome.STALE, []

    ttl = int(REPLAY_WINDOW.total_seconds())
    if not cache.add(_seen_key(receiver.pk, "body", body), 1, timeout=ttl):
        return PushOutcome.DUPLICATE, []
    new = [obj for obj in fresh if cache.add(_seen_key(receiver.pk, "alert", alert_ncm_id(obj)), 1, timeout=ttl)]
    if not new:
        return PushOutcome.DUPLICATE, []
    return PushOutcome.ACCEPTED, new


def forget_push(*, receiver: AlertPushReceiver, body: bytes, alerts: list[dict]) -> None:
    """Undo the replay marks of a delivery that could not be queued (so NCM's retry gets through)."""
    keys = [_seen_key(receiver.pk, "body", body)]
    keys += [_seen_key(receiver.pk, "alert", alert_ncm_id(obj)) for obj in alerts]
    cache.delete_many(keys)


#
# Storing (the Celery task calls this)
#
def sync_in_progress(tenant_id: int) -> bool:
    """A sync of the tenant holds its lock: its alert listing may be about to insert the same alerts."""
    from ncm_sync.services.runs import lock_key

    return cache.get(lock_key(tenant_id)) is not None


def store_pushed_alerts(*, tenant_id: int, alerts: list[dict]) -> int:
    """Store a delivery's alerts idempotently; returns how many rows were new."""
    created = 0
    for obj in alerts:
        created += int(store_alert(tenant_id=tenant_id, obj=obj)[1])
    return created


def store_alert(*, tenant_id: int, obj: dict):
    """Store one NCM alert for the tenant unless a row with its NCM id exists. Returns (alert, created).

    Emits `alert.created` (outbound webhooks) in the same transaction when the row is new.
    """
    from ncm_sync.models import Account, Alert, Router
    from ncm_sync.services.sync import content_hash

    ncm_id = alert_ncm_id(obj)
    columns = Alert.columns(obj)
    now = timezone.now()
    router = Router.objects.filter(tenant_id=tenant_id, ncm_id=columns["router_ncm_id"]).only("pk").first() \
        if columns["router_ncm_id"] else None
    account = Account.objects.filter(tenant_id=tenant_id, ncm_id=columns["account_ncm_id"]).only("pk").first() \
        if columns["account_ncm_id"] else None
    defaults = {
        "data": obj, "content_hash": content_hash(obj), "first_seen_at": now, "last_seen_at": now,
        "router": router, "account": account, **columns,
    }
    try:
        with transaction.atomic():
            alert, created = Alert.objects.get_or_create(tenant_id=tenant_id, ncm_id=ncm_id, defaults=defaults)
            if created:
                announce_alert_created(alert)
    except IntegrityError:  # lost a race with the sync or a concurrent push: the row exists
        return Alert.objects.get(tenant_id=tenant_id, ncm_id=ncm_id), False
    return alert, created


