"""Sites and devices of every provider as the API shows them (contract §4)."""
from __future__ import annotations

from rest_framework import serializers

from devices.models import Device, Site
from portal.api.serializers import ScopedModelSerializer


class SiteSerializer(ScopedModelSerializer):
    class Meta:
        model = Site
        fields = ["id", "tenant", "provider", "remote_id", "name", "data", "first_seen_at", "last_seen_at", "deleted_at"]
        read_only_fields = fields


class DeviceSerializer(ScopedModelSerializer):
    vendor = serializers.JSONField(read_only=True, help_text="The vendor's own object, under the vendor's names.")

    class Meta:
        model = Device
        fields = ["id", "tenant", "provider", "remote_id", "name", "serial", "mac", "status", "site", "group",
                  "router", "last_contact", "config_suspended", "config_pending", "vendor", "first_seen_at",
                  "last_seen_at", "deleted_at"]
        read_only_fields = fields


class ConfigurationKeySerializer(serializers.Serializer):
    value = serializers.CharField(allow_null=True)
    origin = serializers.CharField(help_text="ecCloud: device, site-device or site; NCM: group or individual.")
    level = serializers.CharField(help_text="Where the value comes from: device, site or group.")


class DeviceConfigurationSerializer(serializers.Serializer):
    effective = serializers.DictField(child=serializers.JSONField(allow_null=True))
    keys = serializers.DictField(child=ConfigurationKeySerializer())
