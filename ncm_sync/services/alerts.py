"""Portal-side alert state: acknowledgement, and per-tenant counts (NCM itself has no acknowledgement)."""
from __future__ import annotations

from django.db.models import Count, Q, QuerySet
from django.utils import timezone

from ncm_sync.models import Alert

__all__ = ["alert_acknowledge", "alert_unacknowledge", "alert_counts"]


def alert_acknowledge(*, alert: Alert, user) -> Alert:
    """Mark the alert acknowledged by `user` now; an alert already acknowledged keeps its first ack."""
    if alert.acknowledged_at is None:
        alert.acknowledged_at = timezone.now()
        alert.acknowledged_by = user if getattr(user, "pk", None) else None
        Alert.objects.filter(pk=alert.pk, acknowledged_at__isnull=True).update(
            acknowledged_at=alert.acknowledged_at, acknowledged_by=alert.acknowledged_by
        )
        alert.refresh_from_db(fields=["acknowledged_at", "acknowledged_by"])
    return alert


def alert_unacknowledge(*, alert: Alert) -> Alert:
    Alert.objects.filter(pk=alert.pk).update(acknowledged_at=None, acknowledged_by=None)
    alert.acknowledged_at, alert.acknowledged_by = None, None
    return alert


def alert_counts(queryset: QuerySet) -> list[dict]:
    """Open / acknowledged / total alerts per tenant of an (already scoped and filtered) queryset: one query."""
    rows = (
        queryset.order_by()
        .values("tenant_id", "tenant__name")
        .annotate(total=Count("id"), acknowledged=Count("id", filter=Q(acknowledged_at__isnull=False)))
        .order_by("tenant__name", "tenant_id")
    )
    return [
        {"tenant": row["tenant_id"], "tenant_name": row["tenant__name"], "open": row["total"] - row["acknowledged"],
         "acknowledged": row["acknowledged"], "total": row["total"]}
        for row in rows
    ]
