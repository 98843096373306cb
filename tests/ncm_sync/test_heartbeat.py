"""Sync runs beat (issue 13, item 1b): a run whose worker stopped beating is failed, saying so, its tenant syncs
again at once, and a sync request never returns a dead run, whatever the task time limit."""
from __future__ import annotations

import time
from datetime import timedelta
from unittest import mock

import pytest
from django.utils import timezone

from accounts.models import Tenant
from ncm_sync.models import SyncRun
from ncm_sync.services import dispatch_due_syncs, request_sync
from tests.factories import make_credential, make_org, make_tenant, make_user
from tests.helpers.celery_worker import celery_beat, celery_worker, wait_for
from tests.fleet import sim_keys, tenant_on


def _running(tenant, *, started_ago: float, beat_ago: float | None) -> SyncRun:
    now = timezone.now()
    return SyncRun.objects.create(
        tenant=tenant, status="running", started_at=now - timedelta(seconds=started_ago),
        heartbeat_at=None if beat_ago is None else now - timedelta(seconds=beat_ago),
    )


@pytest.mark.django_db
def test_a_sync_request_never_returns_a_run_that_stopped_beating(settings):
    settings.SYNC_HEARTBEAT_TIMEOUT_SECONDS = 60
    settings.CELERY_TASK_TIME_LIMIT = 1800
    tenant = make_tenant(make_org())
    make_credential(tenant)
    # Started two hours ago (beyond any time limit) but beating: it lives, and a request answers it.
    alive = _running(tenant, started_ago=7200, beat_ago=5)
    with mock.patch("ncm_sync.services.runs._enqueue"):
        run, created = request_sync(tenant=tenant)
        assert (run.pk, created) == (alive.pk, False)
        # Silent for longer than the heartbeat timeout (well inside the time limit): dead.
        SyncRun.objects.filter(pk=alive.pk).update(heartbeat_at=timezone.now() - timedelta(seconds=61))
        run, created = request_sync(tenant=tenant)
    assert created and run.pk != alive.pk and run.status == "queued"
    alive.refresh_from_db()
    assert alive.status == "failed" and alive.finished_at is not None
    assert "stopped sending heartbeats" in alive.error
    tenant.refresh_from_db()
    assert tenant.sync_status == "queued"


@pytest.mark.django_db
def test_dispatcher_fails_dead_runs_and_syncs_their_tenant_at_once(settings, django_capture_on_commit_callbacks):
    settings.SYNC_HEARTBEAT_TIMEOUT_SECONDS = 60
    org = make_org()
    now = timezone.now()
    dead_tenant = make_tenant(org, next_sync_at=now + timedelta(minutes=50), sync_interval_minutes=60)
    live_tenant = make_tenant(org, next_sync_at=now + timedelta(minutes=50), sync_interval_minutes=60)
    never_beat = make_tenant(org, next_sync_at=now + timedelta(minutes=50), sync_interval_minutes=60)
    for tenant in (dead_tenant, live_tenant, never_beat):
        make_credential(tenant)
    dead = _running(dead_tenant, started_ago=300, beat_ago=90)
    alive = _running(live_tenant, started_ago=3000, beat_ago=2)
    silent = _running(never_beat, started_ago=120, beat_ago=None)
    with mock.patch("ncm_sync.services.runs._enqueue") as enqueue, django_capture_on_commit_callbacks(execute=True):
        started = dispatch_due_syncs()
    assert sorted(started) == sorted([dead_tenant.pk, never_beat.pk])
    assert enqueue.call_count == 2
    for run in (dead, silent):
        run.refresh_from_db()
        assert run.status == "failed" and "stopped sending heartbeats" in run.error, run.error
    alive.refresh_from_db()
    assert alive.status == "running" and not alive.error
    new = SyncRun.objects.get(tenant=dead_tenant, status="queued")
    assert new.trigger == "schedule"
    dead_tenant.refresh_from_db()
    assert dead_tenant.sync_status == "queued" and dead_tenant.next_sync_at > timezone.now() + timedelta(minutes=55)
    assert "stopped sending heartbeats" in dead_tenant.sync_error


@pytest.mark.slow
@pytest.mark.xdist_group("celery")
@pytest.mark.django_db(transaction=True)
def test_worker_sigkilled_mid_sync_then_the_next_sync_succeeds(sims, client_for):
    """Beat and a worker as deployed (no management command). The worker is SIGKILLed mid-sync and restarted:
    the dead run is failed, saying why, and the tenant's next sync succeeds well within 2 minutes, although its
    interval is an hour and the task time limit 30 minutes."""
    sim = sims.start(routers=60, seed=51, keys=sim_keys("hb"), latency_ms=500)
    tenant = tenant_on(sim, sync_interval_minutes=60)
    user = make_user(org=tenant.organization, role="full_access")
    env = {
        "SYNC_HEARTBEAT_SECONDS": "0.5", "SYNC_HEARTBEAT_TIMEOUT_SECONDS": "3", "SYNC_DISPATCH_INTERVAL_SECONDS": "1",
        "NCM_SYNC_CONCURRENCY": "1",
    }
    with celery_beat(env=env) as beat, celery_worker(queues="interactive,sync", concurrency=2, env=env) as worker:
        # Beat's dispatcher starts the first sync (the tenant was never synced).
        first = wait_for(lambda: SyncRun.objects.filter(tenant=tenant, status="running").first(), timeout=30,
                         message="the scheduled sync to start")
        assert first.trigger == "schedule"
        beats = {first.heartbeat_at}
        wait_for(lambda: beats.add(SyncRun.objects.get(pk=first.pk).heartbeat_at) or len(beats) >= 3, timeout=10,
                 message="heartbeats")
        assert sim.state.calls, "the sync had not reached NCM yet"
        worker.kill()  # SIGKILL, main process and pool, in the middle of the sync
        killed_at = time.monotonic()
        assert SyncRun.objects.get(pk=first.pk).status == "running"
        sim.set_faults(latency_ms=0)
        with celery_worker(queues="interactive,sync", concurrency=2, env=env) as restarted:
            try:
                second = wait_for(
                    lambda: SyncRun.objects.filter(tenant=tenant, status="succeeded").first(), timeout=45,
                    message="the next sync to succeed",
                )
            except AssertionError as exc:
                raise AssertionError(f"{exc}\n{restarted.output()[-3000:]}\n{beat.output()[-2000:]}") from None
            took = time.monotonic() - killed_at
            # A request now never answers the dead run.
            answer = client_for(user).post(f"/api/v1/tenants/{tenant.pk}/sync/")
            assert answer.status_code == 202 and answer.json()["id"] != first.pk
            dead = client_for(user).get(f"/api/v1/sync-runs/{first.pk}/")
            assert dead.status_code == 200 and dead.json()["status"] == "failed", dead.content
            assert dead.json()["heartbeat_at"] and "stopped sending heartbeats" in dead.json()["error"]
            wait_for(lambda: not SyncRun.objects.filter(tenant=tenant, status__in=["queued", "running"]).exists(),
                     timeout=30, message="the requested sync to finish")
    assert took < 45, took  # production: heartbeat timeout 60 s + dispatch every 30 s < 2 minutes
    first.refresh_from_db()
    assert first.status == "failed" and "stopped sending heartbeats" in first.error, first.error
    assert second.pk != first.pk and second.trigger == "schedule" and second.created_at > first.started_at
    tenant.refresh_from_db()
    assert tenant.last_synced_at >= second.started_at
    assert tenant.next_sync_at > timezone.now() + timedelta(minutes=50)  # on its hourly interval again
    # Only the killed run was declared dead: no live run was (they beat).
    failed = {r.pk: r.error for r in SyncRun.objects.filter(tenant=tenant, status="failed")}
    assert list(failed) == [first.pk], failed


@pytest.mark.django_db
def test_a_run_queued_for_long_has_its_task_sent_again_with_backoff_and_never_runs_twice(settings):
    from django.core.cache import cache

    from ncm_sync.services import sync_tenant
    from ncm_sync.services.runs import lock_key

    settings.SYNC_QUEUED_RESEND_SECONDS = 120
    tenant = make_tenant(make_org(), next_sync_at=timezone.now() + timedelta(hours=1))
    make_credential(tenant)
    run = SyncRun.objects.create(tenant=tenant, status="queued")
    SyncRun.objects.filter(pk=run.pk).update(created_at=timezone.now() - timedelta(minutes=3))
    with mock.patch("ncm_sync.services.runs._enqueue") as enqueue:
        dispatch_due_syncs()
        assert [c.args[0].pk for c in enqueue.call_args_list] == [run.pk]  # its message may sit with a dead worker
        dispatch_due_syncs()
        assert enqueue.call_count == 1  # just sent
        # Queued 10 minutes, last sent 150 s ago: a backlog, not a loss; the next resend waits as long again.
        SyncRun.objects.filter(pk=run.pk).update(created_at=timezone.now() - timedelta(minutes=10),
                                                 heartbeat_at=timezone.now() - timedelta(seconds=150))
        dispatch_due_syncs()
        assert enqueue.call_count == 1
        SyncRun.objects.filter(pk=run.pk).update(heartbeat_at=timezone.now() - timedelta(minutes=5, seconds=1))
        dispatch_due_syncs()
        assert enqueue.call_count == 2
    run.refresh_from_db()
    assert run.status == "queued" and not run.error
    # Two deliveries of one run: the one that does not hold the tenant's lock does nothing.
    cache.set(lock_key(tenant.pk), run.pk, timeout=60)
    try:
        assert sync_tenant(tenant_id=tenant.pk, run_id=run.pk).status == "queued"
    finally:
        cache.delete(lock_key(tenant.pk))
    assert SyncRun.objects.get(pk=run.pk).status == "queued"
