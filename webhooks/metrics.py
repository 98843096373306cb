"""Prometheus figures of webhooks (portal/metrics.py): deliveries by status, failures, disabled subscriptions,
and NCM alert push receipts per tenant."""
from __future__ import annotations

from datetime import timedelta

from django.db.models import Count, Max, Q
from django.utils import timezone
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

from webhooks.models import AlertPushReceiver, DeliveryStatus, Webhook, WebhookDelivery


def collect():
    deliveries = GaugeMetricFamily("portal_webhook_deliveries", "Webhook deliveries by status.", labels=["status"])
    for row in WebhookDelivery.objects.values("status").annotate(n=Count("id")):
        deliveries.add_metric([row["status"]], row["n"])
    yield deliveries
    failed = GaugeMetricFamily("portal_webhook_deliveries_failed_last_hour",
                               "Webhook deliveries given up (failed) among those created in the last hour.")
    failed.add_metric([], WebhookDelivery.objects.filter(
        created_at__gte=timezone.now() - timedelta(hours=1), status=DeliveryStatus.FAILED).count())
    yield failed

    figures = Webhook.objects.aggregate(
        disabled=Count("id", filter=Q(enabled=False)),
        auto_disabled=Count("id", filter=Q(enabled=False) & ~Q(disabled_reason="")),
        failing=Count("id", filter=Q(enabled=True, consecutive_failures__gt=0)),
        worst=Max("consecutive_failures", filter=Q(enabled=True)),
    )
    disabled = GaugeMetricFamily("portal_webhook_subscriptions_disabled",
                                 "Webhook subscriptions disabled after repeated failures (or by hand).")
    disabled.add_metric([], figures["disabled"])
    yield disabled
    auto = GaugeMetricFamily("portal_webhook_subscriptions_disabled_by_failures",
                             "Webhook subscriptions the portal disabled itself (repeated failures, 410 Gone): someone must look.")
    auto.add_metric([], figures["auto_disabled"])
    yield auto
    failing = GaugeMetricFamily("portal_webhook_subscriptions_failing",
                                "Enabled webhook subscriptions whose last delivery attempt failed.")
    failing.add_metric([], figures["failing"])
    yield failing
    worst = GaugeMetricFamily("portal_webhook_subscription_consecutive_failures_max",
                              "The most consecutive failed deliveries of any enabled subscription (it is disabled at the limit).")
    worst.add_metric([], figures["worst"] or 0)
    yield worst

    labels = ["tenant", "organization"]
    received = CounterMetricFamily("portal_alert_push_received", "NCM alert pushes accepted (valid signature), per tenant.",
                                   labels=labels)
    rejected = CounterMetricFamily("portal_alert_push_rejected", "NCM alert pushes refused (bad signature), per tenant.",
                                   labels=labels)
    last = GaugeMetricFamily("portal_alert_push_last_received_timestamp_seconds",
                             "When the tenant's last valid NCM alert push arrived (Unix time).", labels=labels)
    for receiver in AlertPushReceiver.objects.select_related("tenant__organization").only(
            "received_count", "rejected_count", "last_received_at", "tenant__slug", "tenant__organization__slug"):
        tl = [receiver.tenant.slug, receiver.tenant.organization.slug]
        received.add_metric(tl, receiver.received_count)
        rejected.add_metric(tl, receiver.rejected_count)
        if receiver.last_received_at:
            last.add_metric(tl, receiver.last_received_at.timestamp())
    yield received
    yield rejected
    yield last
