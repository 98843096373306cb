"""Real Celery workers (subprocesses), PostgreSQL and Redis: one run per tenant at a time, and the shared
rate budget across worker processes."""
from __future__ import annotations

import threading
import time

import pytest

from accounts.models import Tenant
from ncm_sync.models import SyncRun, SyncState
from tests.factories import make_org, make_user
from tests.helpers.celery_worker import celery_worker, wait_for
from tests.fleet import sim_keys, tenant_on

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("celery"), pytest.mark.django_db(transaction=True)]


def test_two_concurrent_sync_requests_make_one_run(sims, client_for):
    sim = sims.start(routers=40, seed=31, keys=sim_keys("cc"), latency_ms=30)
    tenant = tenant_on(sim)
    user = make_user(org=tenant.organization, role="full_access")
    answers = []

    def request():
        answers.append(client_for(user).post(f"/api/v1/tenants/{tenant.pk}/sync/"))

    with celery_worker(queues="sync", concurrency=2):
        threads = [threading.Thread(target=request) for _ in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert [a.status_code for a in answers] == [202, 202]
        ids = {a.json()["id"] for a in answers}
        assert len(ids) == 1, ids
        run_id = ids.pop()
        # A request while it is queued or running answers the same run.
        again = client_for(user).post(f"/api/v1/tenants/{tenant.pk}/sync/")
        assert again.status_code == 202
        if SyncRun.objects.get(pk=run_id).status in ("queued", "running"):
            assert again.json()["id"] == run_id
        wait_for(lambda: SyncRun.objects.filter(tenant=tenant, status__in=["queued", "running"]).count() == 0,
                 timeout=60, message="the sync to finish")
    run = SyncRun.objects.get(pk=run_id)
    assert run.status == "succeeded", run.error
    assert SyncRun.objects.filter(tenant=tenant).count() <= 2
    tenant.refresh_from_db()
    assert tenant.sync_status == "succeeded" and tenant.last_synced_at is not None


def test_rate_budget_holds_across_worker_processes(sims, monkeypatch):
    """Three tenants on the same NCM keys share one budget: 20 calls per 6 s, whichever worker makes them."""
    sim = sims.start(routers=12, seed=32, keys=sim_keys("rb"))
    stamps: list[float] = []
    original = sim.api.handle

    def recording(*args, **kwargs):
        stamps.append(time.monotonic())
        return original(*args, **kwargs)

    monkeypatch.setattr(sim.api, "handle", recording)
    org = make_org()
    tenants = [tenant_on(sim, org=org) for _ in range(3)]
    SyncState.objects.filter(tenant__in=tenants).update(rate_limit_per_minute=20)

    from ncm_sync.services import request_sync

    # The budgets in a Redis db of their own: other test sessions on a shared machine flush the suite's db.
    from urllib.parse import urlsplit, urlunsplit

    from django.conf import settings

    budget_redis = urlunsplit(urlsplit(settings.REDIS_URL)._replace(path="/10"))
    # One listing at a time per sync, so at most one admitted call per worker process is in flight: a call
    # the budget admitted can only reach NCM late by that much on a loaded machine.
    env = {"NCM_RATE_WINDOW_SECONDS": "6", "NCM_RATE_BUDGET_REDIS_URL": budget_redis, "NCM_SYNC_CONCURRENCY": "1"}
    in_flight = 3
    with celery_worker(queues="sync", concurrency=3, env=env):
        runs = [request_sync(tenant=tenant)[0] for tenant in tenants]
        wait_for(lambda: not SyncRun.objects.filter(pk__in=[r.pk for r in runs], status__in=["queued", "running"]).exists(),
                 timeout=120, message="three syncs")
    for run in SyncRun.objects.filter(pk__in=[r.pk for r in runs]):
        assert run.status == "succeeded", run.error
    assert len(stamps) > 30  # more than a window's worth: the budget had to hold calls back
    stamps.sort()
    worst = max(sum(1 for t in stamps if start <= t < start + 6.0) for start in stamps)
    assert worst <= 20 + in_flight, f"{worst} NCM calls within 6 s (budget 20, {in_flight} in flight)"
    assert stamps[-1] - stamps[0] >= 6.0
    assert Tenant.objects.filter(pk__in=[t.pk for t in tenants], sync_status="succeeded").count() == 3
