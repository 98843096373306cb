"""Licences from NCM API v3: `subscriptions` and `asset_endpoints` for tenants whose NCM credential has an
`api_token` (JSON:API cursor paging, ncm_sync.client_v3). Each device's licence gets its subscription's end
date and the mirrored router it belongs to (matched by MAC, else serial number). A sync replaces the tenant's
rows with what NCM listed (a listing that failed part-way changes nothing: it raises before any write).

`licence.expiring` (webhooks) is announced once per subscription and end date, when it ends within
HISTORY_LICENCE_WARN_DAYS (30) days: data {subscription, name, type, end_time, days_left, devices}.
"""
from __future__ import annotations

import logging
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from history.models import Licence, Subscription
from history.services import _parse_time
from portal.events import announce

logger = logging.getLogger(__name__)

__all__ = ["sync_licences", "tenants_with_v3_token", "announce_expiring"]


def _mac(value: str) -> str:
    hexes = "".join(ch for ch in str(value or "") if ch.isalnum()).lower()
    return ":".join(hexes[i:i + 2] for i in range(0, len(hexes), 2)) if len(hexes) == 12 else str(value or "").lower()


def tenants_with_v3_token() -> list[int]:
    from accounts.models import Credential
    from accounts.services import credential_secrets

    return [c.tenant_id for c in Credential.objects.filter(provider="ncm") if credential_secrets(c).get("api_token")]


def sync_licences(tenant, *, client=None) -> dict:
    """Mirror the tenant's v3 subscriptions and asset endpoints. Returns counts; {} without a v3 token."""
    from accounts.models import Credential
    from ncm_sync.client_v3 import v3_client_for_credential
    from ncm_sync.models import Router

    own = client is None
    if own:
        credential = Credential.objects.filter(tenant=tenant, provider="ncm").first()
        client = v3_client_for_credential(credential) if credential else None
        if client is None:
            return {}
    try:
        subs = client.list("subscriptions")
        assets = client.list("asset_endpoints")
    finally:
        if own:
            client.close()
    now = timezone.now()
    routers = {}
    for pk, mac, serial in Router.objects.filter(tenant=tenant, deleted_at__isnull=True).values_list("pk", "mac", "serial_number"):
        if mac:
            routers[("mac", _mac(mac))] = pk
        if serial:
            routers[("serial", serial)] = pk
    with transaction.atomic():
        existing = {s.ncm_id: s for s in Subscription.objects.filter(tenant=tenant)}
        kept = set()
        for obj in subs:
            attrs = obj.get("attributes") or {}
            sid = str(obj.get("id"))
            kept.add(sid)
            values = {"name": str(attrs.get("name") or "")[:200], "type": str(attrs.get("type") or "")[:100],
                      "quantity": attrs.get("quantity") if isinstance(attrs.get("quantity"), int) else None,
                      "start_time": _parse_time(attrs.get("start_time")), "end_time": _parse_time(attrs.get("end_time")),
                      "data": obj, "last_seen_at": now}
            if sid in existing:
                Subscription.objects.filter(pk=existing[sid].pk).update(**values)
            else:
                existing[sid] = Subscription.objects.create(tenant=tenant, ncm_id=sid, **values)
        Subscription.objects.filter(tenant=tenant).exclude(ncm_id__in=kept).delete()
        by_id = {s.ncm_id: s for s in Subscription.objects.filter(tenant=tenant)}
        Licence.objects.filter(tenant=tenant).delete()
        rows = []
        for obj in assets:
            attrs = obj.get("attributes") or {}
            rel = ((obj.get("relationships") or {}).get("subscriptions") or {}).get("data") or []
            sid = str(rel[0].get("id")) if rel and isinstance(rel[0], dict) else ""
            sub = by_id.get(sid)
            mac, serial = _mac(attrs.get("mac_address")), str(attrs.get("serial_number") or "")
            rows.append(Licence(
                tenant=tenant, ncm_id=str(obj.get("id"))[:100], mac_address=mac[:32], serial_number=serial[:64],
                hardware_series=str(attrs.get("hardware_series") or "")[:64], subscription_ncm_id=sid[:100],
                subscription=sub, end_time=sub.end_time if sub else None,
                router_id=routers.get(("mac", mac)) or routers.get(("serial", serial)), data=obj, last_seen_at=now,
            ))
        Licence.objects.bulk_create(rows, batch_size=1000)
        announced = announce_expiring(tenant, now=now)
    return {"subscriptions": len(subs), "licences": len(assets), "announced": announced}


def announce_expiring(tenant, *, now=None) -> int:
    """`licence.expiring` for each subscription ending within HISTORY_LICENCE_WARN_DAYS days, once per end date."""
    now = now or timezone.now()
    horizon = now + timedelta(days=settings.HISTORY_LICENCE_WARN_DAYS)
    count = 0
    for sub in Subscription.objects.filter(tenant=tenant, end_time__gt=now, end_time__lte=horizon):
        if sub.warned_end_time == sub.end_time:
            continue
        devices = list(sub.licences.values_list("router_id", flat=True)[:1000])
        announce(tenant=tenant, event="licence.expiring", data={
            "subscription": sub.ncm_id, "name": sub.name, "type": sub.type, "end_time": sub.end_time.isoformat(),
            "days_left": max(0, (sub.end_time - now).days), "devices": len(devices),
            "routers": [r for r in devices if r is not None][:100],
        })
        Subscription.objects.filter(pk=sub.pk).update(warned_end_time=sub.end_time)
        count += 1
    return count
