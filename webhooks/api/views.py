from django.urls import reverse
from drf_spectacular.utils import OpenApiExample, OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.decorators import action
from rest_framework.response import Response

from accounts.models import Tenant
from accounts.roles import Action
from portal.api.viewsets import TenantScopedModelViewSet, TenantScopedReadOnlyViewSet, TenantScopedViewSet
from webhooks.alert_push import receiver_rotate
from webhooks import filtersets, services
from webhooks.api import serializers
from webhooks.models import Webhook, WebhookDelivery


class WebhookViewSet(TenantScopedModelViewSet):
    """Outbound webhook subscriptions of an organization or a tenant (admins: they hold a signing secret)."""

    def perform_delete(self, instance):
        services.webhook_delete(actor=self.request.user, webhook=instance)

    queryset = Webhook.objects.all()
    serializer_class = serializers.WebhookSerializer
    filterset_class = filtersets.WebhookFilterSet
    read_action = Action.MANAGE_CREDENTIALS
    write_action = Action.MANAGE_CREDENTIALS
    ordering_fields = ["id", "created_at"]


class WebhookDeliveryViewSet(TenantScopedReadOnlyViewSet):
    """The delivery log of the webhooks in scope; redeliver one on demand."""

    queryset = WebhookDelivery.objects.all()
    serializer_class = serializers.WebhookDeliverySerializer
    filterset_class = filtersets.WebhookDeliveryFilterSet
    read_action = Action.MANAGE_CREDENTIALS
    ordering_fields = ["id", "created_at"]

    @extend_schema(request=None, responses={202: serializers.WebhookDeliverySerializer})
    @action(detail=True, methods=["post"], required_action=Action.MANAGE_CREDENTIALS)
    def redeliver(self, request, pk=None):
        delivery = services.redeliver(delivery=self.get_object(), actor=request.user)
        return Response(self.get_serializer(delivery).data, status=status.HTTP_202_ACCEPTED)


class TenantAlertPushViewSet(TenantScopedViewSet):
    """`POST tenants/{id}/alert-push/`: the tenant's NCM alert push receiver, owned by the app that receives."""

    queryset = Tenant.objects.all()
    serializer_class = serializers.AlertPushReceiverSerializer

    @extend_schema(
        request=None,
        responses={
            201: OpenApiResponse(serializers.AlertPushReceiverSerializer, description="The receiver was created."),
            200: OpenApiResponse(serializers.AlertPushReceiverSerializer, description="The receiver was rotated: the previous "
                                 "URL and secret no longer work."),
        },
        examples=[OpenApiExample("Receiver", response_only=True, value={
            "tenant": 7, "url": "https://portal.example.com/hooks/ncm/Yp3...Q/", "secret": "kJ8...w",
            "created_at": "2026-11-24T07:00:00Z", "rotated_at": None,
        })],
    )
    @action(detail=True, methods=["post"], url_path="alert-push", required_action=Action.MANAGE_CREDENTIALS)
    def alert_push(self, request, pk=None):
        """Create or rotate the tenant's NCM alert push receiver: answers `{url, secret}`, shown this once.

        In NCM, create an alert push destination (`POST /api/v2/alert_push_destinations/`) with
        `endpoint.url` = `url` and `authentication.secret` = `secret`, then an alert rule sending to it.
        Pushed alerts appear in `/api/v1/alerts/` within seconds; a push with a missing or wrong
        `x-cp-signature` answers 401 and stores nothing.
        """
        tenant = self.get_object()
        rotating = hasattr(tenant, "alert_push_receiver")
        receiver, token, secret = receiver_rotate(tenant=tenant)
        self.audit_action(tenant, "alert_push_rotate" if rotating else "alert_push_create", {"receiver": receiver.pk})
        url = request.build_absolute_uri(reverse("ncm-alert-push", kwargs={"token": token}))
        data = serializers.AlertPushReceiverSerializer({"receiver": receiver, "url": url, "secret": secret}).data
        return Response(data, status=status.HTTP_200_OK if rotating else status.HTTP_201_CREATED)
