from django.contrib import admin

from accounts.roles import Action
from portal.admin import TenantScopedAdmin
from webhooks.models import AlertPushReceiver, Webhook, WebhookDelivery


@admin.register(Webhook)
class WebhookAdmin(TenantScopedAdmin):
    read_action = write_action = Action.MANAGE_CREDENTIALS
    list_display = ["url", "organization", "tenant", "enabled", "consecutive_failures", "disabled_reason"]
    exclude = ["secret_encrypted"]
    readonly_fields = ["consecutive_failures", "disabled_reason"]

    def has_add_permission(self, request):
        return False  # created through the API or UI, which show the signing secret once


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(TenantScopedAdmin):
    read_action = write_action = Action.MANAGE_CREDENTIALS
    list_display = ["created_at", "webhook", "event", "status", "attempts", "response_code"]
    list_filter = ["status", "event"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(AlertPushReceiver)
class AlertPushReceiverAdmin(TenantScopedAdmin):
    """Read-only: created and rotated through the API (POST /api/v1/tenants/{id}/alert-push/), shown once."""

    read_action = write_action = Action.MANAGE_CREDENTIALS
    list_display = ["tenant", "created_at", "rotated_at", "last_received_at", "received_count", "last_rejected_at",
                    "rejected_count"]
    exclude = ["secret_encrypted", "token_hash"]
    list_select_related = ["tenant"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False
