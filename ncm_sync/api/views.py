"""Read-only API over the NCM mirror and the sync runs (contract §4). Scoping comes from the base viewset."""
from django.db.models import JSONField, OuterRef, Subquery

from ncm_sync import filtersets
from ncm_sync.api import serializers
from ncm_sync.models import (
    Account,
    Alert,
    Group,
    Location,
    NetDevice,
    NetDeviceHealth,
    NetDeviceMetrics,
    Router,
    SyncRun,
)
from portal.api.viewsets import TenantScopedReadOnlyViewSet


class MirrorViewSet(TenantScopedReadOnlyViewSet):
    ordering = ["id"]

    def scoped_queryset(self, queryset):
        return queryset.select_related("tenant")


class AccountViewSet(MirrorViewSet):
    """NCM accounts (the tenant's account and subaccounts)."""

    queryset = Account.objects.all()
    serializer_class = serializers.AccountSerializer
    filterset_class = filtersets.AccountFilterSet
    search_fields = ["name"]
    ordering_fields = ["id", "name", "last_seen_at"]


class GroupViewSet(MirrorViewSet):
    queryset = Group.objects.all()
    serializer_class = serializers.GroupSerializer
    filterset_class = filtersets.GroupFilterSet
    search_fields = ["name"]
    ordering_fields = ["id", "name", "product", "firmware", "last_seen_at"]


class RouterViewSet(MirrorViewSet):
    """Routers; filter by state, group, product, firmware; search by name, serial number or MAC."""

    queryset = Router.objects.all()
    serializer_class = serializers.RouterSerializer
    filterset_class = filtersets.RouterFilterSet
    search_fields = ["name", "serial_number", "mac", "ipv4_address"]
    ordering_fields = ["id", "name", "state", "product", "firmware", "serial_number", "state_updated_at", "last_seen_at"]


class NetDeviceViewSet(MirrorViewSet):
    """Net devices (modems and WAN interfaces) with their cellular health and latest signal metrics."""

    queryset = NetDevice.objects.all()
    serializer_class = serializers.NetDeviceSerializer
    filterset_class = filtersets.NetDeviceFilterSet
    search_fields = ["name", "serial", "mac", "iccid", "imei", "carrier"]
    ordering_fields = ["id", "name", "carrier", "connection_state", "health_score", "last_seen_at"]

    def scoped_queryset(self, queryset):
        health = NetDeviceHealth.objects.filter(net_device=OuterRef("pk"), deleted_at__isnull=True).order_by("-id")
        metrics = NetDeviceMetrics.objects.filter(net_device=OuterRef("pk"), deleted_at__isnull=True).order_by("-id")
        return super().scoped_queryset(queryset).annotate(
            health_score=Subquery(health.values("cellular_health_score")[:1]),
            health_category=Subquery(health.values("cellular_health_category")[:1]),
            metrics_data=Subquery(metrics.values("data")[:1], output_field=JSONField()),
        )


class LocationViewSet(MirrorViewSet):
    queryset = Location.objects.all()
    serializer_class = serializers.LocationSerializer
    filterset_class = filtersets.LocationFilterSet
    ordering_fields = ["id", "last_seen_at"]


class AlertViewSet(MirrorViewSet):
    """NCM alerts (newest first)."""

    queryset = Alert.objects.all()
    serializer_class = serializers.AlertSerializer
    filterset_class = filtersets.AlertFilterSet
    search_fields = ["friendly_info", "type"]
    ordering = ["-ncm_created_at", "-id"]
    ordering_fields = ["id", "ncm_created_at", "type"]


class SyncRunViewSet(TenantScopedReadOnlyViewSet):
    """Sync runs of the tenants in scope (newest first)."""

    queryset = SyncRun.objects.all()
    serializer_class = serializers.SyncRunSerializer
    filterset_class = filtersets.SyncRunFilterSet
    ordering = ["-created_at", "-id"]
    ordering_fields = ["id", "created_at", "started_at", "finished_at", "api_calls"]
