"""Mirrored NCM rows as the API shows them: NCM's own fields under NCM's names, plus the portal's `id`,
`tenant`, `ncm_id` (NCM's id, a string) and links to other mirrored rows as portal ids.
"""
from __future__ import annotations

from rest_framework import serializers

from ncm_sync import selectors
from ncm_sync.models import Account, Alert, Group, Location, NetDevice, Router, SyncRun
from portal.api.serializers import ScopedModelSerializer

MIRROR_FIELDS = ["id", "tenant", "ncm_id", "first_seen_at", "last_seen_at", "deleted_at"]
_DATETIME = serializers.DateTimeField()  # one instance for every row (it keeps no per-value state)


class MirrorSerializer(ScopedModelSerializer):
    """Read-only. `last_seen_at` of a live row is the later of its last write and the tenant's last
    complete sync (which listed it unchanged)."""

    last_seen_at = serializers.SerializerMethodField()

    def get_last_seen_at(self, obj) -> str:
        seen = obj.last_seen_at
        synced = getattr(obj.tenant, "last_synced_at", None) if obj.deleted_at is None else None
        if synced and synced > seen:
            seen = synced
        return _DATETIME.to_representation(seen)

    def to_representation(self, instance):
        portal = super().to_representation(instance)
        data = {k: v for k, v in (instance.data or {}).items() if k != "id"}
        data.update(portal)
        return data


class AccountSerializer(MirrorSerializer):
    class Meta:
        model = Account
        fields = MIRROR_FIELDS + ["name", "is_disabled", "parent"]
        read_only_fields = fields


class GroupSerializer(MirrorSerializer):
    product_name = serializers.CharField(source="product", read_only=True, help_text="Full product name.")
    product = serializers.SerializerMethodField(help_text="NCM's product (its URL), as NCM gives it.")
    firmware_version = serializers.CharField(source="firmware", read_only=True)

    class Meta:
        model = Group
        fields = MIRROR_FIELDS + ["name", "account", "product", "product_name", "firmware_version"]
        read_only_fields = fields

    def get_product(self, obj) -> str | None:
        return (obj.data or {}).get("product")


class RouterSerializer(MirrorSerializer):
    class Meta:
        model = Router
        fields = MIRROR_FIELDS + ["name", "serial_number", "mac", "state", "group", "account"]
        read_only_fields = fields

    def to_representation(self, instance):
        data = super().to_representation(instance)
        data["mac"] = instance.data.get("mac", data.get("mac"))  # NCM's own spelling
        data["firmware_version"] = instance.firmware
        return data


class NetDeviceSerializer(MirrorSerializer):
    cellular_health_score = serializers.IntegerField(source="health_score", read_only=True, allow_null=True)
    cellular_health_category = serializers.CharField(source="health_category", read_only=True, allow_null=True)
    metrics = serializers.JSONField(source="metrics_data", read_only=True, allow_null=True,
                                    help_text="NCM net_device_metrics of this device (signal, usage, cell tower).")

    class Meta:
        model = NetDevice
        fields = MIRROR_FIELDS + ["name", "router", "carrier", "connection_state", "is_asset", "mode",
                                  "cellular_health_score", "cellular_health_category", "metrics"]
        read_only_fields = fields

    def to_representation(self, instance):
        data = super().to_representation(instance)
        data["mac"] = instance.data.get("mac")
        if isinstance(data.get("metrics"), dict):
            data["metrics"] = {k: v for k, v in data["metrics"].items() if k not in ("id", "net_device")}
        return data


class LocationSerializer(MirrorSerializer):
    class Meta:
        model = Location
        fields = MIRROR_FIELDS + ["router", "latitude", "longitude", "accuracy", "method"]
        read_only_fields = fields


class AlertSerializer(MirrorSerializer):
    """An NCM alert (NCM's own fields, e.g. `created_at`, `detected_at`, `info`), plus the portal's
    acknowledgement: `acknowledged`, `acknowledged_at`, `acknowledged_by` (a user id), and `status`: `open` (a
    problem nobody has acknowledged), `acknowledged`, or `event` (informational, never open); `type_label` is the
    type in words."""

    acknowledged = serializers.SerializerMethodField()
    status = serializers.SerializerMethodField()
    type_label = serializers.SerializerMethodField()

    class Meta:
        model = Alert
        fields = MIRROR_FIELDS + ["type", "type_label", "status", "router", "account", "created_at_timeuuid",
                                  "friendly_info", "acknowledged", "acknowledged_at", "acknowledged_by"]
        read_only_fields = fields

    def get_acknowledged(self, obj) -> bool:
        return obj.acknowledged_at is not None

    def get_status(self, obj) -> str:
        return selectors.alert_status(obj)

    def get_type_label(self, obj) -> str:
        return selectors.alert_type_label(obj.type, (obj.data or {}).get("info"))


class AlertCountSerializer(serializers.Serializer):
    tenant = serializers.IntegerField()
    tenant_name = serializers.CharField()
    open = serializers.IntegerField(help_text="Open alerts: problems (not events) nobody has acknowledged, any age.")
    acknowledged = serializers.IntegerField()
    events = serializers.IntegerField(help_text="Informational alerts (e.g. a router came online), not acknowledged.")
    total = serializers.IntegerField(help_text="open + acknowledged + events.")


class SyncRunSerializer(ScopedModelSerializer):
    class Meta:
        model = SyncRun
        fields = [
            "id", "tenant", "status", "trigger", "requested_by", "created_at", "started_at", "finished_at",
            # When the worker running it last beat: a running run silent for SYNC_HEARTBEAT_TIMEOUT_SECONDS is failed.
            "heartbeat_at",
            "api_calls", "created", "updated", "deleted", "unchanged", "resources", "error",
        ]
        read_only_fields = fields


class ConfigurationRowSerializer(serializers.Serializer):
    path = serializers.CharField()
    value = serializers.JSONField(allow_null=True)
    layer = serializers.ChoiceField(choices=["group", "individual"])
    overrides = serializers.BooleanField(help_text="An individual value replacing the group's.")
    group_value = serializers.JSONField(allow_null=True)


class RouterConfigurationSerializer(serializers.Serializer):
    """NCM's `[updates, removals]` diffs per layer, passwords masked."""

    group = serializers.JSONField(allow_null=True, help_text="The group layer (none when the router has no group).")
    individual = serializers.JSONField(allow_null=True, help_text="The router's own layer (its configuration manager).")
    effective = serializers.JSONField(help_text="The individual layer over the group layer.")
    rows = ConfigurationRowSerializer(many=True)
    removed = serializers.ListField(child=serializers.CharField(), help_text="Settings removed on this router.")
    configuration_manager = serializers.CharField(allow_null=True, help_text="NCM id of the configuration manager.")
    notice = serializers.CharField(
        help_text="Empty when the layers are current; otherwise why NCM could not be asked and how old the copy is.")


class FirmwareVersionRowSerializer(serializers.Serializer):
    product = serializers.CharField(help_text="NCM's full product name.")
    firmware = serializers.CharField(help_text="The firmware version the routers run.")
    routers = serializers.IntegerField()
    online = serializers.IntegerField()
    tenants = serializers.IntegerField(help_text="Tenants with such routers.")


class GroupBehindSerializer(serializers.Serializer):
    group = serializers.IntegerField()
    tenant = serializers.IntegerField()
    name = serializers.CharField()
    product = serializers.CharField()
    target_firmware = serializers.CharField(help_text="The group's target firmware version.")
    routers = serializers.IntegerField()
    behind = serializers.IntegerField(help_text="Routers not running the group's target firmware.")


class FirmwareInventorySerializer(serializers.Serializer):
    versions = FirmwareVersionRowSerializer(many=True)
    groups_behind = GroupBehindSerializer(many=True)

