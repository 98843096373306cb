"""Prometheus figures of webhooks (portal/metrics.py): deliveries by status, disabled subscriptions."""
from __future__ import annotations

from django.db.models import Count
from prometheus_client.core import GaugeMetricFamily

from webhooks.models import Webhook, WebhookDelivery


def collect():
    deliveries = GaugeMetricFamily("portal_webhook_deliveries", "Webhook deliveries by status.", labels=["status"])
    for row in WebhookDelivery.objects.values("status").annotate(n=Count("id")):
        deliveries.add_metric([row["status"]], row["n"])
    yield deliveries
    disabled = GaugeMetricFamily("portal_webhook_subscriptions_disabled",
                                 "Webhook subscriptions disabled after repeated failures (or by hand).")
    disabled.add_metric([], Webhook.objects.filter(enabled=False).count())
    yield disabled
