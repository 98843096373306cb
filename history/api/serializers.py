"""History rows as the API shows them: NCM's fields under NCM's names plus `created_at_timeuuid`, the portal's
`id`, `tenant` and the device as a portal id (`net_device` or `router`)."""
from __future__ import annotations

from rest_framework import serializers

from history.models import LocationSample, RouterLog, SignalSample, StateSample, UsageSample
from portal.api.serializers import ScopedModelSerializer

BASE = ["id", "tenant", "created_at", "created_at_timeuuid"]


def _sample_serializer(model):
    meta = type("Meta", (), {
        "model": model,
        "fields": BASE + [model.DEVICE_FIELD] + list(model.NCM_FIELDS),
        "read_only_fields": BASE + [model.DEVICE_FIELD] + list(model.NCM_FIELDS),
    })
    return type(f"{model.__name__}Serializer", (serializers.ModelSerializer,), {"Meta": meta})


SignalSampleSerializer = _sample_serializer(SignalSample)
UsageSampleSerializer = _sample_serializer(UsageSample)
StateSampleSerializer = _sample_serializer(StateSample)
LocationSampleSerializer = _sample_serializer(LocationSample)
RouterLogSerializer = _sample_serializer(RouterLog)


class UsageSerializer(serializers.Serializer):
    """One row of `/api/v1/usage/`: bytes of a modem, router or tenant over a day or month (UTC)."""

    id = serializers.IntegerField(read_only=True, allow_null=True,
                                  help_text="The daily roll-up's id (only with group_by=modem&period=day; else null).")
    tenant = serializers.IntegerField(source="tenant_id", read_only=True)
    router = serializers.IntegerField(source="router_id", read_only=True, allow_null=True,
                                      help_text="Null when grouped per tenant.")
    net_device = serializers.IntegerField(source="net_device_id", read_only=True, allow_null=True,
                                          help_text="Null unless grouped per modem.")
    period = serializers.CharField(read_only=True)
    start = serializers.DateTimeField(read_only=True)
    bytes_in = serializers.IntegerField(source="b_in", read_only=True)
    bytes_out = serializers.IntegerField(source="b_out", read_only=True)
    bytes_total = serializers.SerializerMethodField()
    samples = serializers.IntegerField(source="n", read_only=True)

    def get_bytes_total(self, row) -> int:
        return int(row.get("b_in") or 0) + int(row.get("b_out") or 0)

    def to_representation(self, instance):
        request = self.context.get("request")
        if not isinstance(instance, dict):  # a daily roll-up row (detail)
            instance = {"id": instance.pk, "tenant_id": instance.tenant_id, "router_id": instance.router_id,
                        "net_device_id": instance.net_device_id, "start": instance.bucket, "b_in": instance.bytes_in,
                        "b_out": instance.bytes_out, "n": instance.samples}
        instance = {**instance, "period": (request.query_params.get("period") if request else None) or "day"}
        data = super().to_representation(instance)
        for key, source in (("id", "id"), ("router", "router_id"), ("net_device", "net_device_id")):
            if source not in instance:
                data[key] = None  # not part of this grouping
        return data


class LicenceSerializer(serializers.ModelSerializer):
    """A device's NCM v3 licence (asset endpoint) with its subscription and end date."""

    subscription = serializers.CharField(source="subscription_ncm_id", read_only=True)
    subscription_name = serializers.CharField(source="subscription.name", read_only=True, default="")
    subscription_type = serializers.CharField(source="subscription.type", read_only=True, default="")
    days_left = serializers.SerializerMethodField()
    status = serializers.SerializerMethodField()

    class Meta:
        from history.models import Licence

        model = Licence
        fields = ["id", "tenant", "ncm_id", "router", "mac_address", "serial_number", "hardware_series",
                  "subscription", "subscription_name", "subscription_type", "end_time", "days_left", "status",
                  "last_seen_at"]
        read_only_fields = fields

    def get_days_left(self, obj) -> int | None:
        from django.utils import timezone

        return None if obj.end_time is None else (obj.end_time - timezone.now()).days

    def get_status(self, obj) -> str:
        days = self.get_days_left(obj)
        if obj.end_time is None:
            return "unknown"
        from django.utils import timezone

        if obj.end_time <= timezone.now():
            return "expired"
        return "expiring" if days is not None and days < 90 else "active"


class ReportScheduleSerializer(ScopedModelSerializer):
    """A tenant's weekly or monthly PDF report and its recipients (saved through history.reports)."""

    recipients = serializers.ListField(child=serializers.CharField(max_length=254), allow_empty=False, max_length=20)

    class Meta:
        from history.models import ReportSchedule

        model = ReportSchedule
        fields = ["id", "tenant", "frequency", "recipients", "enabled", "next_run_at", "created_at"]
        read_only_fields = ["next_run_at", "created_at"]

    def _save(self, validated_data, instance=None):
        from history.reports import report_schedule_save

        def pick(name, default=None):
            return validated_data.get(name, getattr(instance, name, default) if instance else default)

        return report_schedule_save(actor=self.context["request"].user, tenant=pick("tenant"),
                                    frequency=pick("frequency", "monthly"), recipients=pick("recipients", []),
                                    enabled=pick("enabled", True), schedule=instance)

    def create(self, validated_data):
        return self._save(validated_data)

    def update(self, instance, validated_data):
        return self._save(validated_data, instance)


class ReportSerializer(serializers.ModelSerializer):
    """A generated report (the figures it shows); the PDF at `download`."""

    download = serializers.SerializerMethodField()

    class Meta:
        from history.models import Report

        model = Report
        fields = ["id", "tenant", "schedule", "frequency", "period_start", "period_end", "created_at", "status",
                  "recipients", "sent_at", "error", "figures", "download"]
        read_only_fields = fields

    def get_download(self, obj) -> str:
        return f"/api/v1/reports/{obj.pk}/download/"
