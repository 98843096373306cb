from tests.api_specs import Spec, register
from webhooks.models import WebhookDelivery
from webhooks.services import webhook_save


def _webhook(tenant):
    return webhook_save(url="https://hooks.example.com/in", events=["sync.failed"], tenant=tenant)[0]


def _delivery(tenant):
    return WebhookDelivery.objects.create(
        webhook=_webhook(tenant), tenant=tenant, event="sync.failed", msg_id=f"msg_spec_{tenant.pk}_{id(tenant)}", payload={}
    )


register(
    "webhooks.Webhook",
    Spec(
        make=_webhook,
        create_payload=lambda t: {"tenant": t.pk, "url": "https://hooks.example.com/new", "events": ["job.finished"]},
        update_payload=lambda: {"enabled": False},
    ),
)
register("webhooks.WebhookDelivery", Spec(make=_delivery))
