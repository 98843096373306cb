"""Webhook tasks: thin wrappers around webhooks.services."""
from celery import shared_task


@shared_task(ignore_result=True, acks_late=True)
def deliver_webhook_task(delivery_id: int) -> None:
    from webhooks.services import attempt_delivery

    attempt_delivery(delivery_id)


@shared_task(ignore_result=True)
def dispatch_due_webhook_deliveries() -> int:
    """Beat, every minute: enqueue deliveries whose next attempt is due."""
    from webhooks.services import due_deliveries

    ids = due_deliveries()
    for pk in ids:
        deliver_webhook_task.delay(pk)
    return len(ids)
