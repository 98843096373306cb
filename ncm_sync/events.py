"""Outbound events a sync gives rise to: `router.offline`, `router.online` and `sync.failed`.

Router transitions are found by comparing states before and after a successful run (two queries), so
the sync engine's bulk writes stay untouched. Notifications never fail a sync.
"""
from __future__ import annotations

import logging

from ncm_sync.models import Router

logger = logging.getLogger(__name__)

__all__ = ["router_states", "announce_router_transitions", "announce_sync_failed"]


def router_states(tenant_id: int) -> dict[int, str]:
    return dict(Router.objects.filter(tenant_id=tenant_id, deleted_at__isnull=True).values_list("pk", "state"))


def announce_router_transitions(tenant_id: int, before: dict[int, str]) -> int:
    """Emit router.offline / router.online for routers whose state crossed online ↔ not online."""
    from accounts.models import Tenant
    from webhooks.services import emit_event

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
            emit_event(tenant=tenant, event=event, data={
                "router": row["pk"], "ncm_id": row["ncm_id"], "name": row["name"], "state": row["state"],
                "previous_state": before[row["pk"]],
            })
    except Exception:  # noqa: BLE001 - the sync succeeded; a notification problem must not undo it
        logger.exception("router state events of tenant %s could not be queued", tenant_id)
    return len(changed)


def announce_sync_failed(run) -> None:
    from webhooks.services import emit_event

    try:
        emit_event(tenant=run.tenant, event="sync.failed", data={"sync_run": run.pk, "error": run.error})
    except Exception:  # noqa: BLE001
        logger.exception("sync.failed event of tenant %s could not be queued", run.tenant_id)
