"""API views for accounts. Thin: scoping, permissions and audit come from the base viewset."""
from accounts import filtersets, services
from accounts.api import serializers
from accounts.models import ApiToken, AuditEvent, Credential, Membership, Organization, Tenant, User
from accounts.roles import Action
from portal.api.viewsets import TenantScopedModelViewSet, TenantScopedReadOnlyViewSet


class OrganizationViewSet(TenantScopedModelViewSet):
    """MSP organizations. Platform operators create them; organization admins rename them."""

    queryset = Organization.objects.all()
    serializer_class = serializers.OrganizationSerializer
    filterset_class = filtersets.OrganizationFilterSet
    write_action = Action.MANAGE_USERS
    create_requires_operator = True
    search_fields = ["name", "slug"]
    ordering_fields = ["name", "id"]

    def perform_delete(self, instance):
        services.organization_delete(actor=self.request.user, organization=instance)


class TenantViewSet(TenantScopedModelViewSet):
    """Customer accounts of an MSP. Their actions live with the apps that own them: `sync` in ncm_sync,
    `alert-push` in webhooks (each registered on the same `tenants/` prefix)."""

    queryset = Tenant.objects.all()
    serializer_class = serializers.TenantSerializer
    filterset_class = filtersets.TenantListFilterSet
    search_fields = ["name", "slug"]
    ordering_fields = ["name", "id", "last_synced_at"]

    def scoped_queryset(self, queryset):
        return queryset.select_related("organization")

    def perform_delete(self, instance):
        services.tenant_delete(actor=self.request.user, tenant=instance)


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
