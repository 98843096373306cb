"""Events the mirror gives rise to: `router.offline`, `router.online`, `sync.failed` and `alert.created`.

They are announced as domain events (portal/events.py); the webhooks app subscribes and delivers them.
Router transitions are found by comparing states before and after a successful run (two queries), so
the sync engine's bulk writes stay untouched. Notifications never fail a sync.
"""
from __future__ import annotations

import logging

from ncm_sync.models import Alert, Router
from portal.events import announce

logger = logging.getLogger(__name__)

__all__ = [
    "router_states", "announce_router_transitions", "announce_sync_failed", "alert_event_data", "announce_alert_created",
    "announce_synced_alerts", "MAX_SYNC_ALERT_EVENTS",
]


def router_states(tenant_id: int) -> dict[int, str]:
    return dict(Router.objects.filter(tenant_id=tenant_id, deleted_at__isnull=True).values_list("pk", "state"))


def announce_router_transitions(tenant_id: int, before: dict[int, str]) -> int:
    """Emit router.offline / router.online for routers whose state crossed online ↔ not online."""
    from accounts.models import Tenant

    after = Router.objects.filter(tenant_id=tenant_id, deleted_at__isnull=True, pk__in=list(before)).values(
        "pk", "ncm_id", "name", "state"
    )
    changed = [row for row in after if (before[row["pk"]] == "online") != (row["state"] == "online")]
    if not changed:
        return 0
    try:
        tenant = Tenant.objects.get(pk=tenant_id)
        for row in changed:
            event = "router.online" if row["state"] == "online" else "router.offline"
            announce(tenant=tenant, event=event, data={
                "router": row["pk"], "ncm_id": row["ncm_id"], "name": row["name"], "state": row["state"],
                "previous_state": before[row["pk"]],
            })
    except Exception:  # noqa: BLE001 - the sync succeeded; a notification problem must not undo it
        logger.exception("router state events of tenant %s could not be queued", tenant_id)
    return len(changed)


def announce_sync_failed(run) -> None:
    try:
        announce(tenant=run.tenant, event="sync.failed", data={"sync_run": run.pk, "error": run.error})
    except Exception:  # noqa: BLE001
        logger.exception("sync.failed event of tenant %s could not be queued", run.tenant_id)


def alert_event_data(alert) -> dict:
    return {
        "alert": alert.pk,
        "ncm_id": alert.ncm_id,
        "type": alert.type,
        "router": alert.router_id,
        "friendly_info": alert.friendly_info,
        "created_at": alert.ncm_created_at.isoformat() if alert.ncm_created_at else None,
        "detected_at": alert.detected_at.isoformat() if alert.detected_at else None,
    }


def announce_alert_created(alert) -> None:
    announce(tenant=alert.tenant, event="alert.created", data=alert_event_data(alert))


# A sync that finds more new alerts than this (an outage's backlog) announces the newest ones only.
MAX_SYNC_ALERT_EVENTS = 1000


def announce_synced_alerts(*, tenant_id: int, first_seen_at, initial: bool) -> int:
    """`alert.created` for the alerts a sync run inserted (rows whose first_seen_at is the run's time).

    Not on a tenant's first alert sync (`initial`): that listing is history, not news. Pushed alerts were
    announced when pushed, and the sync never re-inserts them (one row per NCM id).
    """
    if initial:
        return 0
    new = list(
        Alert.objects.filter(tenant_id=tenant_id, first_seen_at=first_seen_at)
        .select_related("tenant").order_by("-ncm_created_at", "-id")[:MAX_SYNC_ALERT_EVENTS]
    )
    for alert in reversed(new):
        announce_alert_created(alert)
    return len(new)
