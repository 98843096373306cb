"""Reads over the mirror that more than one caller needs: the API views and the UI pages use these, so a
figure means the same on every page and in the API.

- Alerts: what an *open* alert is (`open_alert_q`), the type in words (`alert_type_label`), counts per tenant
  (`alert_counts`), alerts in scope (`alerts_for`).
- Routers: routers in scope with their open alerts and firmware state (`routers_for`), the stat-card figures
  (`router_figures`), per-tenant figures for the MSP overview (stored: `annotate_tenant_figures`, `overview_totals`;
  counted: `live_tenant_figures`).
- Modems: the latest health and metrics of a net device (ONE definition: `latest_health`, `latest_metrics`),
  modems in scope (`modems_for`), their stat-card figures (`modem_figures`).
- Configuration layers of a router (`router_configuration`).

Every function that takes a `user` starts from `Model.objects.for_user(user, action)`; functions that take a
queryset expect it already scoped.
"""
from __future__ import annotations

import re
from typing import Any

from django.db.models import (
    BooleanField, Case, CharField, Count, Exists, ExpressionWrapper, F, IntegerField, OuterRef, Q,
    QuerySet, Subquery, Value, When,
)
from django.db.models.functions import Coalesce, Lower

import ncm_config
from accounts.models import Tenant
from accounts.roles import Action
from ncm_sync.models import (
    Alert, ConfigurationManager, Location, NetDevice, NetDeviceHealth, NetDeviceMetrics, Router,
)
from portal.api.filters import search_text
from portal.fastjson import JSONField as FastJSONField

__all__ = [
    "ALERT_EVENT_TYPES", "ALERT_STATUSES", "HEALTH_BANDS", "alert_counts", "alert_event_q", "alert_status",
    "alert_type_label", "alerts_for", "annotate_tenant_figures", "latest_health", "latest_metrics",
    "latest_location", "live_tenant_figures", "modem_figures", "modems_for", "open_alert_q", "outdated_q",
    "overview_totals", "TENANT_FIGURES", "ALERT_FIGURES", "STORED_FIGURES", "stored_alert_counts",
    "router_configuration", "router_figures", "routers_for", "with_health", "with_metrics_data", "with_signal",
    "firmware_inventory", "version_key",
]


#
# Alerts
#
# NCM reports events and problems alike as "alerts". An event records that something happened and needs no
# one's attention ("The device entered the online state", "A modem WAN device is now connected", a reboot, a
# configuration change, a firmware upgrade that succeeded); a problem does (offline, disconnected, CPU over
# threshold, tunnel down, failed logins, data overage, ...). Types NCM adds later count as problems until
# they are listed here: an unknown alert is shown rather than hidden.
# A sorted tuple, not a set: the SQL must come out the same in every process (the partial indexes of migration
# 0006 repeat this condition word for word; a test checks they still match).
ALERT_EVENT_TYPES = tuple(sorted({
    "modem_wan_connected", "ethernet_wan_connected", "wwan_connected", "wan_service_type", "wan_failover_restored",
    "reboot_status_change", "config_changed", "ipsec_tunnel_up", "device_claimed", "device_unclaimed",
}))

ALERT_TYPE_LABELS = {
    "connection_state": "Connection state changed",
    "modem_wan_connected": "Modem WAN connected",
    "modem_wan_disconnected": "Modem WAN disconnected",
    "ethernet_wan_connected": "Ethernet WAN connected",
    "ethernet_wan_disconnected": "Ethernet WAN disconnected",
    "wan_service_type": "WAN service type changed",
    "reboot_status_change": "Router rebooted",
    "config_changed": "Configuration changed on the router",
    "firmware_upgrade": "Firmware upgrade",
    "cpu_utilization": "High CPU use",
    "memory_utilization": "High memory use",
    "ipsec_tunnel_down": "IPsec tunnel down",
    "ipsec_tunnel_up": "IPsec tunnel up",
    "login_failure": "Failed login on the router",
    "sim_door_event": "SIM door opened or closed",
    "pdp_account_overage": "Data plan usage threshold reached",
    "acs_expires_in_90_days": "Subscription expires within 90 days",
    "acs_unlicensed_devices": "Devices without a licence",
}

# The alert's status (one of these) is derived, never stored: see `alert_status`.
ALERT_STATUSES = {
    "open": "Open",  # a problem nobody has acknowledged
    "acknowledged": "Acknowledged",
    "event": "Event",  # informational; never open
}


def alert_event_q() -> Q:
    """Alerts that record an event (informational): never open."""
    return (
        Q(type__in=ALERT_EVENT_TYPES)
        | Q(type="connection_state", data__info__state="online")
        | Q(type="firmware_upgrade", data__info__success=True)
    )


def _is_event() -> Case:
    # A CASE, so that a missing JSON key (NULL) counts as "not an event" instead of poisoning NOT (...).
    return Case(When(alert_event_q(), then=Value(True)), default=Value(False), output_field=BooleanField())


def open_alert_q(prefix: str = "") -> Q:
    """THE definition of an open alert, used by the MSP overview, the tenant pages and `/api/v1/alerts/counts/`:
    a problem (not an event, see `alert_event_q`) that no one has acknowledged in the portal, whatever its age.
    `prefix` is the path to the alert from the queried model (e.g. "alerts__")."""
    if prefix:
        return Q(**{f"{prefix}acknowledged_at__isnull": True}) & Q(
            **{f"{prefix}pk__in": Alert.objects.filter(~Q(_is_event())).values("pk")}
        )
    return Q(acknowledged_at__isnull=True) & ~Q(_is_event())


def alert_status(alert: Alert) -> str:
    """"acknowledged", "event" or "open", for one alert already loaded (the same rules as `open_alert_q`)."""
    if alert.acknowledged_at is not None:
        return "acknowledged"
    info = (alert.data or {}).get("info")
    info = info if isinstance(info, dict) else {}
    if alert.type in ALERT_EVENT_TYPES or (alert.type == "connection_state" and info.get("state") == "online") or (
        alert.type == "firmware_upgrade" and info.get("success") is True
    ):
        return "event"
    return "open"


def alert_status_q(status: str) -> Q | None:
    if status == "open":
        return open_alert_q()
    if status == "acknowledged":
        return Q(acknowledged_at__isnull=False)
    if status == "event":
        return Q(acknowledged_at__isnull=True) & Q(_is_event())
    return None


def alert_type_label(alert_type: str, info: Any = None) -> str:
    """An NCM alert type in words ("connection_state" + {"state": "offline"} → "Router went offline")."""
    if alert_type == "connection_state" and isinstance(info, dict) and info.get("state"):
        state = str(info["state"])
        return {"online": "Router came online", "offline": "Router went offline"}.get(state, f"Router is {state}")
    if alert_type == "firmware_upgrade" and isinstance(info, dict) and info.get("success") is False:
        return "Firmware upgrade failed"
    if alert_type in ALERT_TYPE_LABELS:
        return ALERT_TYPE_LABELS[alert_type]
    return (alert_type or "Alert").replace("_", " ").capitalize()


def alerts_for(user, tenant=None, action: str = Action.VIEW) -> QuerySet:
    qs = Alert.objects.for_user(user, action).select_related("router")
    return qs.filter(tenant=tenant) if tenant is not None else qs


def stored_alert_counts(tenants: QuerySet) -> list[dict]:
    """`alert_counts` of all the alerts of (already scoped) tenants, from their stored figures: one row per tenant
    instead of counting every alert per request. Kept exact by `ncm_sync.services.figures` (a sync's end, alert
    pushes, acknowledgements, single saves); the API answers an unfiltered `alerts/counts` from here."""
    rows = (
        annotate_tenant_figures(tenants.order_by(), ALERT_FIGURES)
        .filter(alerts_total__gt=0)
        .order_by("name", "pk")
        .values("pk", "name", *ALERT_FIGURES)
    )
    return [
        {"tenant": row["pk"], "tenant_name": row["name"], "open": row["alerts_open"],
         "acknowledged": row["alerts_acknowledged"],
         "events": row["alerts_total"] - row["alerts_open"] - row["alerts_acknowledged"], "total": row["alerts_total"]}
        for row in rows
    ]


def alert_counts(queryset: QuerySet) -> list[dict]:
    """Per tenant of an (already scoped and filtered) alert queryset, in one query: `open` (see `open_alert_q`),
    `acknowledged`, `events` (informational, not acknowledged) and `total` (= open + acknowledged + events)."""
    rows = (
        queryset.order_by()
        .values("tenant_id", "tenant__name")
        .annotate(
            total=Count("id"),
            open=Count("id", filter=open_alert_q()),
            acknowledged=Count("id", filter=Q(acknowledged_at__isnull=False)),
        )
        .order_by("tenant__name", "tenant_id")
    )
    return [
        {"tenant": row["tenant_id"], "tenant_name": row["tenant__name"], "open": row["open"],
         "acknowledged": row["acknowledged"], "events": row["total"] - row["open"] - row["acknowledged"],
         "total": row["total"]}
        for row in rows
    ]


#
# Routers
#
def outdated_q(prefix: str = "") -> Q:
    """Firmware out of date: NCM's target differs from what runs, or the group targets another version."""
    p = prefix
    by_target = ~Q(**{f"{p}target_firmware_ncm_id": ""}) & ~Q(
        **{f"{p}target_firmware_ncm_id": F(f"{p}actual_firmware_ncm_id")}
    )
    by_group = (
        Q(**{f"{p}group__isnull": False}) & ~Q(**{f"{p}group__firmware": ""})
        & ~Q(**{f"{p}group__firmware": F(f"{p}firmware")})
    )
    return by_target | by_group


def _open_alerts_of_router():
    return (
        Alert.objects.filter(open_alert_q(), router=OuterRef("pk"))
        .order_by().values("router").annotate(c=Count("pk")).values("c")
    )


def has_open_alerts_q() -> Q:
    """Routers with at least one open alert (a filter that needs no annotation: the API and the UI use it)."""
    return Q(Exists(Alert.objects.filter(open_alert_q(), router=OuterRef("pk"))))


def search(queryset: QuerySet, text: str) -> QuerySet:
    """Rows of a searchable mirror (`Router`, `NetDevice`: their `SEARCHED` columns) matching every word of `text`,
    each in some searched column, any case: what the API's `?search=` does, through the same indexed expression."""
    expression = search_text(*queryset.model.SEARCHED)
    queryset = queryset.alias(search_text=expression)
    for term in text.split()[:8]:
        queryset = queryset.filter(search_text__contains=term.upper())
    return queryset


def routers_for(user, tenant=None, action: str = Action.VIEW) -> QuerySet:
    """Live routers in scope with `open_alerts` (count) and `firmware_outdated`."""
    qs = Router.objects.for_user(user, action).filter(deleted_at__isnull=True)
    if tenant is not None:
        qs = qs.filter(tenant=tenant)
    return qs.select_related("group", "account").annotate(
        open_alerts=Coalesce(Subquery(_open_alerts_of_router(), output_field=IntegerField()), 0),
        firmware_outdated=ExpressionWrapper(outdated_q(), output_field=BooleanField()),
    )


def router_figures(routers: QuerySet) -> dict[str, int]:
    """The routers page's stat cards, in one query over the (scoped) routers: every figure counts routers."""
    return routers.aggregate(
        total=Count("pk"),
        online=Count("pk", filter=Q(state="online")),
        offline=Count("pk", filter=Q(state="offline")),
        alerting=Count("pk", filter=has_open_alerts_q()),
        outdated=Count("pk", filter=outdated_q()),
    )


def _per_tenant(qs, outer: str = "pk"):
    sub = qs.filter(tenant=OuterRef(outer)).order_by().values("tenant").annotate(c=Count("pk")).values("c")
    return Coalesce(Subquery(sub, output_field=IntegerField()), 0)


def _poor_modems(tenant_ids=None) -> QuerySet:
    """Live modems whose band is "poor". The exact band is worked out only for candidates (a live health row says
    poor, or a live metrics row has a signal under 25), found once for the whole query (uncorrelated), so
    counting them does not look up every modem's latest rows. `tenant_ids` narrows the candidates too."""
    health = NetDeviceHealth.objects.filter(
        deleted_at__isnull=True, cellular_health_category__iexact="poor", net_device__isnull=False)
    metrics = NetDeviceMetrics.objects.filter(deleted_at__isnull=True, signal_strength__lt=25, net_device__isnull=False)
    modems = live_modems()
    if tenant_ids is not None:
        health, metrics, modems = (qs.filter(tenant_id__in=tenant_ids) for qs in (health, metrics, modems))
    candidates = Q(pk__in=health.values("net_device_id")) | Q(pk__in=metrics.values("net_device_id"))
    return with_band(modems.filter(candidates)).filter(band="poor")


TENANT_FIGURES = ("routers_total", "routers_online", "routers_offline", "alerts_open", "modems_poor")
# Stored beside them for `alerts/counts` (not annotated on the overview, which does not show them).
ALERT_FIGURES = ("alerts_open", "alerts_acknowledged", "alerts_total")
STORED_FIGURES = (*TENANT_FIGURES, "alerts_acknowledged", "alerts_total")


def live_tenant_figures(tenants: QuerySet, tenant_ids=None) -> QuerySet:
    """Per tenant, counted now: routers total/online/offline, `alerts_open` (open alerts, `open_alert_q`) and
    `modems_poor` (modems whose band is "poor": the cellular page's "Modems in poor health"). The definitions
    behind the stored `TenantFigures` (`ncm_sync.services.figures`); pages read `annotate_tenant_figures`."""
    live = Router.objects.filter(deleted_at__isnull=True)
    return tenants.annotate(
        routers_total=_per_tenant(live),
        routers_online=_per_tenant(live.filter(state="online")),
        routers_offline=_per_tenant(live.filter(state="offline")),
        alerts_open=_per_tenant(Alert.objects.filter(open_alert_q())),
        modems_poor=_per_tenant(_poor_modems(tenant_ids)),
        alerts_acknowledged=_per_tenant(Alert.objects.filter(acknowledged_at__isnull=False)),
        alerts_total=_per_tenant(Alert.objects.all()),
    )


def annotate_tenant_figures(tenants: QuerySet, names: tuple[str, ...] = TENANT_FIGURES) -> QuerySet:
    """Per tenant the MSP overview's figures (`TENANT_FIGURES`, or `names`), read from its stored `TenantFigures`
    row (one join, whatever the fleet's size); a tenant with no row yet is counted live (SQL's COALESCE evaluates
    the count only then)."""
    live = live_tenant_figures(Tenant.objects.filter(pk=OuterRef("pk")))
    return tenants.annotate(**{
        name: Coalesce(F(f"fleet_figures__{name}"), Subquery(live.values(name)[:1], output_field=IntegerField()), 0)
        for name in names
    })


def overview_totals(tenants: QuerySet) -> dict[str, int]:
    """Totals over tenants annotated by `annotate_tenant_figures`: one query that evaluates each tenant's figures
    once (an aggregate with FILTER clauses would evaluate every per-tenant subquery again per clause)."""
    rows = list(tenants.order_by().values_list("routers_online", "routers_offline", "alerts_open", "modems_poor"))
    return {
        "online": sum(r[0] for r in rows),
        "offline": sum(r[1] for r in rows),
        "alerts": sum(r[2] for r in rows),
        "tenants_offline": sum(1 for r in rows if r[1]),
        "tenants_alerting": sum(1 for r in rows if r[2]),
        "tenants_poor": sum(1 for r in rows if r[3]),
    }


def latest_location(router: Router) -> Location | None:
    return Location.objects.filter(router=router, deleted_at__isnull=True).order_by("-last_seen_at", "-id").first()


#
# Net devices and modems: the latest health and metrics (ONE definition)
#
# A net device's health (and metrics) is its live row NCM reported last: newest `last_seen_at`, then newest id.
# An index on (net_device, last_seen_at DESC, id DESC) for live rows makes each lookup one index probe
# (migration 0004), so a page of 1,000 devices costs one query whatever the size of the mirror.
LATEST_ORDER = ("-last_seen_at", "-id")
HEALTH_BANDS = ("excellent", "good", "fair", "poor")


def latest_health(field: str, outer: str = "pk") -> Subquery:
    return Subquery(
        NetDeviceHealth.objects.filter(net_device=OuterRef(outer), deleted_at__isnull=True)
        .order_by(*LATEST_ORDER).values(field)[:1]
    )


def latest_metrics(field: str, outer: str = "pk", output_field=None) -> Subquery:
    return Subquery(
        NetDeviceMetrics.objects.filter(net_device=OuterRef(outer), deleted_at__isnull=True)
        .order_by(*LATEST_ORDER).values(field)[:1],
        output_field=output_field,
    )


def with_health(qs: QuerySet) -> QuerySet:
    """`health_score` and `health_category` (NCM's cellular health) from the latest health row."""
    return qs.annotate(
        health_score=latest_health("cellular_health_score"),
        health_category=latest_health("cellular_health_category"),
    )


def with_metrics_data(qs: QuerySet) -> QuerySet:
    """`metrics_data`: the latest NCM net_device_metrics object, as NCM sent it."""
    return qs.annotate(metrics_data=latest_metrics("data", output_field=FastJSONField()))


def band() -> Coalesce:
    """A modem's health band: NCM's latest health category when it is one of HEALTH_BANDS, otherwise the
    dashboards' fallback on the latest signal strength (75 / 50 / 25), else "unknown". Each latest row is looked
    up once (a CASE over the two lookups would run them again for every WHEN)."""
    health = (
        NetDeviceHealth.objects.filter(net_device=OuterRef("pk"), deleted_at__isnull=True).order_by(*LATEST_ORDER)
        .annotate(lowered=Lower("cellular_health_category"))
        .annotate(b=Case(When(lowered__in=HEALTH_BANDS, then=F("lowered")), default=Value(None), output_field=CharField()))
        .values("b")[:1]
    )
    signal = (
        NetDeviceMetrics.objects.filter(net_device=OuterRef("pk"), deleted_at__isnull=True).order_by(*LATEST_ORDER)
        .annotate(b=Case(
            When(signal_strength__gte=75, then=Value("excellent")),
            When(signal_strength__gte=50, then=Value("good")),
            When(signal_strength__gte=25, then=Value("fair")),
            When(signal_strength__isnull=False, then=Value("poor")),
            default=Value(None), output_field=CharField(),
        ))
        .values("b")[:1]
    )
    return Coalesce(Subquery(health), Subquery(signal), Value("unknown"), output_field=CharField())


def with_band(qs: QuerySet) -> QuerySet:
    """`band` alone (see `band`): what the overview's per-tenant "Modems in poor health" counts."""
    return qs.annotate(band=band())


def with_signal(qs: QuerySet) -> QuerySet:
    """Signal figures of the latest metrics row, and `band` (see `band`)."""
    return qs.annotate(
        signal_strength=latest_metrics("signal_strength"),
        rsrp=latest_metrics("rsrp"),
        rsrq=latest_metrics("rsrq"),
        sinr=latest_metrics("sinr"),
        rssi=latest_metrics("dbm"),
        metrics_updated=latest_metrics("update_ts"),
        band=band(),
    )


def live_modems() -> QuerySet:
    """Every live cellular modem (net device of type "mdm"), unscoped: callers scope it."""
    return NetDevice.objects.filter(deleted_at__isnull=True, type="mdm")


def modems_for(user, tenant=None, router=None, action: str = Action.VIEW) -> QuerySet:
    """Live cellular modems (net devices of type "mdm") in scope, with health, signal and band."""
    qs = live_modems().for_user(user, action)
    if tenant is not None:
        qs = qs.filter(tenant=tenant)
    if router is not None:
        qs = qs.filter(router=router)
    return with_signal(with_health(qs.select_related("router")))


def modem_figures(modems: QuerySet) -> dict[str, int]:
    """The cellular page's stat cards, in one query: every figure counts modems (not routers). Grouped by band
    and router state, so each modem's band is worked out once."""
    figures = {"total": 0, "online": 0, "offline": 0, **dict.fromkeys(HEALTH_BANDS, 0)}
    for row in modems.order_by().values("band", "router__state").annotate(n=Count("pk")):
        figures["total"] += row["n"]
        if row["router__state"] in ("online", "offline"):
            figures[row["router__state"]] += row["n"]
        if row["band"] in HEALTH_BANDS:
            figures[row["band"]] += row["n"]
    return figures


#
# Configuration layers
#
def router_configuration(router: Router) -> dict[str, Any]:
    """A router's configuration layers (NCM's rules, `ncm_config`): group, individual, the effective result,
    and per setting the layer its value comes from. Passwords are masked throughout."""
    group_layer = ncm_config.normalize((router.group.data or {}).get("configuration")) if router.group_id else None
    manager = (
        ConfigurationManager.objects.filter(router=router, deleted_at__isnull=True).order_by("-last_seen_at").first()
    )
    individual_layer = ncm_config.normalize((manager.data or {}).get("configuration")) if manager else None
    group, individual = ncm_config.mask_passwords(group_layer or [{}, []]), ncm_config.mask_passwords(individual_layer or [{}, []])
    merged, origins = ncm_config.merge_layers(group, individual)
    removed = sorted({".".join(map(str, path)) if isinstance(path, (list, tuple)) else str(path) for path in individual[1]})
    group_values, merged_values = ncm_config.flatten(group[0]), ncm_config.flatten(merged[0])
    rows = []
    for path in sorted(origins):
        if origins[path] == "group" and any(path == r or path.startswith(r + ".") for r in removed):
            continue  # removed on this router
        rows.append({
            "path": path, "value": merged_values.get(path), "layer": origins[path],
            "overrides": origins[path] == "individual" and path in group_values,
            "group_value": group_values.get(path) if origins[path] == "individual" else None,
        })
    return {
        "group": group if group_layer is not None else None,
        "individual": individual if individual_layer is not None else None,
        "effective": merged,
        "rows": rows,
        "removed": removed,
        "configuration_manager": manager.ncm_id if manager else None,
        "manager": manager,
    }


#
# Firmware inventory: which versions run where, which groups are behind (API and dashboards)
#
def version_key(version: str) -> tuple:
    """"7.24.10" -> (7, 24, 10): numeric parts compare as numbers ("7.24.10" > "7.9.0")."""
    return tuple(int(part) for part in re.findall(r"\d+", str(version or "")))


def firmware_inventory(routers, groups) -> dict:
    """Which firmware versions run where (per product and version, counts of routers, of those online), and
    which groups are behind (routers not yet on the group's target). `routers`, `groups`: scoped querysets."""
    live = routers.filter(deleted_at__isnull=True)
    versions = [
        {"product": row["product"], "firmware": row["firmware"], "routers": row["n"], "online": row["online"],
         "tenants": row["tenants"]}
        for row in live.values("product", "firmware").annotate(
            n=Count("id"), online=Count("id", filter=Q(state="online")), tenants=Count("tenant", distinct=True),
        ).order_by("product", "firmware")
    ]
    versions.sort(key=lambda r: (r["product"], version_key(r["firmware"])))
    behind = []
    rows = (
        groups.filter(deleted_at__isnull=True).exclude(target_firmware_ncm_id="")
        .annotate(routers_total=Count("routers", filter=Q(routers__deleted_at__isnull=True)),
                  routers_behind=Count("routers", filter=Q(routers__deleted_at__isnull=True)
                                       & ~Q(routers__actual_firmware_ncm_id=F("target_firmware_ncm_id"))))
        .filter(routers_behind__gt=0).order_by("tenant_id", "name")
        .values("id", "tenant", "name", "product", "firmware", "target_firmware_ncm_id", "routers_total", "routers_behind")
    )
    for row in rows:
        behind.append({"group": row["id"], "tenant": row["tenant"], "name": row["name"], "product": row["product"],
                       "target_firmware": row["firmware"], "routers": row["routers_total"], "behind": row["routers_behind"]})
    return {"versions": versions, "groups_behind": behind}
