"""Outbound webhook subscriptions (Standard Webhooks v1) and their delivery log."""
from __future__ import annotations

from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from portal.crypto import rotate_token
from portal.scoping import OrganizationOrTenantScopedQuerySet

__all__ = ["Event", "Webhook", "WebhookDelivery", "DeliveryStatus"]


class Event(models.TextChoices):
    JOB_FINISHED = "job.finished", _("Job finished")
    SYNC_FAILED = "sync.failed", _("Sync failed")
    ROUTER_OFFLINE = "router.offline", _("Router went offline")
    ROUTER_ONLINE = "router.online", _("Router came online")
    ALERT_CREATED = "alert.created", _("Alert created")


class Webhook(models.Model):
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

    @classmethod
    def rotate_encrypted_secrets(cls) -> int:
        count = 0
        for webhook in cls.objects.select_for_update().only("pk", "secret_encrypted"):
            webhook.secret_encrypted = rotate_token(webhook.secret_encrypted)
            webhook.save(update_fields=["secret_encrypted"])
            count += 1
        return count


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
