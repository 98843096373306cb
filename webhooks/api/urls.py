from portal.api.router import router
from webhooks.api import views

router.register("webhooks", views.WebhookViewSet, basename="webhook")
router.register("webhook-deliveries", views.WebhookDeliveryViewSet, basename="webhookdelivery")
router.register("tenants", views.TenantAlertPushViewSet, basename="tenant-alert-push")
