from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.decorators import action
from rest_framework.response import Response

from accounts.roles import Action
from portal.api.viewsets import TenantScopedModelViewSet, TenantScopedReadOnlyViewSet
from webhooks import filtersets, services
from webhooks.api import serializers
from webhooks.models import Webhook, WebhookDelivery


class WebhookViewSet(TenantScopedModelViewSet):
    """Outbound webhook subscriptions of an organization or a tenant (admins: they hold a signing secret)."""

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
        delivery = services.redeliver(delivery=self.get_object())
        self.audit_action(delivery, "redeliver")
        return Response(self.get_serializer(delivery).data, status=status.HTTP_202_ACCEPTED)
