"""Job serializers: validation of shape only; targets, parameters and roles are checked by jobs.services."""
from rest_framework import serializers

from accounts.models import Organization, Tenant
from jobs import services
from jobs.formatting import item_summary
from jobs.models import Job, JobItem, JobKind, JobLogEntry, MaintenanceWindow, OrgJob, SpeedTestResult
from portal.api.serializers import ScopedModelSerializer, ScopedPrimaryKeyRelatedField


class JobItemSerializer(ScopedModelSerializer):
    summary = serializers.SerializerMethodField(help_text="The outcome as people read it (Mbps, NCM's message, …).")

    class Meta:
        model = JobItem
        fields = ["id", "job", "tenant", "router", "group", "device", "wave", "status", "error", "result", "summary",
                  "ncm_ref",
                  "dispatched_at", "finished_at"]
        read_only_fields = fields

    def get_summary(self, item) -> str:
        return item_summary(item.job.kind, item.status, item.result, item.error)


class JobRequestSerializer(serializers.Serializer):
    """The body of POST /jobs/ and /jobs/preview/."""

    tenant = ScopedPrimaryKeyRelatedField(queryset=Tenant.objects.all())
    kind = serializers.ChoiceField(choices=JobKind.choices)
    routers = serializers.ListField(child=serializers.IntegerField(min_value=1), required=False, default=list, max_length=10000)
    groups = serializers.ListField(child=serializers.IntegerField(min_value=1), required=False, default=list, max_length=10000)
    devices = serializers.ListField(
        child=serializers.IntegerField(min_value=1), required=False, default=list, max_length=10000,
        help_text="Ids from /api/v1/devices/ (any provider). config_push to ecCloud devices: parameters "
                  '{"changes": {key: "value" or null}}.',
    )
    parameters = serializers.JSONField(required=False, default=dict)
    scheduled_for = serializers.DateTimeField(
        required=False, allow_null=True, default_timezone=None,
        help_text="ISO 8601. Without an offset it is wall-clock time in the tenant's time zone.",
    )
    wait_for_window = serializers.BooleanField(required=False, default=False)
    rollout = serializers.JSONField(
        required=False, default=None, allow_null=True,
        help_text='Staged rollout: {"waves": [2, "10%", 20], "halt_after_failures": 1, "pause_minutes": 0}; '
                  "targets beyond the listed waves form a last wave.",
    )

    def validate_parameters(self, value):
        if not isinstance(value, dict):
            raise serializers.ValidationError("An object is required.")
        return value


class JobLogEntrySerializer(serializers.ModelSerializer):
    class Meta:
        model = JobLogEntry
        fields = ["created_at", "level", "message", "item"]
        read_only_fields = fields


class JobSerializer(ScopedModelSerializer):
    items = JobItemSerializer(many=True, read_only=True)
    log = JobLogEntrySerializer(many=True, read_only=True)
    routers = serializers.ListField(source="target_router_ids", read_only=True)
    groups = serializers.ListField(source="target_group_ids", read_only=True)
    devices = serializers.ListField(source="target_device_ids", read_only=True,
                                    help_text="Devices of providers other than NCM (NCM devices are listed as routers).")

    class Meta:
        model = Job
        fields = ["id", "tenant", "kind", "status", "parameters", "routers", "groups", "devices", "counts", "scheduled_for",
                  "wait_for_window", "created_by", "created_at", "started_at", "finished_at", "error", "retry_of",
                  "device_count", "approved_by", "approved_at", "rollout", "current_wave", "halt_reason", "org_job", "waves",
                  "items", "log"]
        read_only_fields = fields

    waves = serializers.SerializerMethodField(help_text="Per wave of a staged rollout: wave, size, state, counts.")

    def get_waves(self, job) -> list[dict]:
        return services.wave_summary(job)


class JobListSerializer(JobSerializer):
    class Meta(JobSerializer.Meta):
        fields = [f for f in JobSerializer.Meta.fields if f not in ("items", "log", "waves")]
        read_only_fields = fields


class RetryFailedSerializer(serializers.Serializer):
    include_unknown = serializers.BooleanField(
        default=False, help_text="Also retry items whose outcome is unknown (they may already have been applied)."
    )


class RejectSerializer(serializers.Serializer):
    reason = serializers.CharField(required=False, default="", allow_blank=True, max_length=500)


class SpeedTestResultSerializer(ScopedModelSerializer):
    class Meta:
        model = SpeedTestResult
        fields = ["id", "tenant", "job", "router", "net_device", "created_at", "test_type", "state", "download_mbps",
                  "upload_mbps", "latency_ms", "raw"]
        read_only_fields = fields


class MaintenanceWindowSerializer(ScopedModelSerializer):
    class Meta:
        model = MaintenanceWindow
        fields = ["id", "tenant", "name", "weekday", "start_time", "duration_minutes", "enabled"]

    def validate_weekday(self, value):
        if value > 6:
            raise serializers.ValidationError("0 (Monday) to 6 (Sunday).")
        return value

    def create(self, validated_data):
        return services.maintenance_window_save(actor=self.context["request"].user, **validated_data)

    def update(self, instance, validated_data):
        tenant = validated_data.pop("tenant", instance.tenant)
        return services.maintenance_window_save(actor=self.context["request"].user, tenant=tenant, window=instance,
                                                **validated_data)


class OrgJobRequestSerializer(serializers.Serializer):
    """The body of POST /org-jobs/: the same job on tenants of one organization, waves of whole tenants."""

    organization = ScopedPrimaryKeyRelatedField(queryset=Organization.objects.all())
    kind = serializers.ChoiceField(choices=JobKind.choices)
    targets = serializers.JSONField(
        help_text='[{"tenant": id, "routers": [ids], "groups": [ids]}, …] in wave order (canary tenants first).')
    parameters = serializers.JSONField(required=False, default=dict)
    rollout = serializers.JSONField(
        required=False, default=None, allow_null=True,
        help_text='{"waves": [1, "50%"], "halt_after_failures": 1, "pause_minutes": 0, "waves_by": "tenant"}: wave sizes '
                  "count tenants; the rest form a last wave.",
    )

    def validate_parameters(self, value):
        if not isinstance(value, dict):
            raise serializers.ValidationError("An object is required.")
        return value

    def validate_targets(self, value):
        # Shape only (the service checks tenants, routers and groups); errors stay {"targets": [messages]}.
        if not isinstance(value, list) or not value:
            raise serializers.ValidationError('A list is required: [{"tenant": id, "routers": [ids], "groups": [ids]}].')
        if len(value) > services.MAX_ORG_TARGETS:
            raise serializers.ValidationError(f"At most {services.MAX_ORG_TARGETS} tenants.")
        for target in value:
            if not isinstance(target, dict) or set(target) - {"tenant", "routers", "groups"}:
                raise serializers.ValidationError("Each target is {\"tenant\": id, \"routers\": [ids], \"groups\": [ids]}.")
            for name in ("routers", "groups"):
                ids = target.get(name, [])
                if not isinstance(ids, list) or len(ids) > 10000 or not all(
                        isinstance(i, int) and not isinstance(i, bool) and 1 <= i <= 2**31 - 1 for i in ids):
                    raise serializers.ValidationError(f"{name} must be a list of ids.")
            tenant = target.get("tenant")
            if not isinstance(tenant, int) or isinstance(tenant, bool) or not 1 <= tenant <= 2**31 - 1:
                raise serializers.ValidationError("Each target names a tenant by its id.")
        return value


class OrgJobSerializer(ScopedModelSerializer):
    waves = serializers.SerializerMethodField(help_text="Per wave: its state and its tenants' jobs (id, tenant, status, counts).")

    class Meta:
        model = OrgJob
        fields = ["id", "organization", "kind", "status", "parameters", "targets", "rollout", "current_wave",
                  "halt_reason", "counts", "device_count", "created_by", "created_at", "approved_by", "approved_at",
                  "finished_at", "error", "waves"]
        read_only_fields = fields

    def get_waves(self, org_job) -> list[dict]:
        return services.org_wave_summary(org_job)
