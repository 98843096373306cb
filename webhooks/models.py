"""Outbound webhook subscriptions (Standard Webhooks v1) and their delivery log."""
from __future__ import annotations

from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from portal.models import EncryptedSecretsMixin
from portal.scoping import OrganizationOrTenantScopedQuerySet, TenantScopedQuerySet

__all__ = ["Event", "Webhook", "WebhookDelivery", "DeliveryStatus", "AlertPushReceiver"]


class Event(models.TextChoices):
    JOB_FINISHED = "job.finished", _("Job finished")
    JOB_HALTED = "job.halted", _("Job rollout halted")
    SYNC_FAILED = "sync.failed", _("Sync failed")
    ROUTER_OFFLINE = "router.offline", _("Router went offline")
    ROUTER_ONLINE = "router.online", _("Router came online")
    ALERT_CREATED = "alert.created", _("Alert created")
    LICENCE_EXPIRING = "licence.expiring", _("Licence expiring (history app, NCM v3)")


class Webhook(EncryptedSecretsMixin, models.Model):
    """A subscription of an organization (all its tenants) or of one tenant to portal events."""

    organization = models.ForeignKey(
        "accounts.Organization", null=True, blank=True, on_delete=models.CASCADE, related_name="webhooks"
    )
    tenant = models.ForeignKey("accounts.Tenant", null=True, blank=True, on_delete=models.CASCADE, related_name="webhooks")
    url = models.URLField(_("URL"), max_length=500)
    events = models.JSONField(_("events"), default=list)
    enabled = models.BooleanField(_("enabled"), default=True)
    description = models.CharField(max_length=200, blank=True)
    secret_encrypted = models.TextField(editable=False)
    consecutive_failures = models.PositiveIntegerField(default=0)
    disabled_reason = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = OrganizationOrTenantScopedQuerySet.as_manager()

    class Meta:
        ordering = ["id"]
        constraints = [
            models.CheckConstraint(
                condition=(Q(organization__isnull=False, tenant__isnull=True) | Q(organization__isnull=True, tenant__isnull=False)),
                name="webhook_exactly_one_scope",
            )
        ]

    def __str__(self) -> str:
        return self.url

    def __repr__(self) -> str:
        return f"<Webhook id={self.pk} url={self.url!r}>"


class DeliveryStatus(models.TextChoices):
    PENDING = "pending", _("Pending")
    RETRYING = "retrying", _("Retrying")
    SUCCEEDED = "succeeded", _("Succeeded")
    FAILED = "failed", _("Failed")


class DeliveryQuerySet(OrganizationOrTenantScopedQuerySet):
    organization_lookup = "webhook__organization"
    tenant_lookup = "webhook__tenant"


class WebhookDelivery(models.Model):
    """One event sent to one webhook; `msg_id` (the `webhook-id` header) stays the same across attempts."""

    webhook = models.ForeignKey(Webhook, on_delete=models.CASCADE, related_name="deliveries")
    tenant = models.ForeignKey("accounts.Tenant", null=True, on_delete=models.CASCADE, related_name="+")
    event = models.CharField(max_length=40, choices=Event.choices)
    msg_id = models.CharField(max_length=64, unique=True)
    payload = models.JSONField()
    status = models.CharField(max_length=12, choices=DeliveryStatus.choices, default=DeliveryStatus.PENDING, db_index=True)
    attempts = models.PositiveIntegerField(default=0)
    response_code = models.PositiveIntegerField(null=True, blank=True)
    response_body = models.TextField(blank=True)
    error = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    last_attempt_at = models.DateTimeField(null=True, blank=True)
    next_attempt_at = models.DateTimeField(null=True, blank=True, db_index=True)

    objects = DeliveryQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name_plural = "webhook deliveries"

    def __str__(self) -> str:
        return f"{self.event} → webhook {self.webhook_id} ({self.status})"


class AlertPushReceiver(EncryptedSecretsMixin, models.Model):
    """A tenant's inbound endpoint for NCM alert push destinations (inbound webhooks).

    NCM posts alerts to `/hooks/ncm/<token>/` signed with `x-cp-signature` (hex HMAC-SHA256 of the raw body
    under the shared secret). The URL token is an unguessable capability stored only as its SHA-256; the
    shared secret is stored encrypted (MultiFernet) because verifying needs it in clear. Both are shown once,
    when the receiver is created or rotated (`POST /api/v1/tenants/{id}/alert-push/`).
    """

    tenant = models.OneToOneField(
        "accounts.Tenant", on_delete=models.CASCADE, related_name="alert_push_receiver", verbose_name=_("tenant")
    )
    token_hash = models.CharField(max_length=64, unique=True, editable=False)
    secret_encrypted = models.TextField(editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    rotated_at = models.DateTimeField(null=True, blank=True)
    last_received_at = models.DateTimeField(null=True, blank=True, help_text=_("Last push with a valid signature."))
    last_rejected_at = models.DateTimeField(null=True, blank=True, help_text=_("Last push refused (bad signature)."))
    received_count = models.PositiveBigIntegerField(default=0)
    rejected_count = models.PositiveBigIntegerField(default=0)

    objects = TenantScopedQuerySet.as_manager()

    class Meta:
        ordering = ["id"]
        verbose_name = _("NCM alert push receiver")

    def __str__(self) -> str:
        return f"NCM alert push receiver of tenant {self.tenant_id}"

    def __repr__(self) -> str:
        return f"<AlertPushReceiver id={self.pk} tenant={self.tenant_id}>"
