"""Nothing stuck (issue 13, item 1): a job whose start task fails on the database is started by the sweep; the
sweep never starts a job twice and leaves a job alone while its start task may still run."""
from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import transaction
from django.utils import timezone

from jobs import services
from jobs.models import Job, JobItem, JobStatus
from jobs.sweep import start_stranded_jobs, sweep_jobs
from ncm_sync.models import ConfigurationManager, Router
from tests.helpers.celery_worker import celery_worker, wait_for
from tests.jobs.test_jobs_sim import operator_user, synced_tenant  # noqa: F401  (fixture)
from tests.fleet import sim_keys

DIFF = [{"system": {"system_id": "pushed-after-a-failed-start"}}, []]


def _start_task_gave_up(log: str) -> bool:
    return any("start_job_task" in line and "raised unexpected: OperationalError" in line for line in log.splitlines())


def _push_job(tenant, user, routers):
    return services.job_create(user=user, tenant=tenant, kind="config_push", router_ids=[r.pk for r in routers],
                               parameters={"mode": "patch", "diff": DIFF})


@pytest.mark.slow
@pytest.mark.xdist_group("celery")
@pytest.mark.django_db(transaction=True)
def test_start_task_failing_on_the_database_is_finished_by_the_sweep(sims, operator_user):  # noqa: F811
    sim = sims.start(routers=6, seed=41, keys=sim_keys("sw"))
    tenant = synced_tenant(sim)
    routers = list(Router.objects.filter(tenant=tenant, deleted_at__isnull=True, state="online").order_by("pk")[:2])
    assert routers
    # No worker runs yet: the start task waits in the broker.
    job = _push_job(tenant, operator_user, routers)
    assert job.status == JobStatus.PENDING
    # The worker's statements give up after 300 ms on a lock (as SQLite answers "database is locked"), and the
    # start task is retried once before it gives up; the sweep considers a pending job stranded after 1 s.
    env = {"PGOPTIONS": "-c lock_timeout=300", "JOBS_START_RETRIES": "1", "JOBS_START_GRACE_SECONDS": "1"}
    with transaction.atomic():
        Job.objects.select_for_update().get(pk=job.pk)  # another writer holds the job's row
        with celery_worker(concurrency=2, env=env) as worker:
            wait_for(lambda: _start_task_gave_up(worker.output()), timeout=30,
                     message="the start task to fail on the database")
            assert "Retry in" in worker.output()  # it was retried before giving up
    # The start task gave up: the job is stranded pending, and stays so without a sweep.
    job.refresh_from_db()
    assert job.status == JobStatus.PENDING and job.started_at is None

    from jobs.tasks import resume_stalled_jobs_task

    with celery_worker(concurrency=2, env=env):  # a worker (re)starts: its start-up sweep runs
        resume_stalled_jobs_task.delay()  # and beat's, every minute
        wait_for(lambda: Job.objects.get(pk=job.pk).finished_at, timeout=45, message="the sweep to finish the job")
    job.refresh_from_db()
    assert job.status == JobStatus.SUCCEEDED, list(JobItem.objects.filter(job=job).values("status", "error"))
    assert "Started by the sweep" in " ".join(job.log.values_list("message", flat=True))
    for router in routers:
        manager = ConfigurationManager.objects.get(tenant=tenant, router=router)
        with sim.state.lock:
            stored = sim.state.cm_row(manager.ncm_id)["configuration"]
        assert stored[0]["system"]["system_id"] == "pushed-after-a-failed-start"


@pytest.mark.django_db(transaction=True)
def test_sweep_starts_only_stranded_pending_jobs_once(sims, operator_user, settings, monkeypatch):  # noqa: F811
    from jobs import tasks

    monkeypatch.setattr(tasks.run_job_task, "delay", lambda *a, **k: None)  # drainers are not under test here
    settings.JOBS_START_GRACE_SECONDS = 30
    sim = sims.start(routers=4, seed=42, keys=sim_keys("sw2"))
    tenant = synced_tenant(sim)
    routers = list(Router.objects.filter(tenant=tenant, deleted_at__isnull=True, state="online")[:1])
    monkeypatch.setattr(tasks.start_job_task, "delay", lambda *a, **k: None)  # the start task is lost
    fresh = _push_job(tenant, operator_user, routers)
    stranded = _push_job(tenant, operator_user, routers)
    Job.objects.filter(pk=stranded.pk).update(created_at=timezone.now() - timedelta(seconds=31))
    scheduled = _push_job(tenant, operator_user, routers)
    Job.objects.filter(pk=scheduled.pk).update(status=JobStatus.SCHEDULED, scheduled_for=timezone.now() + timedelta(hours=1),
                                               created_at=timezone.now() - timedelta(hours=1))

    assert start_stranded_jobs() == [stranded.pk]
    assert start_stranded_jobs() == []  # started once: running now, not pending
    assert Job.objects.get(pk=stranded.pk).status == JobStatus.RUNNING
    assert Job.objects.get(pk=stranded.pk).lease_until > timezone.now()  # its drainers hold it
    assert Job.objects.get(pk=fresh.pk).status == JobStatus.PENDING  # its start task may still be coming
    assert Job.objects.get(pk=scheduled.pk).status == JobStatus.SCHEDULED

    Job.objects.filter(pk=fresh.pk).update(created_at=timezone.now() - timedelta(seconds=31))
    assert sweep_jobs()["stranded"] == [fresh.pk]


@pytest.mark.django_db(transaction=True)
def test_beat_sweep_redrives_a_running_job_only_when_no_live_work_holds_it(sims, operator_user, settings, monkeypatch):  # noqa: F811
    from jobs import tasks
    from jobs.sweep import job_heartbeat

    settings.JOBS_HEARTBEAT_SECONDS = 0.1
    settings.JOBS_HEARTBEAT_TIMEOUT_SECONDS = 60
    drainers = []
    monkeypatch.setattr(tasks.run_job_task, "delay", lambda job_id: drainers.append(job_id))
    monkeypatch.setattr(tasks.start_job_task, "delay", lambda *a, **k: None)
    sim = sims.start(routers=4, seed=43, keys=sim_keys("sw3"))
    tenant = synced_tenant(sim)
    routers = list(Router.objects.filter(tenant=tenant, deleted_at__isnull=True, state="online")[:2])
    job = _push_job(tenant, operator_user, routers)
    assert services.job_start(job.pk)
    drainers.clear()  # job_start queued its own drainers; they hold the job's lease
    assert sweep_jobs()["resumed"] == 0 and drainers == []

    # A drainer beats while it lives: the lease moves on and the sweep keeps out.
    Job.objects.filter(pk=job.pk).update(lease_until=timezone.now() - timedelta(seconds=1))
    with job_heartbeat(job.pk):
        first = Job.objects.get(pk=job.pk).lease_until
        wait_for(lambda: Job.objects.get(pk=job.pk).lease_until > first, timeout=5, message="a heartbeat")
    assert sweep_jobs()["resumed"] == 0 and drainers == []

    # Its worker died (no beat, lease passed): the sweep re-drives it once, and the queued drainer holds it.
    Job.objects.filter(pk=job.pk).update(lease_until=timezone.now() - timedelta(seconds=1))
    assert sweep_jobs()["resumed"] == 1 and drainers == [job.pk]
    assert Job.objects.get(pk=job.pk).lease_until > timezone.now() + timedelta(seconds=50)
    assert sweep_jobs()["resumed"] == 0 and drainers == [job.pk]
    # A worker's start-up sweep re-drives every running job: its predecessor's tasks may be gone.
    assert sweep_jobs(at_startup=True)["resumed"] == 1 and drainers == [job.pk, job.pk]


@pytest.mark.django_db(transaction=True)
def test_an_item_whose_worker_beats_is_never_reaped_one_that_stopped_is(sims, operator_user, monkeypatch):  # noqa: F811
    from jobs import runners, tasks
    from jobs.models import ItemStatus

    monkeypatch.setattr(tasks.start_job_task, "delay", lambda *a, **k: None)
    sim = sims.start(routers=4, seed=44, keys=sim_keys("sw4"))
    tenant = synced_tenant(sim)
    routers = list(Router.objects.filter(tenant=tenant, deleted_at__isnull=True, state="online")[:2])
    job = _push_job(tenant, operator_user, routers)
    long_ago = timezone.now() - runners.DISPATCH_LEASE - timedelta(minutes=5)
    beating, silent = JobItem.objects.filter(job=job).order_by("pk")
    JobItem.objects.filter(pk__in=[beating.pk, silent.pk]).update(status=ItemStatus.DISPATCHED, dispatched_at=long_ago)
    JobItem.objects.filter(pk=beating.pk).update(lease_until=timezone.now() + timedelta(seconds=30))
    assert runners.reap_stale_items(job.pk) == 1
    assert JobItem.objects.get(pk=silent.pk).status == ItemStatus.UNKNOWN
    assert JobItem.objects.get(pk=beating.pk).status == ItemStatus.DISPATCHED
    JobItem.objects.filter(pk=beating.pk).update(lease_until=timezone.now() - timedelta(seconds=1))
    assert runners.reap_stale_items(job.pk) == 1
    assert "stopped" in JobItem.objects.get(pk=beating.pk).error


def test_on_sqlite_a_start_task_failing_on_a_locked_database_is_finished_by_the_sweep(tmp_path):
    """The demo's database: the real start task fails with SQLite's own "database is locked" (another process
    writes), a sweep during the lock survives it, and the sweep after it finishes the job."""
    import json
    import os
    import subprocess
    import sys

    from tests.helpers.celery_worker import ROOT

    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "DATABASE_", "REDIS_", "PORTAL_"))}
    env.update(
        DJANGO_SETTINGS_MODULE="portal.settings", DJANGO_DEBUG="1", DATABASE_URL=f"sqlite:///{tmp_path / 'demo.sqlite3'}",
        PORTAL_VAR_DIR=str(tmp_path), PORTAL_ENCRYPTION_KEYS=os.environ.get(
            "PORTAL_ENCRYPTION_KEYS", "k6Xh2JZ2a3l5gXg0Qm7h0kE9mX8rYl1w3R2c9Vt4bWs="),
        JOBS_START_RETRIES="0", JOBS_START_GRACE_SECONDS="0",
    )
    done = subprocess.run([sys.executable, "-m", "tests.helpers.sqlite_sweep"], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-3000:]
    facts = json.loads(done.stdout.strip().splitlines()[-1])
    assert facts["vendor"] == "sqlite"
    assert facts["task_failed"] and "database is locked" in facts["task_error"], facts
    assert facts["sweep_while_locked"]["stranded"] == [] and facts["status_after_task"] == "pending", facts
    assert facts["sweep"]["stranded"] == [1], facts
    assert facts["status"] == "succeeded" and facts["finished"], facts
    assert facts["log"][0] == "Started by the sweep: its start task had not started it.", facts["log"]
