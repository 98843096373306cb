"""Job and item leases: every task working on a job holds the job's lease (`Job.lease_until`).

`job_start` takes it, a drainer or poller beats it from a thread while it runs (`job_heartbeat`), a
continuation queued with a countdown extends it past its countdown (`extend_job_lease`); an item being sent
beats its own (`item_heartbeat`). The sweep (jobs/sweep.py) re-drives what no live lease covers.
"""
from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.utils import timezone

from jobs.models import Job
from portal.heartbeat import Heartbeat

__all__ = ["job_heartbeat", "item_heartbeat", "extend_job_lease", "lease_timeout", "heartbeat_every"]


def lease_timeout() -> float:
    return float(getattr(settings, "JOBS_HEARTBEAT_TIMEOUT_SECONDS", 60))


def heartbeat_every() -> float:
    return float(getattr(settings, "JOBS_HEARTBEAT_SECONDS", 10))


def _lease(extra: float = 0.0):
    return timezone.now() + timedelta(seconds=extra + lease_timeout())


def extend_job_lease(job_id: int, *, after_seconds: float = 0.0) -> None:
    """A task for the job is queued to run in `after_seconds`: the job has live work until then (+ timeout)."""
    Job.objects.filter(pk=job_id, finished_at__isnull=True).update(lease_until=_lease(after_seconds))


def job_heartbeat(job_id: int) -> Heartbeat:
    """`with job_heartbeat(job_id):` around a task's work keeps the job's lease while the task lives."""
    return Heartbeat(
        Job.objects.filter(pk=job_id, finished_at__isnull=True), every=heartbeat_every(),
        values=lambda: {"lease_until": _lease()},
    )


def item_heartbeat(item_id: int, *, lease_seconds: float) -> Heartbeat:
    """`with item_heartbeat(item.pk, lease_seconds=...):` around the sending of one item: while its worker
    lives the item is never reaped, however long NCM takes; once it dies, it is reaped `lease_seconds` after
    its last beat (the claim itself counts as one: `dispatched_at`)."""
    from jobs.models import ItemStatus, JobItem

    every = max(0.5, min(heartbeat_every(), lease_seconds / 3))
    return Heartbeat(
        JobItem.objects.filter(pk=item_id, status=ItemStatus.DISPATCHED), every=every, beat_now=False,
        values=lambda: {"lease_until": timezone.now() + timedelta(seconds=lease_seconds)},
    )
