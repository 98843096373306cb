"""Read-only API over the NCM mirror and the sync runs (contract §4). Scoping comes from the base viewset.

Alerts add the portal's acknowledgement (acknowledge / unacknowledge) and per-tenant counts. Routers, net
devices and alerts export as CSV (`?format=csv`); every mirror list and detail has ETags.
"""
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.decorators import action
from rest_framework.response import Response

from accounts.models import Tenant
from accounts.roles import Action
from ncm_sync import filtersets, selectors
from ncm_sync.api import serializers
from ncm_sync.models import Account, Alert, Group, Location, NetDevice, Router, SyncRun
from ncm_sync.services import request_sync
from ncm_sync.services.alerts import alert_acknowledge, alert_unacknowledge
from ncm_sync.services.configuration import refresh_configuration_managers
from portal.api.export import ETagMixin, ExportableListMixin
from portal.api.filters import search_text
from portal.api.viewsets import TenantScopedReadOnlyViewSet, TenantScopedViewSet


class MirrorViewSet(ETagMixin, TenantScopedReadOnlyViewSet):
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


class RouterViewSet(ExportableListMixin, MirrorViewSet):
    """Routers; filter by state, group, product, firmware; search by name, serial number or MAC.
    `?format=csv` exports the whole filtered list."""

    csv_name = "routers"
    csv_fields = ["id", "tenant", "ncm_id", "name", "serial_number", "mac", "state", "state_updated_at",
                  "full_product_name", "firmware_version", "config_status", "ipv4_address", "group", "account",
                  "description", "asset_id", "custom1", "custom2", "last_seen_at", "deleted_at"]
    queryset = Router.objects.all()
    serializer_class = serializers.RouterSerializer
    filterset_class = filtersets.RouterFilterSet
    search_fields = list(Router.SEARCHED)
    search_expression = search_text(*search_fields)  # one trigram index serves it (migration 0009)
    ordering_fields = ["id", "name", "state", "product", "firmware", "serial_number", "state_updated_at", "last_seen_at"]

    @extend_schema(responses={200: serializers.RouterConfigurationSerializer})
    @action(detail=True, methods=["get"], required_action=Action.VIEW)
    def configuration(self, request, pk=None):
        """The router's configuration: group and individual layers, the effective result and, per setting, the
        layer its value comes from (NCM's layering rules; passwords masked). The router's own layer is fetched from
        NCM first when the portal's copy is older than the tenant's sync interval; `notice` says when it could not be."""
        router = self.get_object()
        freshness = refresh_configuration_managers(tenant=router.tenant, routers=[router])
        config = selectors.router_configuration(router)
        return Response(serializers.RouterConfigurationSerializer({**config, "notice": freshness.message}).data)

    @extend_schema(responses={200: serializers.FirmwareInventorySerializer})
    @action(detail=False, methods=["get"], url_path="firmware-inventory", required_action=Action.VIEW)
    def firmware_inventory(self, request):
        """Firmware across the routers in scope (filtered like the list, e.g. `?tenant=`): per product and
        version the routers, those online and the tenants running it; and the groups whose routers are not all
        on the group's target firmware."""
        routers = self.filter_queryset(self.get_queryset()).order_by()
        groups = Group.objects.for_user(request.user, Action.VIEW)
        tenant = request.query_params.get("tenant")
        if tenant and tenant.isdigit():  # (a malformed value is refused by the filterset above)
            groups = groups.filter(tenant_id=int(tenant))
        return Response(serializers.FirmwareInventorySerializer(selectors.firmware_inventory(routers, groups)).data)


class NetDeviceViewSet(ExportableListMixin, MirrorViewSet):
    """Net devices (modems and WAN interfaces) with their cellular health and latest signal metrics.
    `?format=csv` exports the whole filtered list."""

    csv_name = "net-devices"
    csv_fields = ["id", "tenant", "ncm_id", "router", "name", "mode", "type", "is_asset", "carrier",
                  "connection_state", "service_type", "mac", "serial", "iccid", "imei", "ipv4_address",
                  "cellular_health_score", "cellular_health_category", "metrics", "last_seen_at", "deleted_at"]
    queryset = NetDevice.objects.all()
    serializer_class = serializers.NetDeviceSerializer
    filterset_class = filtersets.NetDeviceFilterSet
    search_fields = list(NetDevice.SEARCHED)
    search_expression = search_text(*search_fields)
    ordering_fields = ["id", "name", "carrier", "connection_state", "health_score", "last_seen_at"]

    def scoped_queryset(self, queryset):
        # The latest health and metrics row per device: the one definition the UI uses too (selectors).
        return selectors.with_metrics_data(selectors.with_health(super().scoped_queryset(queryset)))


class LocationViewSet(MirrorViewSet):
    queryset = Location.objects.all()
    serializer_class = serializers.LocationSerializer
    filterset_class = filtersets.LocationFilterSet
    ordering_fields = ["id", "last_seen_at"]


class AlertViewSet(ExportableListMixin, MirrorViewSet):
    """NCM alerts (newest first), from the periodic sync and NCM's alert push. Filter by tenant, router, type
    (repeatable), time range (`created_after`, `created_before`) and `acknowledged`; `?format=csv` exports."""

    queryset = Alert.objects.all()
    serializer_class = serializers.AlertSerializer
    filterset_class = filtersets.AlertFilterSet
    search_fields = ["friendly_info", "type"]
    ordering = ["-ncm_created_at", "-id"]
    ordering_fields = ["id", "ncm_created_at", "type", "acknowledged_at"]
    csv_name = "alerts"
    csv_fields = ["id", "tenant", "ncm_id", "type", "router", "account", "created_at", "detected_at",
                  "friendly_info", "info", "acknowledged", "acknowledged_at", "acknowledged_by", "first_seen_at"]

    @extend_schema(request=None, responses={200: serializers.AlertSerializer,
                                            403: OpenApiResponse(description="Your role may not change this tenant.")})
    @action(detail=True, methods=["post"], required_action=Action.CHANGE)
    def acknowledge(self, request, pk=None):
        """Acknowledge the alert (records who and when). Acknowledging it again keeps the first acknowledgement."""
        alert = alert_acknowledge(alert=self.get_object(), user=request.user)
        return Response(self.get_serializer(alert).data)

    @extend_schema(request=None, responses={200: serializers.AlertSerializer,
                                            403: OpenApiResponse(description="Your role may not change this tenant.")})
    @action(detail=True, methods=["post"], required_action=Action.CHANGE)
    def unacknowledge(self, request, pk=None):
        """Reopen an acknowledged alert."""
        alert = alert_unacknowledge(alert=self.get_object(), user=request.user)
        return Response(self.get_serializer(alert).data)

    @extend_schema(responses={200: serializers.AlertCountSerializer(many=True)})
    @action(detail=False, methods=["get"], pagination_class=None)
    def counts(self, request):
        """Per tenant in scope (tenants with matching alerts): `open` alerts (problems nobody has acknowledged,
        any age: the figure the MSP overview and the tenant pages show), `acknowledged`, `events` (informational,
        never open) and `total`, with the list's filters (e.g. `?created_after=` for a time window, `?type=`)."""
        tenant = request.query_params.get("tenant", "")
        if set(request.query_params) <= {"tenant"} and (tenant == "" or tenant.isdigit()):
            # Unfiltered (or one tenant): the stored per-tenant figures, the overview's own numbers, one row per
            # tenant instead of counting every alert (flat at 100k routers).
            tenants = Tenant.objects.for_user(request.user, self.read_action)
            tenants = tenants.filter(pk=int(tenant)) if tenant else tenants
            return Response(serializers.AlertCountSerializer(selectors.stored_alert_counts(tenants), many=True).data)
        queryset = self.filter_queryset(self.get_queryset())
        return Response(serializers.AlertCountSerializer(selectors.alert_counts(queryset), many=True).data)


class SyncRunViewSet(TenantScopedReadOnlyViewSet):
    """Sync runs of the tenants in scope (newest first)."""

    queryset = SyncRun.objects.all()
    serializer_class = serializers.SyncRunSerializer
    filterset_class = filtersets.SyncRunFilterSet
    ordering = ["-created_at", "-id"]
    ordering_fields = ["id", "created_at", "started_at", "finished_at", "api_calls"]


class TenantSyncViewSet(TenantScopedViewSet):
    """`POST tenants/{id}/sync/`: the sync action of a tenant, owned by the app that syncs."""

    queryset = Tenant.objects.all()
    serializer_class = serializers.SyncRunSerializer

    @extend_schema(request=None, responses={202: serializers.SyncRunSerializer})
    @action(detail=True, methods=["post"], required_action=Action.SYNC)
    def sync(self, request, pk=None):
        """Start a sync of this tenant's NCM data: 202 with the new run (or the one already queued/running)."""
        tenant = self.get_object()
        run, _created = request_sync(tenant=tenant, user=request.user)
        return Response(serializers.SyncRunSerializer(run, context=self.get_serializer_context()).data, status=status.HTTP_202_ACCEPTED)
