"""Organizations (MSPs), tenants (customer accounts), users, memberships, API tokens, credentials, audit."""
from __future__ import annotations

import zoneinfo

from django.contrib.auth.models import AbstractUser, UserManager
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Exists, OuterRef, Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from accounts.roles import Action, Role
from portal.models import EncryptedSecretsMixin, TenantOwnedModel, TimestampedModel
from portal.audit import AuditAction
from portal.scoping import (
    OrganizationOrTenantScopedQuerySet,
    TenantScopedQuerySet,
    allowed_organizations,
    allowed_tenants,
    is_anonymous,
    is_operator,
    token_tenant_id,
)

__all__ = [
    "Organization",
    "Tenant",
    "User",
    "Membership",
    "ApiToken",
    "Credential",
    "AuditEvent",
    "SyncStatus",
    "Provider",
]


#
# Organizations and tenants
#
class OrganizationQuerySet(TenantScopedQuerySet):
    def for_user(self, user, action: str = Action.VIEW):
        if is_anonymous(user):
            return self.none()
        if is_operator(user):
            return self
        ids = allowed_organizations(user, action).values("id")
        if action == Action.VIEW:
            # A customer sees the MSP that serves it (name only); it can change nothing there.
            return self.filter(Q(id__in=ids) | Q(tenants__in=allowed_tenants(user, action).values("id"))).distinct()
        return self.filter(id__in=ids)


class Organization(TimestampedModel):
    """An MSP: owns customer tenants; its members' roles apply to all of them."""

    name = models.CharField(_("name"), max_length=200, unique=True)
    slug = models.SlugField(_("slug"), max_length=100, unique=True)
    require_two_factor = models.BooleanField(
        _("require two-factor sign-in"), default=False, help_text=_("Every user of this organization must use TOTP.")
    )
    job_approval_threshold = models.PositiveIntegerField(
        _("job approval threshold"), null=True, blank=True,
        help_text=_("A job acting on more devices than this waits for a second user's approval (empty: off)."),
    )

    objects = OrganizationQuerySet.as_manager()

    class Meta:
        ordering = ["name"]
        verbose_name = _("organization")

    def __str__(self) -> str:
        return self.name


class SyncStatus(models.TextChoices):
    NEVER = "never", _("Never synced")
    QUEUED = "queued", _("Queued")
    RUNNING = "running", _("Running")
    SUCCEEDED = "succeeded", _("Succeeded")
    FAILED = "failed", _("Failed")


def validate_timezone(value: str) -> None:
    if value not in zoneinfo.available_timezones():
        raise ValidationError(_("%(value)s is not a known IANA time zone (e.g. Europe/Berlin)."), params={"value": value})


class TenantQuerySet(TenantScopedQuerySet):
    def for_user(self, user, action: str = Action.VIEW):
        if is_anonymous(user):
            return self.none()
        if is_operator(user):
            return self
        return self.filter(id__in=allowed_tenants(user, action).values("id"))


class Tenant(TimestampedModel):
    """A customer account of an MSP, mirroring one NCM account tree."""

    organization = models.ForeignKey(
        Organization, on_delete=models.PROTECT, related_name="tenants", verbose_name=_("organization")
    )
    name = models.CharField(_("name"), max_length=200)
    slug = models.SlugField(_("slug"), max_length=100)
    timezone = models.CharField(_("time zone"), max_length=64, default="UTC", validators=[validate_timezone])
    sync_interval_minutes = models.PositiveIntegerField(_("sync interval (minutes)"), default=15)
    next_sync_at = models.DateTimeField(_("next sync at"), null=True, blank=True, db_index=True)
    last_synced_at = models.DateTimeField(_("last synced at"), null=True, blank=True)
    sync_status = models.CharField(_("sync status"), max_length=16, choices=SyncStatus.choices, default=SyncStatus.NEVER)
    sync_error = models.TextField(_("last sync error"), blank=True)

    objects = TenantQuerySet.as_manager()

    class Meta:
        ordering = ["organization__name", "name"]
        verbose_name = _("tenant")
        constraints = [
            models.UniqueConstraint(fields=["organization", "slug"], name="tenant_unique_slug_per_org"),
            models.CheckConstraint(
                condition=Q(sync_interval_minutes__gte=1) & Q(sync_interval_minutes__lte=10080),
                name="tenant_sync_interval_range",
            ),
        ]

    def __str__(self) -> str:
        return self.name


#
# Users and memberships
#
class UserQuerySet(TenantScopedQuerySet):
    def for_user(self, user, action: str = Action.VIEW):
        """Users sharing one of the caller's organizations or tenants (and the caller)."""
        if is_anonymous(user):
            return self.none()
        if is_operator(user):
            return self
        orgs = allowed_organizations(user, action).values("id")
        tenants = allowed_tenants(user, action)
        in_scope = (
            Q(memberships__organization__in=orgs)
            | Q(memberships__tenant__in=tenants.values("id"))
            | Q(home_organization__in=orgs)
            | Q(home_tenant__in=tenants.values("id"))
        )
        if action == Action.VIEW:
            in_scope |= Q(pk=user.pk)
        # Operators are never in a customer's scope, even if they hold a membership.
        queryset = self.filter(in_scope).exclude(Q(is_superuser=True) & ~Q(pk=user.pk)).distinct()
        if action != Action.VIEW:
            # To change a login you must manage every scope it holds a role in (a customer's admin can't
            # deactivate the MSP's staff who also hold a role on that customer's tenant).
            elsewhere = Membership.objects.filter(user=OuterRef("pk")).exclude(
                Q(organization__in=orgs) | Q(tenant__in=tenants.values("id"))
            )
            queryset = queryset.exclude(Exists(elsewhere)).exclude(
                Q(home_organization__isnull=False) & ~Q(home_organization__in=orgs)
            )
        return queryset


class PortalUserManager(UserManager.from_queryset(UserQuerySet)):
    pass


class User(AbstractUser):
    """A portal login. `home_organization`/`home_tenant` record who manages the login (set on creation)."""

    home_organization = models.ForeignKey(
        Organization, null=True, blank=True, on_delete=models.SET_NULL, related_name="+",
        verbose_name=_("managed by organization"),
    )
    home_tenant = models.ForeignKey(
        Tenant, null=True, blank=True, on_delete=models.SET_NULL, related_name="+", verbose_name=_("managed by tenant")
    )

    objects = PortalUserManager()

    class Meta:
        ordering = ["username"]
        verbose_name = _("user")


class Membership(TimestampedModel):
    """A role for a user on an organization (all its tenants) or on one tenant (a customer's login)."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="memberships", verbose_name=_("user"))
    organization = models.ForeignKey(
        Organization, null=True, blank=True, on_delete=models.CASCADE, related_name="memberships"
    )
    tenant = models.ForeignKey(Tenant, null=True, blank=True, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(_("role"), max_length=20, choices=Role.choices)

    objects = OrganizationOrTenantScopedQuerySet.as_manager()

    class Meta:
        ordering = ["id"]
        verbose_name = _("membership")
        constraints = [
            models.CheckConstraint(
                condition=(Q(organization__isnull=False, tenant__isnull=True) | Q(organization__isnull=True, tenant__isnull=False)),
                name="membership_exactly_one_scope",
            ),
            models.UniqueConstraint(fields=["user", "organization"], condition=Q(organization__isnull=False), name="membership_unique_org"),
            models.UniqueConstraint(fields=["user", "tenant"], condition=Q(tenant__isnull=False), name="membership_unique_tenant"),
        ]

    def __str__(self) -> str:
        return f"{self.user} · {self.role} on {self.organization or self.tenant}"

    def clean(self):
        if bool(self.organization_id) == bool(self.tenant_id):
            raise ValidationError(_("A membership names exactly one of organization or tenant."))


#
# API tokens
#
class ApiTokenQuerySet(TenantScopedQuerySet):
    def for_user(self, user, action: str = Action.VIEW):
        """A user's own tokens, plus those of users the caller administers."""
        if is_anonymous(user):
            return self.none()
        if is_operator(user):
            return self
        managed = User.objects.for_user(user, Action.MANAGE_USERS).values("id")
        tokens = self.filter(Q(user=user) | Q(user__in=managed))
        bound = token_tenant_id(user)
        if bound is not None:
            # A tenant-bound token reaches only tokens bound to its tenant (and itself).
            current = getattr(getattr(user, "request_token", None), "pk", None)
            tokens = tokens.filter(Q(tenant_id=bound) | Q(pk=current))
        return tokens

    def active(self):
        now = timezone.now()
        return self.filter(revoked_at__isnull=True).filter(Q(expires_at__isnull=True) | Q(expires_at__gt=now))


class ApiToken(models.Model):
    """An integrator's API token. Only a SHA-256 digest is stored; the clear value is shown once."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="api_tokens")
    name = models.CharField(_("name"), max_length=100, blank=True)
    prefix = models.CharField(_("prefix"), max_length=16, db_index=True, help_text=_("Tells tokens apart."))
    digest = models.CharField(max_length=64, unique=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    # Optional narrowing for integrations: one tenant only, and/or read-only.
    tenant = models.ForeignKey(
        "Tenant", null=True, blank=True, on_delete=models.CASCADE, related_name="+",
        help_text=_("Limit the token to this tenant (its owner's rights there, nothing elsewhere)."),
    )
    write_enabled = models.BooleanField(default=True, help_text=_("Off: the token can only read."))

    objects = ApiTokenQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]
        verbose_name = _("API token")

    def __str__(self) -> str:
        return f"{self.prefix}… ({self.name or 'unnamed'})"

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None and (self.expires_at is None or self.expires_at > timezone.now())


#
# Credentials
#
class Provider(models.TextChoices):
    NCM = "ncm", _("Cradlepoint NetCloud Manager")
    ECCLOUD = "eccloud", _("IgniteNet ecCloud")


SECRET_FIELDS = ("cp_api_id", "cp_api_key", "ecm_api_id", "ecm_api_key", "api_token", "api_key")
# The secrets each provider uses (the others stay empty), and those it needs.
PROVIDER_SECRETS = {
    "ncm": ("cp_api_id", "cp_api_key", "ecm_api_id", "ecm_api_key", "api_token"),
    "eccloud": ("api_key",),
}
PROVIDER_REQUIRED_SECRETS = {
    "ncm": ("cp_api_id", "cp_api_key", "ecm_api_id", "ecm_api_key"),
    "eccloud": ("api_key",),
}


class Credential(EncryptedSecretsMixin, TenantOwnedModel, TimestampedModel):
    """A tenant's vendor API credentials. Secrets live only in `secrets_encrypted` (MultiFernet)."""

    provider = models.CharField(_("provider"), max_length=20, choices=Provider.choices, default=Provider.NCM)
    base_url = models.URLField(_("base URL"), max_length=300)
    secrets_encrypted = models.TextField(editable=False)
    # Masked hints ("••••1a2b") so people can tell credentials apart without seeing them.
    secret_hints = models.JSONField(default=dict, editable=False)
    last_verified_at = models.DateTimeField(null=True, blank=True)

    encrypted_field = "secrets_encrypted"

    class Meta:
        ordering = ["tenant_id", "provider"]
        verbose_name = _("credential")
        constraints = [
            models.UniqueConstraint(fields=["tenant", "provider"], name="credential_one_per_provider"),
        ]

    def __str__(self) -> str:
        return f"{self.get_provider_display()} credential for tenant {self.tenant_id}"

    def __repr__(self) -> str:  # never show secrets, even in a debugger or a traceback
        return f"<Credential id={self.pk} tenant={self.tenant_id} provider={self.provider}>"


#
# Audit
#
class AuditEventQuerySet(TenantScopedQuerySet):
    def for_user(self, user, action: str = Action.VIEW_AUDIT):
        if is_anonymous(user):
            return self.none()
        if is_operator(user):
            return self
        # Reading the audit log is itself an admin right, whatever action the caller asks for.
        return self.filter(
            Q(tenant__in=allowed_tenants(user, Action.VIEW_AUDIT).values("id"))
            | Q(tenant__isnull=True, organization__in=allowed_organizations(user, Action.VIEW_AUDIT).values("id"))
        )


class AuditEvent(models.Model):
    """Who did what, when, to which object, and what changed (secrets redacted). Never editable."""

    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    actor = models.ForeignKey(User, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    actor_username = models.CharField(max_length=150, blank=True)
    organization = models.ForeignKey(Organization, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    tenant = models.ForeignKey(Tenant, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    request_id = models.CharField(max_length=64, blank=True)
    source = models.CharField(max_length=16, default="api")  # api, admin, ui, job, system
    action = models.CharField(max_length=16, choices=AuditAction.choices)
    object_type = models.CharField(max_length=100)
    object_id = models.CharField(max_length=64)
    object_repr = models.CharField(max_length=200, blank=True)
    changes = models.JSONField(default=dict, blank=True)

    objects = AuditEventQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("audit event")
        indexes = [models.Index(fields=["tenant", "created_at"]), models.Index(fields=["object_type", "object_id"])]

    def __str__(self) -> str:
        return f"{self.created_at:%Y-%m-%d %H:%M} {self.actor_username} {self.action} {self.object_type}#{self.object_id}"

    def save(self, *args, **kwargs):
        if self.pk and not kwargs.pop("_allow_update", False):
            raise ValidationError("Audit events are append-only.")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise ValidationError("Audit events are append-only.")
