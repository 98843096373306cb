"""Domain events: an app announces what happened; whoever cares subscribes (webhooks delivers them).

Apps low in the stack (ncm_sync, jobs) announce through this signal instead of calling the webhooks app,
so dependencies point one way. Receivers run in the announcer's transaction, synchronously.
"""
from __future__ import annotations

from django.dispatch import Signal

__all__ = ["domain_event", "announce"]

# Sent with: tenant (accounts.Tenant), event (a webhooks event name such as "router.offline"), data (dict).
domain_event = Signal()


def announce(*, tenant, event: str, data: dict) -> None:
    domain_event.send(sender=event, tenant=tenant, event=event, data=data)
