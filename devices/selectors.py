"""Reads of the vendor-neutral mirror both faces use (the API's filters come from devices.filtersets)."""
from __future__ import annotations

from django.db.models import Count, Q

from accounts.roles import Action
from devices.models import Device, Site

__all__ = ["devices_for", "sites_for", "device_figures", "device_configuration", "tenant_vendor_counts"]


def devices_for(user, tenant=None):
    qs = Device.objects.for_user(user, Action.VIEW).filter(deleted_at__isnull=True).select_related("site", "group")
    return qs.filter(tenant=tenant) if tenant is not None else qs


def sites_for(user, tenant=None):
    qs = Site.objects.for_user(user, Action.VIEW).filter(deleted_at__isnull=True).annotate(
        device_count=Count("devices", filter=Q(devices__deleted_at__isnull=True)))
    return qs.filter(tenant=tenant) if tenant is not None else qs


def device_figures(qs) -> dict:
    """Totals per vendor and status, in one query."""
    rows = qs.order_by().values("provider", "status").annotate(n=Count("id"))
    out = {"total": 0, "online": 0, "offline": 0, "ncm": 0, "eccloud": 0}
    for row in rows:
        out["total"] += row["n"]
        out[row["provider"]] = out.get(row["provider"], 0) + row["n"]
        if row["status"] in ("online", "offline"):
            out[row["status"]] += row["n"]
    return out


def tenant_vendor_counts(tenant_ids) -> dict[int, dict[str, int]]:
    """{tenant id: {provider: live devices}} for the MSP overview (one grouped query)."""
    out: dict[int, dict[str, int]] = {}
    for row in (Device.objects.filter(tenant_id__in=list(tenant_ids), deleted_at__isnull=True).order_by()
                .values("tenant_id", "provider").annotate(n=Count("id"))):
        out.setdefault(row["tenant_id"], {})[row["provider"]] = row["n"]
    return out


def device_configuration(device: Device) -> dict:
    """The device's merged configuration from its vendor (ecCloud: a live read). {"effective", "keys"} or {"error"}."""
    from devices.eccloud import EcCloudError
    from devices.providers import Unsupported, provider_for

    try:
        return provider_for(device.provider).read_configuration(device)
    except (Unsupported, EcCloudError) as exc:
        return {"error": getattr(exc, "message", None) or str(exc), "effective": {}, "keys": {}}
