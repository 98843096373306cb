"""The jobs sweep and leases: no job stays pending or running without live work, on any database.

- Every task working on a job holds its lease (`Job.lease_until`): `job_start` takes it, a drainer or poller
  beats it from a thread while it runs (`job_heartbeat`), a continuation queued with a countdown extends it
  past its countdown (`extend_job_lease`). A job whose lease has passed has no live work.
- `sweep_jobs` (beat every minute, and at worker start) starts due scheduled jobs and pending jobs whose start
  task never started them (it failed, e.g. `OperationalError('database is locked')` on SQLite, or its
  message was lost), then re-drives running jobs without live work (at worker start-up: all running jobs)
  and reaps items whose worker died (jobs.runners).
  Each job is handled on its own: a database error on one is logged and retried at the next sweep.
"""
from __future__ import annotations

import logging
from datetime import timedelta

from django.conf import settings
from django.db import DatabaseError, transaction
from django.db.models import Q
from django.utils import timezone

from jobs.models import Job, JobStatus
from portal.heartbeat import Heartbeat

logger = logging.getLogger(__name__)

__all__ = ["sweep_jobs", "start_stranded_jobs", "job_heartbeat", "item_heartbeat", "extend_job_lease", "lease_timeout"]


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


def _without_live_work(now) -> Q:
    return Q(lease_until__isnull=True) | Q(lease_until__lt=now)


def start_stranded_jobs() -> list[int]:
    """Start pending jobs whose start task has not started them within JOBS_START_GRACE_SECONDS."""
    from jobs import services

    now = timezone.now()
    grace = timedelta(seconds=float(getattr(settings, "JOBS_START_GRACE_SECONDS", 30)))
    stranded = list(
        Job.objects.filter(status=JobStatus.PENDING, created_at__lt=now - grace)
        .filter(_without_live_work(now)).order_by("created_at").values_list("pk", flat=True)
    )
    started = []
    for pk in stranded:
        try:
            with transaction.atomic():
                services.job_log(Job.objects.get(pk=pk), "Started by the sweep: its start task had not started it.",
                                 level="warning")
                if services.job_start(pk):
                    started.append(pk)
                else:
                    transaction.set_rollback(True)  # started (or cancelled) meanwhile: no note
        except DatabaseError:
            logger.warning("sweep could not start job %s; it tries again at the next sweep", pk, exc_info=True)
    return started


def sweep_jobs(*, at_startup: bool = False) -> dict:
    """Beat (running jobs whose lease passed) and worker start-up (every running job). Returns what it did."""
    from jobs import runners, services

    done = {"scheduled": 0, "stranded": [], "resumed": 0}
    try:
        done["scheduled"] = services.start_due_jobs()
    except DatabaseError:
        logger.warning("sweep could not start due scheduled jobs; next sweep retries", exc_info=True)
    done["stranded"] = start_stranded_jobs()
    try:
        done["resumed"] = runners.resume_stalled_jobs(unattended_only=not at_startup)
    except DatabaseError:
        logger.warning("sweep could not resume running jobs; next sweep retries", exc_info=True)
    return done
