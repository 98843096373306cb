"""Portal-side alert state: acknowledgement (NCM itself has no acknowledgement). Reads and counts of alerts
live in `ncm_sync.selectors` (`open_alert_q`, `alert_counts`)."""
from __future__ import annotations

from django.db import transaction
from django.utils import timezone

from accounts.audit import record_change
from accounts.models import AuditAction
from ncm_sync.models import Alert
from ncm_sync.services.figures import refresh_tenant_figures

__all__ = ["alert_acknowledge", "alert_unacknowledge", "alerts_acknowledge", "BULK_ACKNOWLEDGE_LIMIT"]

BULK_ACKNOWLEDGE_LIMIT = 5000


def _audit(user, alert: Alert, name: str, source: str | None) -> None:
    # A person's acknowledgement is audited (its face comes from the request); the sync's own reopenings aren't.
    if user is not None or source is not None:
        record_change(actor=user, action=AuditAction.ACTION, instance=alert, source=source, extra={"action": name})


def alert_acknowledge(*, alert: Alert, user, source: str | None = None) -> Alert:
    """Mark the alert acknowledged by `user` now; an alert already acknowledged keeps its first acknowledgement.
    With a `source` ("api", "ui"), a first acknowledgement is audited in the same transaction."""
    if alert.acknowledged_at is None:
        with transaction.atomic():
            changed = Alert.objects.filter(pk=alert.pk, acknowledged_at__isnull=True).update(
                acknowledged_at=timezone.now(), acknowledged_by=user if getattr(user, "pk", None) else None
            )
            alert.refresh_from_db(fields=["acknowledged_at", "acknowledged_by"])
            if changed:
                _audit(user, alert, "acknowledge", source)
                refresh_tenant_figures([alert.tenant_id])
    return alert


def alert_unacknowledge(*, alert: Alert, user=None, source: str | None = None) -> Alert:
    """Reopen an acknowledged alert (audited with a `source` when it was acknowledged)."""
    with transaction.atomic():
        changed = Alert.objects.filter(pk=alert.pk, acknowledged_at__isnull=False).update(
            acknowledged_at=None, acknowledged_by=None
        )
        alert.acknowledged_at, alert.acknowledged_by = None, None
        if changed:
            _audit(user, alert, "unacknowledge", source)
            refresh_tenant_figures([alert.tenant_id])
    return alert


def alerts_acknowledge(*, queryset, user, source: str) -> int:
    """Acknowledge every unacknowledged alert of an (already scoped and filtered) queryset, at most
    BULK_ACKNOWLEDGE_LIMIT at once, in one transaction; each one audited as a single acknowledgement is.
    Returns how many were acknowledged (alerts acknowledged meanwhile by someone else keep theirs)."""
    with transaction.atomic():
        ids = list(queryset.filter(acknowledged_at__isnull=True).order_by("pk").values_list("pk", flat=True)[:BULK_ACKNOWLEDGE_LIMIT])
        now = timezone.now()
        done = Alert.objects.filter(pk__in=ids, acknowledged_at__isnull=True).update(
            acknowledged_at=now, acknowledged_by=user if getattr(user, "pk", None) else None
        )
        tenant_ids = set()
        for alert in Alert.objects.filter(pk__in=ids, acknowledged_at=now).select_related("tenant"):
            _audit(user, alert, "acknowledge", source)
            tenant_ids.add(alert.tenant_id)
        refresh_tenant_figures(tenant_ids)
    return done
