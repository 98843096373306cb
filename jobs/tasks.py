"""Job tasks: thin wrappers taking ids. Item safety lives in jobs.runners (dispatched-before-send)."""
from celery import shared_task
from celery.signals import worker_ready

# Late ack + reject on worker loss: a task whose worker is SIGKILLed is re-queued, and the runners never
# re-send an item already marked dispatched, so the redelivery is safe.
SAFE = {"acks_late": True, "reject_on_worker_lost": True, "ignore_result": True}


@shared_task(**SAFE)
def start_job_task(job_id: int) -> None:
    from jobs.services import job_start

    job_start(job_id)


@shared_task(bind=True, soft_time_limit=300, time_limit=360, **SAFE)
def run_job_task(self, job_id: int) -> None:
    from jobs.runners import run_job

    delay = run_job(job_id)
    if delay is not None:
        # Items remain (the cap was full, or this task used its time) or others' items in flight must be
        # settled: continue then (always well below the broker's visibility timeout).
        run_job_task.apply_async((job_id,), countdown=min(delay, 600))


@shared_task(**SAFE)
def poll_speed_test_task(job_id: int, test_id: str, attempt: int = 0) -> None:
    from jobs.runners import poll_speed_test

    delay = poll_speed_test(job_id, test_id, attempt)
    if delay is not None:
        poll_speed_test_task.apply_async((job_id, test_id, attempt + 1), countdown=delay)


@shared_task(ignore_result=True)
def resume_stalled_jobs_task() -> None:
    """Beat, every minute (and at worker start): due scheduled jobs, lost tasks, dead workers' items."""
    from jobs.runners import resume_stalled_jobs

    resume_stalled_jobs()


@worker_ready.connect
def _resume_on_worker_start(sender=None, **kwargs):
    # AWX-style start-up reaping: a restarted worker picks up jobs its predecessor was running.
    resume_stalled_jobs_task.delay()
