"""Accounts tasks (thin): the audit log's retention."""
from celery import shared_task


@shared_task(ignore_result=True)
def prune_audit_events_task() -> int:
    """Beat, daily: audit events past settings.RETENTION_DAYS["audit_events"]."""
    from accounts.services import prune_audit_events

    return prune_audit_events()
