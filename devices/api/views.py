"""Read-only API over sites and devices of every provider; a device's merged configuration."""
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.decorators import action
from rest_framework.response import Response

from accounts.roles import Action
from devices import filtersets
from devices.api import serializers
from devices.eccloud import EcCloudAuthError, EcCloudError, EcCloudForbidden, EcCloudNotFound
from devices.models import Device, Site
from devices.providers import Unsupported, provider_for
from portal.api.export import ETagMixin, ExportableListMixin
from portal.api.viewsets import TenantScopedReadOnlyViewSet


class SiteViewSet(ETagMixin, TenantScopedReadOnlyViewSet):
    """ecCloud sites (NCM's groups are under /groups/)."""

    queryset = Site.objects.all()
    serializer_class = serializers.SiteSerializer
    filterset_class = filtersets.SiteFilterSet
    search_fields = ["name"]
    ordering_fields = ["id", "name", "last_seen_at"]
    ordering = ["id"]


class DeviceViewSet(ExportableListMixin, ETagMixin, TenantScopedReadOnlyViewSet):
    """Every managed device of every provider (NCM routers and ecCloud devices); filter by provider, status,
    site, group; `?format=csv` exports the filtered list."""

    csv_name = "devices"
    csv_fields = ["id", "tenant", "provider", "remote_id", "name", "serial", "mac", "status", "site", "group",
                  "last_contact", "config_suspended", "last_seen_at", "deleted_at"]
    queryset = Device.objects.all()
    serializer_class = serializers.DeviceSerializer
    filterset_class = filtersets.DeviceFilterSet
    search_fields = ["name", "serial", "mac"]
    ordering_fields = ["id", "name", "provider", "status", "last_contact", "last_seen_at"]
    ordering = ["id"]

    @extend_schema(responses={
        200: serializers.DeviceConfigurationSerializer,
        409: OpenApiResponse(description="No credential for the device's vendor, or the vendor refused the read."),
        503: OpenApiResponse(description="The vendor did not answer (ecCloud maintenance, timeouts)."),
    })
    @action(detail=True, methods=["get"], required_action=Action.VIEW)
    def configuration(self, request, pk=None):
        """The device's effective configuration and, per key, its value, origin and level (ecCloud: merged by
        the article's origin rules from a live read; NCM: the mirrored group and individual layers)."""
        device = self.get_object()
        try:
            config = provider_for(device.provider).read_configuration(device)
        except Unsupported as exc:
            return Response({"detail": str(exc)}, status=status.HTTP_409_CONFLICT)
        except (EcCloudAuthError, EcCloudForbidden, EcCloudNotFound) as exc:
            return Response({"detail": exc.message}, status=status.HTTP_409_CONFLICT)
        except EcCloudError as exc:
            return Response({"detail": f"ecCloud did not answer: {exc.message}"}, status=status.HTTP_503_SERVICE_UNAVAILABLE)
        return Response(config)
