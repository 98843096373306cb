"""The jobs sweep: no job stays pending or running without live work, on any database.

- Every task working on a job holds its lease (jobs/leases.py). A job whose lease has passed has no live work.
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

from jobs.leases import extend_job_lease, item_heartbeat, job_heartbeat, lease_timeout  # noqa: F401  (re-exported)
from jobs.models import Job, JobStatus

logger = logging.getLogger(__name__)

__all__ = ["sweep_jobs", "start_stranded_jobs", "job_heartbeat", "item_heartbeat", "extend_job_lease", "lease_timeout"]


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
    # MSP-wide jobs: a wave whose tenant jobs all finished releases the next (or halts, or ends), even when
    # the finishing job's hook was lost with its worker.
    from jobs.models import OrgJob

    for pk in OrgJob.objects.filter(status__in=[JobStatus.RUNNING, JobStatus.CANCELLED], finished_at__isnull=True) \
            .values_list("pk", flat=True):
        try:
            services.org_job_step(pk)
        except DatabaseError:
            logger.warning("sweep could not step MSP-wide job %s; next sweep retries", pk, exc_info=True)
    return done
