"""The NCM mirror: each tenant's accounts, groups, routers, net devices (with cellular health and signal
metrics), locations, alerts and router configurations, plus sync runs and per-tenant sync state.

Every mirrored row keeps the whole NCM object (`data`), the fields MSPs filter on as real columns, a content
hash (so an unchanged object is never rewritten), `first_seen_at`/`last_seen_at`, and a tombstone
(`deleted_at`) once a complete listing no longer returns it. Links between mirrored rows are real foreign
keys; the NCM id of the link is kept next to it (`*_ncm_id`) so links resolve in bulk whichever row arrives
first.
"""
from __future__ import annotations

from datetime import datetime, timezone

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from portal import fastjson
from portal.models import TenantOwnedModel, tenant_foreign_key
from portal.scoping import TenantScopedQuerySet

__all__ = [
    "MirroredModel",
    "Account",
    "Group",
    "Router",
    "NetDevice",
    "NetDeviceHealth",
    "NetDeviceMetrics",
    "Location",
    "Alert",
    "ConfigurationManager",
    "SyncRun",
    "SyncRunStatus",
    "SyncState",
    "MIRRORED_MODELS",
]


class MirroredQuerySet(TenantScopedQuerySet):
    def live(self):
        return self.filter(deleted_at__isnull=True)


class MirroredModel(TenantOwnedModel):
    """Abstract mirrored NCM object. Subclasses set RESOURCE, RELATIONS and `columns(obj)`."""

    RESOURCE: str = ""
    # field name -> (ncm id column, related model name)
    RELATIONS: dict[str, tuple[str, str]] = {}

    tenant = tenant_foreign_key(db_index=False)  # (tenant, ncm_id) and (tenant, deleted_at) lead with it
    ncm_id = models.CharField(_("NCM id"), max_length=64)
    data = fastjson.JSONField(_("NCM object"), default=dict)
    content_hash = models.CharField(max_length=32, editable=False)
    first_seen_at = models.DateTimeField(_("first seen at"))
    last_seen_at = models.DateTimeField(_("last seen at"), help_text=_("Last time the row was written from NCM."))
    deleted_at = models.DateTimeField(_("deleted at"), null=True, blank=True, help_text=_("NCM no longer returns it."))

    objects = MirroredQuerySet.as_manager()

    class Meta:
        abstract = True

    def __str__(self) -> str:
        return f"{self._meta.verbose_name} {self.ncm_id}"

    @classmethod
    def columns(cls, obj: dict) -> dict:
        """The filterable columns for one NCM object (relation ncm ids included)."""
        raise NotImplementedError


def _mirror_meta(name: str, indexed: tuple[str, ...] = (), **extra) -> type:
    """The Meta of a mirrored model: ncm_id unique per tenant, an index for live rows, a plain
    btree per `indexed` column. Not `db_index=True`: on a CharField that also builds a
    varchar_pattern_ops copy for LIKE 'x%', which no query here makes and every sync write paid for."""
    return type("Meta", (), {
        "constraints": [models.UniqueConstraint(fields=["tenant", "ncm_id"], name=f"ncm_{name}_unique_ncm_id")],
        "indexes": [
            models.Index(fields=["tenant", "deleted_at"], name=f"ncm_{name}_live"),
            *(models.Index(fields=[column], name=f"ncm_{name}_{column}"[:30]) for column in indexed),
        ],
        "ordering": ["tenant_id", "id"],
        **extra,
    })


def ncm_ref(value) -> str:
    """The NCM id in a relation value: a URL ('.../routers/42/'), an expanded object, or an id."""
    if value is None or value == "":
        return ""
    if isinstance(value, dict):
        value = value.get("id") or value.get("resource_url") or ""
    value = str(value).rstrip("/")
    return value.rsplit("/", 1)[-1] if "/" in value else value


def _s(value, length: int = 200) -> str:
    return "" if value is None else str(value)[:length]


def _int(value):
    try:
        return None if value is None or value == "" else int(float(value))
    except (TypeError, ValueError):
        return None


def _float(value):
    try:
        return None if value is None or value == "" else float(value)
    except (TypeError, ValueError):
        return None


def _when(value):
    """An NCM timestamp as an aware datetime (UTC when NCM gives no offset), None if absent or unreadable."""
    from django.utils.dateparse import parse_datetime

    if not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(value)  # what NCM sends; Django's parser (regex) for anything looser
    except ValueError:
        try:
            parsed = parse_datetime(value)
        except ValueError:
            return None
    return parsed.replace(tzinfo=timezone.utc) if parsed is not None and parsed.tzinfo is None else parsed


def _bool(value):
    if value is None:
        return None
    if isinstance(value, str):
        return value.lower() in ("true", "1", "yes")
    return bool(value)


def normalize_mac(value) -> str:
    return _s(value, 32).lower()


class Account(MirroredModel):
    RESOURCE = "accounts"
    RELATIONS = {"parent": ("parent_ncm_id", "Account")}

    name = models.CharField(max_length=200, blank=True)
    is_disabled = models.BooleanField(null=True)
    parent_ncm_id = models.CharField(max_length=64, blank=True)
    parent = models.ForeignKey("self", null=True, blank=True, on_delete=models.SET_NULL, related_name="children")

    Meta = _mirror_meta("account", indexed=("name",))

    @classmethod
    def columns(cls, obj):
        return {"name": _s(obj.get("name")), "is_disabled": _bool(obj.get("is_disabled")),
                "parent_ncm_id": ncm_ref(obj.get("account"))}


class Group(MirroredModel):
    """A group: its `configuration` (in `data`) is the group layer of its routers' configuration."""

    RESOURCE = "groups"
    RELATIONS = {"account": ("account_ncm_id", "Account")}

    name = models.CharField(max_length=200, blank=True)
    device_type = models.CharField(max_length=40, blank=True)
    product_ncm_id = models.CharField(max_length=64, blank=True)
    product = models.CharField(max_length=100, blank=True)
    target_firmware_ncm_id = models.CharField(max_length=64, blank=True)
    firmware = models.CharField(max_length=64, blank=True)
    account_ncm_id = models.CharField(max_length=64, blank=True)
    account = models.ForeignKey(Account, null=True, blank=True, on_delete=models.SET_NULL, related_name="groups")

    Meta = _mirror_meta("group", indexed=("name", "product", "firmware"))

    @classmethod
    def columns(cls, obj):
        return {
            "name": _s(obj.get("name")), "device_type": _s(obj.get("device_type"), 40),
            "product_ncm_id": ncm_ref(obj.get("product")), "product": _s(obj.get("product_name"), 100),
            "target_firmware_ncm_id": ncm_ref(obj.get("target_firmware")),
            "firmware": _s(obj.get("target_firmware_version") or obj.get("firmware_version"), 64),
            "account_ncm_id": ncm_ref(obj.get("account")),
        }


class Router(MirroredModel):
    RESOURCE = "routers"
    # What a search box matches: one upper-cased text of these columns, served by one trigram index
    # (migrations 0009 and 0012; `selectors.search`).
    SEARCHED = ("name", "serial_number", "mac", "ipv4_address")
    RELATIONS = {"group": ("group_ncm_id", "Group"), "account": ("account_ncm_id", "Account")}

    name = models.CharField(max_length=200, blank=True)
    serial_number = models.CharField(max_length=64, blank=True)
    mac = models.CharField(max_length=32, blank=True)
    state = models.CharField(max_length=20, blank=True)
    state_updated_at = models.DateTimeField(null=True, blank=True)
    device_type = models.CharField(max_length=40, blank=True)
    product = models.CharField(_("full product name"), max_length=100, blank=True)
    product_ncm_id = models.CharField(max_length=64, blank=True)
    firmware = models.CharField(_("firmware version"), max_length=64, blank=True)
    actual_firmware_ncm_id = models.CharField(max_length=64, blank=True)
    target_firmware_ncm_id = models.CharField(max_length=64, blank=True)
    config_status = models.CharField(max_length=20, blank=True)
    ipv4_address = models.CharField(max_length=64, blank=True)
    group_ncm_id = models.CharField(max_length=64, blank=True)
    group = models.ForeignKey(Group, null=True, blank=True, on_delete=models.SET_NULL, related_name="routers")
    account_ncm_id = models.CharField(max_length=64, blank=True)
    account = models.ForeignKey(Account, null=True, blank=True, on_delete=models.SET_NULL, related_name="routers")

    Meta = _mirror_meta("router", indexed=("name", "serial_number", "mac", "state", "product", "firmware"))

    @classmethod
    def columns(cls, obj):
        state_at = _when(obj.get("state_updated_at"))
        return {
            "name": _s(obj.get("name")), "serial_number": _s(obj.get("serial_number"), 64),
            "mac": normalize_mac(obj.get("mac")), "state": _s(obj.get("state"), 20), "state_updated_at": state_at,
            "device_type": _s(obj.get("device_type"), 40), "product": _s(obj.get("full_product_name"), 100),
            "product_ncm_id": ncm_ref(obj.get("product")),
            "firmware": _s(obj.get("firmware_version") or obj.get("actual_firmware_version"), 64),
            "actual_firmware_ncm_id": ncm_ref(obj.get("actual_firmware")),
            "target_firmware_ncm_id": ncm_ref(obj.get("target_firmware")),
            "config_status": _s(obj.get("config_status"), 20), "ipv4_address": _s(obj.get("ipv4_address"), 64),
            "group_ncm_id": ncm_ref(obj.get("group")), "account_ncm_id": ncm_ref(obj.get("account")),
        }


class NetDevice(MirroredModel):
    """A router's network interface; modems (`is_asset`) carry the cellular figures."""

    RESOURCE = "net_devices"
    SEARCHED = ("name", "serial", "mac", "iccid", "imei", "carrier")  # as Router.SEARCHED
    RELATIONS = {"router": ("router_ncm_id", "Router")}

    name = models.CharField(max_length=200, blank=True)
    mode = models.CharField(max_length=20, blank=True)
    type = models.CharField(max_length=40, blank=True)
    is_asset = models.BooleanField(null=True)
    connection_state = models.CharField(max_length=40, blank=True)
    carrier = models.CharField(max_length=100, blank=True)
    service_type = models.CharField(max_length=40, blank=True)
    mac = models.CharField(max_length=32, blank=True)
    serial = models.CharField(max_length=64, blank=True)
    iccid = models.CharField(max_length=40, blank=True)
    imei = models.CharField(max_length=40, blank=True)
    ipv4_address = models.CharField(max_length=64, blank=True)
    account_ncm_id = models.CharField(max_length=64, blank=True)
    router_ncm_id = models.CharField(max_length=64, blank=True)
    router = models.ForeignKey(Router, null=True, blank=True, on_delete=models.SET_NULL, related_name="net_devices")

    Meta = _mirror_meta("netdevice", indexed=("connection_state", "carrier", "mac", "serial"))

    @classmethod
    def columns(cls, obj):
        return {
            "name": _s(obj.get("name")), "mode": _s(obj.get("mode"), 20), "type": _s(obj.get("type"), 40),
            "is_asset": _bool(obj.get("is_asset")), "connection_state": _s(obj.get("connection_state"), 40),
            "carrier": _s(obj.get("carrier"), 100), "service_type": _s(obj.get("service_type"), 40),
            "mac": normalize_mac(obj.get("mac")), "serial": _s(obj.get("serial"), 64),
            "iccid": _s(obj.get("iccid"), 40), "imei": _s(obj.get("imei"), 40),
            "ipv4_address": _s(obj.get("ipv4_address"), 64),
            "account_ncm_id": ncm_ref(obj.get("account")), "router_ncm_id": ncm_ref(obj.get("router")),
        }


class NetDeviceHealth(MirroredModel):
    """NCM `net_device_health`: the cellular health score (0-100) and category of a net device."""

    RESOURCE = "net_device_health"
    RELATIONS = {"net_device": ("net_device_ncm_id", "NetDevice")}

    cellular_health_score = models.IntegerField(null=True, blank=True)
    cellular_health_category = models.CharField(max_length=20, blank=True)
    net_device_ncm_id = models.CharField(max_length=64, blank=True)
    net_device = models.ForeignKey(NetDevice, null=True, blank=True, on_delete=models.SET_NULL, related_name="health")

    Meta = _mirror_meta("ndhealth", indexed=("cellular_health_category", "net_device_ncm_id"))

    @classmethod
    def columns(cls, obj):
        return {
            "cellular_health_score": _int(obj.get("cellular_health_score")),
            "cellular_health_category": _s(obj.get("cellular_health_category"), 20),
            "net_device_ncm_id": ncm_ref(obj.get("net_device") or obj.get("id")),
        }


class NetDeviceMetrics(MirroredModel):
    """NCM `net_device_metrics`: the latest signal and usage figures of a net device (its id is the device's)."""

    RESOURCE = "net_device_metrics"
    RELATIONS = {"net_device": ("net_device_ncm_id", "NetDevice")}

    signal_strength = models.IntegerField(null=True, blank=True)
    rsrp = models.FloatField(null=True, blank=True)
    rsrq = models.FloatField(null=True, blank=True)
    sinr = models.FloatField(null=True, blank=True)
    dbm = models.IntegerField(null=True, blank=True)
    service_type = models.CharField(max_length=40, blank=True)
    update_ts = models.CharField(max_length=40, blank=True)
    net_device_ncm_id = models.CharField(max_length=64, blank=True)
    net_device = models.ForeignKey(NetDevice, null=True, blank=True, on_delete=models.SET_NULL, related_name="metrics")

    Meta = _mirror_meta("ndmetrics", indexed=("net_device_ncm_id",), verbose_name_plural="net device metrics")

    @classmethod
    def columns(cls, obj):
        return {
            "signal_strength": _int(obj.get("signal_strength")), "rsrp": _float(obj.get("rsrp")),
            "rsrq": _float(obj.get("rsrq")), "sinr": _float(obj.get("sinr")), "dbm": _int(obj.get("dbm")),
            "service_type": _s(obj.get("service_type"), 40), "update_ts": _s(obj.get("update_ts"), 40),
            "net_device_ncm_id": ncm_ref(obj.get("net_device") or obj.get("id")),
        }


class Location(MirroredModel):
    RESOURCE = "locations"
    RELATIONS = {"router": ("router_ncm_id", "Router")}

    latitude = models.FloatField(null=True, blank=True)
    longitude = models.FloatField(null=True, blank=True)
    accuracy = models.FloatField(null=True, blank=True)
    method = models.CharField(max_length=20, blank=True)
    account_ncm_id = models.CharField(max_length=64, blank=True)
    router_ncm_id = models.CharField(max_length=64, blank=True)
    router = models.ForeignKey(Router, null=True, blank=True, on_delete=models.SET_NULL, related_name="locations")

    Meta = _mirror_meta("location")

    @classmethod
    def columns(cls, obj):
        return {
            "latitude": _float(obj.get("latitude")), "longitude": _float(obj.get("longitude")),
            "accuracy": _float(obj.get("accuracy")), "method": _s(obj.get("method"), 20),
            "account_ncm_id": ncm_ref(obj.get("account")), "router_ncm_id": ncm_ref(obj.get("router")),
        }


class Alert(MirroredModel):
    """An NCM alert (synced incrementally by `created_at_timeuuid`; alerts are history, never tombstoned)."""

    RESOURCE = "alerts"
    RELATIONS = {"router": ("router_ncm_id", "Router"), "account": ("account_ncm_id", "Account")}

    type = models.CharField(max_length=64, blank=True)
    created_at_timeuuid = models.CharField(max_length=64, blank=True)
    ncm_created_at = models.DateTimeField(null=True, blank=True, db_index=True)
    detected_at = models.DateTimeField(null=True, blank=True)
    friendly_info = models.TextField(blank=True)
    router_ncm_id = models.CharField(max_length=64, blank=True)
    router = models.ForeignKey(Router, null=True, blank=True, on_delete=models.SET_NULL, related_name="alerts")
    account_ncm_id = models.CharField(max_length=64, blank=True)
    account = models.ForeignKey(Account, null=True, blank=True, on_delete=models.SET_NULL, related_name="alerts")
    # Portal-side state (never written by the sync): who acknowledged the alert, and when.
    acknowledged_at = models.DateTimeField(_("acknowledged at"), null=True, blank=True, db_index=True)
    acknowledged_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+",
        verbose_name=_("acknowledged by"),
    )

    Meta = _mirror_meta("alert", indexed=("type",))

    @staticmethod
    def ncm_id_of(obj: dict) -> str:
        return str(obj.get("id") or obj.get("created_at_timeuuid") or "")

    @classmethod
    def columns(cls, obj):
        return {
            "type": _s(obj.get("type"), 64), "created_at_timeuuid": _s(obj.get("created_at_timeuuid"), 64),
            "ncm_created_at": _when(obj.get("created_at")), "detected_at": _when(obj.get("detected_at")),
            "friendly_info": _s(obj.get("friendly_info"), 2000),
            "router_ncm_id": ncm_ref(obj.get("router")), "account_ncm_id": ncm_ref(obj.get("account")),
        }


class ConfigurationManager(MirroredModel):
    """A router's configuration manager: `data["configuration"]` is the router's individual layer."""

    RESOURCE = "configuration_managers"
    RELATIONS = {"router": ("router_ncm_id", "Router")}

    synched = models.BooleanField(null=True)
    suspended = models.BooleanField(null=True)
    version_number = models.IntegerField(null=True, blank=True)
    router_ncm_id = models.CharField(max_length=64, blank=True)
    router = models.ForeignKey(
        Router, null=True, blank=True, on_delete=models.SET_NULL, related_name="configuration_managers"
    )

    Meta = _mirror_meta("configmgr", indexed=("router_ncm_id",))

    @classmethod
    def columns(cls, obj):
        return {
            "synched": _bool(obj.get("synched")), "suspended": _bool(obj.get("suspended")),
            "version_number": _int(obj.get("version_number")), "router_ncm_id": ncm_ref(obj.get("router")),
        }


# In the order a sync writes them (parents first when fetched one at a time).
MIRRORED_MODELS: list[type[MirroredModel]] = [
    Account, Group, Router, NetDevice, NetDeviceHealth, NetDeviceMetrics, Location, ConfigurationManager, Alert,
]


#
# Sync runs and state
#
class SyncRunStatus(models.TextChoices):
    QUEUED = "queued", _("Queued")
    RUNNING = "running", _("Running")
    SUCCEEDED = "succeeded", _("Succeeded")
    FAILED = "failed", _("Failed")


class SyncTrigger(models.TextChoices):
    SCHEDULE = "schedule", _("Schedule")
    MANUAL = "manual", _("Manual")


class SyncRun(TenantOwnedModel):
    """One sync of one tenant (contract §4): status, timings, NCM calls and row counts."""

    status = models.CharField(max_length=16, choices=SyncRunStatus.choices, default=SyncRunStatus.QUEUED, db_index=True)
    trigger = models.CharField(max_length=16, choices=SyncTrigger.choices, default=SyncTrigger.SCHEDULE)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    # Beaten every SYNC_HEARTBEAT_SECONDS by the worker running it: a running run whose heartbeat is older
    # than SYNC_HEARTBEAT_TIMEOUT_SECONDS lost its worker and is failed by the dispatcher's sweep. For a
    # queued run: when its task was last sent again (ncm_sync.services.runs._resend_stuck_queued).
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    api_calls = models.PositiveIntegerField(default=0)
    created = models.PositiveIntegerField(default=0)
    updated = models.PositiveIntegerField(default=0)
    deleted = models.PositiveIntegerField(default=0)
    unchanged = models.PositiveIntegerField(default=0)
    resources = models.JSONField(default=dict, blank=True, help_text=_("Per-resource figures."))
    error = models.TextField(blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["tenant", "created_at"], name="ncm_syncrun_tenant_created")]
        constraints = [
            # At most one queued or running sync per tenant (the database backs up the lock).
            models.UniqueConstraint(
                fields=["tenant"], condition=Q(status__in=["queued", "running"]), name="ncm_syncrun_one_active"
            ),
        ]

    def __str__(self) -> str:
        return f"sync #{self.pk} of tenant {self.tenant_id} ({self.status})"

    @property
    def duration(self):
        if self.started_at and self.finished_at:
            return (self.finished_at - self.started_at).total_seconds()
        return None


class SyncState(models.Model):
    """Per-tenant sync bookkeeping: the alerts cursor and an optional rate-budget override."""

    tenant = models.OneToOneField("accounts.Tenant", on_delete=models.CASCADE, primary_key=True, related_name="ncm_sync_state")
    alerts_cursor = models.CharField(max_length=64, blank=True, help_text=_("Largest created_at_timeuuid mirrored."))
    rate_limit_per_minute = models.PositiveIntegerField(
        null=True, blank=True, help_text=_("NCM calls a minute for this tenant's credential (default: NCM_RATE_LIMIT_PER_MINUTE).")
    )
    firmware_versions = models.JSONField(default=dict, blank=True, help_text=_("NCM firmware id -> version."))
    product_names = models.JSONField(default=dict, blank=True, help_text=_("NCM product id -> name."))
    full_sync_at = models.DateTimeField(
        null=True, blank=True, help_text=_("When a sync last listed every resource completely (NCM_FULL_SYNC_MINUTES)."))
    change_cursors = models.JSONField(
        default=dict, blank=True,
        help_text=_("Per incremental filter (e.g. routers.updated_at__gt) the value a scheduled sync lists changes after."))
    updated_at = models.DateTimeField(auto_now=True)

    objects = TenantScopedQuerySet.as_manager()

    def __str__(self) -> str:
        return f"sync state of tenant {self.tenant_id}"


class TenantFigures(models.Model):
    """The MSP overview's per-tenant figures, kept by `ncm_sync.services.figures.refresh_tenant_figures` whenever
    the mirror changes (the end of every sync run, alert pushes and acknowledgements, single-row saves), so the
    overview reads one row per tenant instead of counting 100k routers and modems per request. The definitions
    are `ncm_sync.selectors.live_tenant_figures`, the same the tenant pages count live."""

    tenant = models.OneToOneField("accounts.Tenant", on_delete=models.CASCADE, primary_key=True, related_name="fleet_figures")
    routers_total = models.PositiveIntegerField(default=0)
    routers_online = models.PositiveIntegerField(default=0)
    routers_offline = models.PositiveIntegerField(default=0)
    alerts_open = models.PositiveIntegerField(default=0)
    modems_poor = models.PositiveIntegerField(default=0)
    # The rest of `/api/v1/alerts/counts/` (events = total - open - acknowledged), answered from here unfiltered.
    alerts_acknowledged = models.PositiveIntegerField(default=0)
    alerts_total = models.PositiveIntegerField(default=0)
    refreshed_at = models.DateTimeField(auto_now=True)

    objects = TenantScopedQuerySet.as_manager()

    class Meta:
        verbose_name_plural = "tenant figures"

    def __str__(self) -> str:
        return f"figures of tenant {self.tenant_id}"
