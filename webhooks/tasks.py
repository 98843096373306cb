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


# A sync of the tenant may be inserting the same alerts: wait for it (20 s steps, about 30 min at most, well
# under the broker's visibility timeout per step), then store anyway (storage is idempotent either way).
ALERT_SYNC_WAIT_SECONDS = 20
ALERT_SYNC_WAIT_RETRIES = 90


@shared_task(bind=True, ignore_result=True, acks_late=True, reject_on_worker_lost=True,
             max_retries=ALERT_SYNC_WAIT_RETRIES)
def store_pushed_alerts_task(self, tenant_id: int, alerts: list[dict]) -> int:
    """Store the alerts of one accepted NCM push (idempotent: re-running it stores nothing twice)."""
    from webhooks.alert_push import store_pushed_alerts, sync_in_progress

    if sync_in_progress(tenant_id) and self.request.retries < self.max_retries:
        raise self.retry(countdown=ALERT_SYNC_WAIT_SECONDS)
    return store_pushed_alerts(tenant_id=tenant_id, alerts=alerts)


@shared_task(ignore_result=True)
def prune_deliveries_task() -> int:
    """Beat, daily: retention (settings.RETENTION_DAYS)."""
    from webhooks.services import prune_deliveries

    return prune_deliveries()
