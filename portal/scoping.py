"""The one access filter: `Model.objects.for_user(user, action)`.

Every tenant-owned model uses `TenantScopedQuerySet`; models scoped differently (organizations, users,
memberships, audit events) subclass it and override `for_user`, still building on `allowed_tenants` and
`allowed_organizations` below. Superusers (platform operators) bypass it explicitly; anonymous or inactive
users get nothing.
"""
from __future__ import annotations

from django.apps import apps
from django.db import models
from django.db.models import Q

from portal.roles import Action, roles_allowing

__all__ = [
    "TenantScopedQuerySet", "OrganizationOrTenantScopedQuerySet", "allowed_tenants", "allowed_organizations", "is_operator",
    "is_anonymous", "token_tenant_id",
]


def is_anonymous(user) -> bool:
    return user is None or not getattr(user, "is_authenticated", False) or not user.is_active


def token_tenant_id(user) -> int | None:
    """The tenant an API token of this request is bound to (set by accounts.authentication), if any."""
    return getattr(user, "token_tenant_id", None)


def is_operator(user) -> bool:
    """A platform operator sees everything, unless this request's token is bound to one tenant."""
    return not is_anonymous(user) and user.is_superuser and token_tenant_id(user) is None


def allowed_tenants(user, action: str = Action.VIEW) -> models.QuerySet:
    """Tenants on which `user` may perform `action`: via an organization membership or a tenant membership."""
    Tenant = apps.get_model("accounts", "Tenant")
    if is_anonymous(user):
        return Tenant.objects.none()
    bound = token_tenant_id(user)
    if user.is_superuser:
        return Tenant.objects.filter(pk=bound) if bound else Tenant.objects.all()
    roles = roles_allowing(action)
    Membership = apps.get_model("accounts", "Membership")
    org_ids = Membership.objects.filter(user=user, organization__isnull=False, role__in=roles).values(
        "organization_id"
    )
    tenant_ids = Membership.objects.filter(user=user, tenant__isnull=False, role__in=roles).values("tenant_id")
    tenants = Tenant.objects.filter(Q(organization_id__in=org_ids) | Q(id__in=tenant_ids))
    return tenants.filter(pk=bound) if bound else tenants


def allowed_organizations(user, action: str = Action.VIEW) -> models.QuerySet:
    """Organizations on which `user` holds an organization-level role allowing `action`."""
    Organization = apps.get_model("accounts", "Organization")
    if is_anonymous(user) or token_tenant_id(user):
        # A token bound to one tenant carries no organization-wide rights.
        return Organization.objects.none()
    if user.is_superuser:
        return Organization.objects.all()
    Membership = apps.get_model("accounts", "Membership")
    return Organization.objects.filter(
        id__in=Membership.objects.filter(
            user=user, organization__isnull=False, role__in=roles_allowing(action)
        ).values("organization_id")
    )


class TenantScopedQuerySet(models.QuerySet):
    """QuerySet of a tenant-owned model. `tenant_lookup` names the path to the owning tenant."""

    tenant_lookup = "tenant"

    def for_user(self, user, action: str = Action.VIEW):
        if is_anonymous(user):
            return self.none()
        if is_operator(user):
            return self
        tenant_ids = allowed_tenants(user, action).values("id")
        return self.filter(**{f"{self.tenant_lookup}__in": tenant_ids})


class OrganizationOrTenantScopedQuerySet(TenantScopedQuerySet):
    """Rows owned either by an organization (so by all its tenants) or by one tenant (memberships, webhooks)."""

    organization_lookup = "organization"

    def for_user(self, user, action: str = Action.VIEW):
        if is_anonymous(user):
            return self.none()
        if is_operator(user):
            return self
        return self.filter(
            Q(**{f"{self.organization_lookup}__in": allowed_organizations(user, action).values("id")})
            | Q(**{f"{self.tenant_lookup}__in": allowed_tenants(user, action).values("id")})
        )
