import django_filters

from portal.api.filters import TenantFilterSet
from webhooks.models import Webhook, WebhookDelivery


class WebhookFilterSet(TenantFilterSet):
    organization = django_filters.NumberFilter(field_name="organization_id")

    class Meta:
        model = Webhook
        fields = ["enabled"]


class WebhookDeliveryFilterSet(TenantFilterSet):
    webhook = django_filters.NumberFilter(field_name="webhook_id")

    class Meta:
        model = WebhookDelivery
        fields = ["event", "status"]
