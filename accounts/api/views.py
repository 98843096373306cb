"""API views for accounts. Thin: scoping, permissions and audit come from the base viewset."""
from django.urls import reverse
from drf_spectacular.utils import OpenApiExample, OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.decorators import action
from rest_framework.response import Response

from accounts import filtersets, services
from accounts.api import serializers
from accounts.models import ApiToken, AuditEvent, Credential, Membership, Organization, Tenant, User
from accounts.roles import Action
from ncm_sync.api.serializers import SyncRunSerializer
from ncm_sync.services import request_sync
from portal.api.viewsets import TenantScopedModelViewSet, TenantScopedReadOnlyViewSet
from webhooks.alert_push import receiver_rotate
from webhooks.api.serializers import AlertPushReceiverSerializer



class OrganizationViewSet(TenantScopedModelViewSet):
    """MSP organizations. Platform operators create them; organization admins rename them."""

    queryset = Organization.objects.all()
    serializer_class = serializers.OrganizationSerializer
    filterset_class = filtersets.OrganizationFilterSet
    write_action = Action.MANAGE_USERS
    create_requires_operator = True
    search_fields = ["name", "slug"]
    ordering_fields = ["name", "id"]


class TenantViewSet(TenantScopedModelViewSet):
    """Customer accounts of an MSP."""

    queryset = Tenant.objects.all()
    serializer_class = serializers.TenantSerializer
    filterset_class = filtersets.TenantListFilterSet
    search_fields = ["name", "slug"]
    ordering_fields = ["name", "id", "last_synced_at"]

    def scoped_queryset(self, queryset):
        return queryset.select_related("organization")

    def perform_delete(self, instance):
        services.tenant_delete(actor=self.request.user, tenant=instance)

    @extend_schema(request=None, responses={202: SyncRunSerializer})
    @action(detail=True, methods=["post"], required_action=Action.SYNC)
    def sync(self, request, pk=None):
        """Start a sync of this tenant's NCM data: 202 with the new run (or the one already queued/running)."""
        tenant = self.get_object()
        run, created = request_sync(tenant=tenant, user=request.user)
        self.audit_action(tenant, "sync", {"sync_run": run.pk, "created": created})
        return Response(SyncRunSerializer(run, context=self.get_serializer_context()).data, status=status.HTTP_202_ACCEPTED)

    @extend_schema(
        request=None,
        responses={
            201: OpenApiResponse(AlertPushReceiverSerializer, description="The receiver was created."),
            200: OpenApiResponse(AlertPushReceiverSerializer, description="The receiver was rotated: the previous "
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
        data = AlertPushReceiverSerializer({"receiver": receiver, "url": url, "secret": secret}).data
        return Response(data, status=status.HTTP_200_OK if rotating else status.HTTP_201_CREATED)


class UserViewSet(TenantScopedModelViewSet):
    """Users sharing one of the caller's organizations or tenants."""

    queryset = User.objects.all()
    serializer_class = serializers.UserSerializer
    filterset_class = filtersets.UserFilterSet
    write_action = Action.MANAGE_USERS
    search_fields = ["username", "email", "first_name", "last_name"]
    ordering_fields = ["username", "id"]

    def perform_delete(self, instance):
        # Deactivate rather than delete: the audit log keeps pointing at a real user.
        services.user_update(actor=self.request.user, user=instance, is_active=False)


class MembershipViewSet(TenantScopedModelViewSet):
    queryset = Membership.objects.all()
    serializer_class = serializers.MembershipSerializer
    filterset_class = filtersets.MembershipFilterSet
    write_action = Action.MANAGE_USERS
    ordering_fields = ["id", "role"]

    def scoped_queryset(self, queryset):
        return queryset.select_related("user", "organization", "tenant")

    def perform_delete(self, instance):
        services.membership_delete(actor=self.request.user, membership=instance)


class CredentialViewSet(TenantScopedModelViewSet):
    """NCM credentials: secrets write-only, visible (masked) only to roles that manage credentials."""

    queryset = Credential.objects.all()
    serializer_class = serializers.CredentialSerializer
    filterset_class = filtersets.CredentialFilterSet
    read_action = Action.MANAGE_CREDENTIALS
    write_action = Action.MANAGE_CREDENTIALS
    ordering_fields = ["id", "tenant"]


class ApiTokenViewSet(TenantScopedModelViewSet):
    """Your API tokens (and those of users you administer). DELETE revokes; the clear token shows once."""

    queryset = ApiToken.objects.all()
    serializer_class = serializers.ApiTokenSerializer
    filterset_class = filtersets.ApiTokenFilterSet
    # Anyone may hold tokens; the queryset limits them to their own and those of users they administer.
    write_action = Action.VIEW
    ordering_fields = ["created_at", "id"]

    def perform_delete(self, instance):
        services.api_token_revoke(actor=self.request.user, token=instance)


class AuditEventViewSet(TenantScopedReadOnlyViewSet):
    """The audit log of the caller's scope (admins only). Append-only."""

    queryset = AuditEvent.objects.all()
    serializer_class = serializers.AuditEventSerializer
    filterset_class = filtersets.AuditEventFilterSet
    read_action = Action.VIEW_AUDIT
    ordering_fields = ["created_at", "id"]
    search_fields = ["object_repr", "actor_username", "object_type"]
