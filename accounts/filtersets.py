"""Filters for the accounts API lists."""
import django_filters

from accounts.models import ApiToken, AuditEvent, Credential, Membership, Organization, Tenant, User
from portal.api.filters import TenantFilterSet


class OrganizationFilterSet(django_filters.FilterSet):
    class Meta:
        model = Organization
        fields = {"slug": ["exact"], "name": ["exact", "icontains"]}


class TenantListFilterSet(django_filters.FilterSet):
    # A tenant is its own scope: ?tenant= filters by its id, like every other tenant-owned list.
    tenant = django_filters.NumberFilter(field_name="id")
    organization = django_filters.NumberFilter(field_name="organization_id")

    class Meta:
        model = Tenant
        fields = {"slug": ["exact"], "sync_status": ["exact"], "name": ["icontains"]}


class UserFilterSet(django_filters.FilterSet):
    tenant = django_filters.NumberFilter(field_name="memberships__tenant_id", distinct=True)
    organization = django_filters.NumberFilter(field_name="memberships__organization_id", distinct=True)

    class Meta:
        model = User
        fields = {"username": ["exact", "icontains"], "email": ["exact", "icontains"], "is_active": ["exact"]}


class MembershipFilterSet(TenantFilterSet):
    organization = django_filters.NumberFilter(field_name="organization_id")
    user = django_filters.NumberFilter(field_name="user_id")

    class Meta:
        model = Membership
        fields = ["role"]


class CredentialFilterSet(TenantFilterSet):
    class Meta:
        model = Credential
        fields = ["provider"]


class ApiTokenFilterSet(django_filters.FilterSet):
    user = django_filters.NumberFilter(field_name="user_id")

    class Meta:
        model = ApiToken
        fields = ["name"]


class AuditEventFilterSet(TenantFilterSet):
    organization = django_filters.NumberFilter(field_name="organization_id")
    actor = django_filters.NumberFilter(field_name="actor_id")
    created_after = django_filters.IsoDateTimeFilter(field_name="created_at", lookup_expr="gte")
    created_before = django_filters.IsoDateTimeFilter(field_name="created_at", lookup_expr="lt")

    class Meta:
        model = AuditEvent
        fields = ["action", "object_type", "object_id", "source"]
