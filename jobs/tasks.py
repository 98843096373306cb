"""Job tasks: thin wrappers taking ids. Item safety lives in jobs.runners (dispatched-before-send); leases and
the sweep in jobs.sweep."""
import logging

from celery import shared_task
from celery.signals import worker_ready
from django.db import InterfaceError, OperationalError

# Late ack + reject on worker loss: a task whose worker is SIGKILLed is re-queued, and the runners never
# re-send an item already marked dispatched, so the redelivery is safe.
SAFE = {"acks_late": True, "reject_on_worker_lost": True, "ignore_result": True}

logger = logging.getLogger(__name__)


# A start that fails on the database (SQLite's "database is locked", a lock timeout, a failover) is retried
# JOBS_START_RETRIES times; if it still fails, the sweep starts the job (jobs.sweep). job_start is idempotent.
@shared_task(bind=True, **SAFE)
def start_job_task(self, job_id: int) -> None:
    from django.conf import settings

    from jobs.services import job_start

    try:
        job_start(job_id)
    except (OperationalError, InterfaceError) as exc:
        if self.request.retries < int(getattr(settings, "JOBS_START_RETRIES", 3)):
            raise self.retry(exc=exc, countdown=min(30, 2 ** self.request.retries)) from exc
        raise


def _gone(job_id: int) -> bool:
    """A message for a job that no longer exists (deleted, or a broker left over from another database)."""
    from jobs.models import Job

    if Job.objects.filter(pk=job_id).exists():
        return False
    logger.warning("Job %s does not exist (deleted, or a message left in the broker from another database); skipped", job_id)
    return True


@shared_task(bind=True, soft_time_limit=300, time_limit=360, **SAFE)
def run_job_task(self, job_id: int) -> None:
    from jobs.runners import run_job
    from jobs.leases import extend_job_lease, job_heartbeat

    if _gone(job_id):
        return
    with job_heartbeat(job_id):
        delay = run_job(job_id)
    if delay is not None:
        # Items remain (the cap was full, or this task used its time) or others' items in flight must be
        # settled: continue then (always well below the broker's visibility timeout).
        delay = min(delay, 600)
        extend_job_lease(job_id, after_seconds=delay)
        run_job_task.apply_async((job_id,), countdown=delay)


@shared_task(**SAFE)
def poll_speed_test_task(job_id: int, test_id: str, attempt: int = 0) -> None:
    from jobs.runners import poll_speed_test
    from jobs.leases import extend_job_lease, job_heartbeat

    if _gone(job_id):
        return
    with job_heartbeat(job_id):
        delay = poll_speed_test(job_id, test_id, attempt)
    if delay is not None:
        extend_job_lease(job_id, after_seconds=delay)
        poll_speed_test_task.apply_async((job_id, test_id, attempt + 1), countdown=delay)


@shared_task(ignore_result=True)
def resume_stalled_jobs_task(at_startup: bool = False) -> None:
    """Beat, every minute (and at worker start): due scheduled jobs, stranded pending jobs, jobs without live
    work, dead workers' items."""
    from jobs.sweep import sweep_jobs

    sweep_jobs(at_startup=at_startup)


@worker_ready.connect
def _resume_on_worker_start(sender=None, **kwargs):
    # AWX-style start-up reaping: a restarted worker picks up jobs its predecessor was running.
    resume_stalled_jobs_task.delay(at_startup=True)


@shared_task(ignore_result=True)
def prune_jobs_task() -> int:
    """Beat, daily: retention (settings.RETENTION_DAYS)."""
    from jobs.services import prune_jobs

    return prune_jobs()
