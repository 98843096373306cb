"""Page reads over the NCM mirror (ncm_sync): fleet figures, router table, modems with health and signal,
and the layered configuration of a router. Every queryset starts from `for_user(user, action)`."""
from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.db.models import (
    BooleanField, Case, CharField, Count, ExpressionWrapper, F, IntegerField, OuterRef, Q, Subquery, Sum, Value, When,
)
from django.db.models.functions import Coalesce, Lower
from django.utils import timezone

from accounts.roles import Action
from ncm_sync.models import Alert, Location, NetDevice, NetDeviceHealth, NetDeviceMetrics, Router

__all__ = [
    "annotate_tenant_figures", "overview_totals", "routers_for", "router_figures", "modems_for", "modem_figures",
    "ALERT_WINDOW", "HEALTH_BANDS", "configuration_layers", "outdated_q",
]

ALERT_WINDOW = timedelta(hours=24)
HEALTH_BANDS = ("excellent", "good", "fair", "poor")


def _count(qs, outer: str = "pk"):
    sub = qs.filter(tenant=OuterRef(outer)).order_by().values("tenant").annotate(c=Count("pk")).values("c")
    return Coalesce(Subquery(sub, output_field=IntegerField()), 0)


def _alert_since():
    return timezone.now() - ALERT_WINDOW


def _poor_health():
    return NetDeviceHealth.objects.filter(deleted_at__isnull=True).filter(
        Q(cellular_health_category__iexact="poor")
        | (Q(cellular_health_category="") & Q(cellular_health_score__lt=25))
    )


def annotate_tenant_figures(tenants):
    live = Router.objects.filter(deleted_at__isnull=True)
    return tenants.annotate(
        routers_total=_count(live),
        routers_online=_count(live.filter(state="online")),
        routers_offline=_count(live.filter(state="offline")),
        alerts_open=_count(Alert.objects.filter(ncm_created_at__gte=_alert_since())),
        modems_poor=_count(_poor_health()),
    )


def overview_totals(tenants) -> dict[str, int]:
    sums = tenants.aggregate(online=Sum("routers_online"), offline=Sum("routers_offline"), alerts=Sum("alerts_open"))
    return {
        "online": sums["online"] or 0,
        "offline": sums["offline"] or 0,
        "alerts": sums["alerts"] or 0,
        "tenants_offline": tenants.filter(routers_offline__gt=0).count(),
        "tenants_alerting": tenants.filter(alerts_open__gt=0).count(),
        "tenants_poor": tenants.filter(modems_poor__gt=0).count(),
    }


#
# Routers
#
def outdated_q() -> Q:
    """Firmware out of date: NCM's target differs from what runs, or the group targets another version."""
    by_target = ~Q(target_firmware_ncm_id="") & ~Q(target_firmware_ncm_id=F("actual_firmware_ncm_id"))
    by_group = Q(group__isnull=False) & ~Q(group__firmware="") & ~Q(group__firmware=F("firmware"))
    return by_target | by_group


def routers_for(user, tenant, action: str = Action.VIEW):
    since = _alert_since()
    alerts = (
        Alert.objects.filter(router=OuterRef("pk"), ncm_created_at__gte=since)
        .order_by().values("router").annotate(c=Count("pk")).values("c")
    )
    return (
        Router.objects.for_user(user, action)
        .filter(tenant=tenant, deleted_at__isnull=True)
        .select_related("group", "account")
        .annotate(
            alerts_recent=Coalesce(Subquery(alerts, output_field=IntegerField()), 0),
            firmware_outdated=ExpressionWrapper(outdated_q(), output_field=BooleanField()),
        )
    )


def router_figures(routers) -> dict[str, int]:
    return routers.aggregate(
        total=Count("pk"),
        online=Count("pk", filter=Q(state="online")),
        offline=Count("pk", filter=Q(state="offline")),
        alerting=Count("pk", filter=Q(alerts_recent__gt=0)),
        outdated=Count("pk", filter=Q(firmware_outdated=True)),
    )


#
# Modems (cellular health)
#
def _latest(model, field: str):
    return Subquery(
        model.objects.filter(net_device=OuterRef("pk"), deleted_at__isnull=True).order_by("-last_seen_at").values(field)[:1]
    )


def modems_for(user, tenant=None, router=None, action: str = Action.VIEW):
    qs = NetDevice.objects.for_user(user, action).filter(deleted_at__isnull=True, type="mdm")
    if tenant is not None:
        qs = qs.filter(tenant=tenant)
    if router is not None:
        qs = qs.filter(router=router)
    qs = qs.select_related("router").annotate(
        health_score=_latest(NetDeviceHealth, "cellular_health_score"),
        health_category=Lower(Coalesce(_latest(NetDeviceHealth, "cellular_health_category"), Value(""))),
        signal_strength=_latest(NetDeviceMetrics, "signal_strength"),
        rsrp=_latest(NetDeviceMetrics, "rsrp"),
        rsrq=_latest(NetDeviceMetrics, "rsrq"),
        sinr=_latest(NetDeviceMetrics, "sinr"),
        rssi=_latest(NetDeviceMetrics, "dbm"),
        metrics_updated=_latest(NetDeviceMetrics, "update_ts"),
    )
    # NCM's category when it has one; otherwise the dashboard's fallback on signal strength.
    return qs.annotate(
        band=Case(
            When(health_category__in=HEALTH_BANDS, then=F("health_category")),
            When(signal_strength__gte=75, then=Value("excellent")),
            When(signal_strength__gte=50, then=Value("good")),
            When(signal_strength__gte=25, then=Value("fair")),
            When(signal_strength__isnull=False, then=Value("poor")),
            default=Value("unknown"),
            output_field=CharField(),
        )
    )


def modem_figures(modems) -> dict[str, int]:
    figures = modems.aggregate(
        total=Count("pk"),
        online=Count("pk", filter=Q(router__state="online")),
        offline=Count("pk", filter=Q(router__state="offline")),
        **{band: Count("pk", filter=Q(band=band)) for band in HEALTH_BANDS},
    )
    return figures


def latest_location(router) -> Location | None:
    return Location.objects.filter(router=router, deleted_at__isnull=True).order_by("-last_seen_at").first()


#
# Configuration layers
#
def _flatten(value: Any, prefix: str = "") -> dict[str, Any]:
    """Dotted paths of a configuration tree's leaves (lists of objects by index, `_id_` left out): for diffs."""
    if isinstance(value, dict) and value:
        out: dict[str, Any] = {}
        for key, sub in value.items():
            if key == "_id_":
                continue
            out.update(_flatten(sub, f"{prefix}.{key}" if prefix else str(key)))
        return out
    if isinstance(value, list) and value and any(isinstance(v, dict) for v in value):
        out = {}
        for index, sub in enumerate(value):
            out.update(_flatten(sub, f"{prefix}.{index}"))
        return out
    return {prefix: value}


def configuration_layers(router) -> dict[str, Any]:
    """The router's configuration by layer (one implementation, shared with the API: ncm_sync.selectors)."""
    from ncm_sync.selectors import router_configuration

    config = router_configuration(router)
    return {**config, "has_group": config["group"] is not None, "has_individual": config["individual"] is not None}
