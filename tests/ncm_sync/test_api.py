"""The mirror's read API, the tenant sync action, sync runs, the dispatcher and the rate budget unit."""
from __future__ import annotations

import time
from datetime import timedelta
from unittest import mock

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from accounts.models import AuditEvent
from ncm_sync.models import SyncRun, SyncState
from ncm_sync.ratebudget import RateBudget
from ncm_sync.services import dispatch_due_syncs, request_sync, sync_tenant
from tests.factories import make_credential, make_org, make_tenant, make_user
from tests.fleet import sim_keys, tenant_on


@pytest.fixture
def synced(sims, django_db_blocker):
    """Two tenants of one MSP on two simulators, synced once (sequential writer: fits the test transaction)."""
    sim_a = sims.start(routers=25, seed=41, keys=sim_keys("apa"))
    sim_b = sims.start(routers=15, seed=42, keys=sim_keys("apb"))
    org = make_org()
    a, b = tenant_on(sim_a, org=org), tenant_on(sim_b, org=org)
    for tenant in (a, b):
        assert sync_tenant(tenant_id=tenant.pk, workers=1).status == "succeeded"
    return org, a, b, sim_a, sim_b


def results(response):
    assert response.status_code == 200, response.content[:300]
    return response.json()["results"]


@pytest.mark.django_db
def test_mirrored_rows_show_ncm_fields_and_portal_links(synced, client_for):
    org, a, b, sim_a, _ = synced
    client = client_for(make_user(org=org, role="read_only"))
    routers = results(client.get("/api/v1/routers/", {"tenant": a.pk, "limit": 1000}))
    assert len(routers) == 25
    row = routers[0]
    ncm = sim_a.state.tables["routers"][row["ncm_id"]]
    assert row["name"] == ncm["name"] and row["serial_number"] == ncm["serial_number"] and row["mac"] == ncm["mac"]
    assert row["tenant"] == a.pk and isinstance(row["ncm_id"], str) and row["id"] != int(row["ncm_id"])
    groups = {g["id"]: g for g in results(client.get("/api/v1/groups/", {"tenant": a.pk}))}
    if ncm["group"]:
        assert groups[row["group"]]["ncm_id"] == ncm["group"].rstrip("/").rsplit("/", 1)[-1]
    accounts = {x["id"] for x in results(client.get("/api/v1/accounts/", {"tenant": a.pk}))}
    assert row["account"] in accounts
    nd = results(client.get("/api/v1/net-devices/", {"router": row["id"]}))
    assert nd and all(d["router"] == row["id"] for d in nd)
    assert "cellular_health_score" in nd[0] and "metrics" in nd[0]
    locations = results(client.get("/api/v1/locations/", {"tenant": a.pk, "limit": 1000}))
    assert all(loc["router"] is not None for loc in locations)
    assert results(client.get("/api/v1/alerts/", {"tenant": a.pk}))
    runs = results(client.get("/api/v1/sync-runs/", {"tenant": a.pk}))
    assert {"id", "tenant", "status", "started_at", "finished_at", "api_calls", "created", "updated", "deleted",
            "unchanged", "error"} <= set(runs[0])


@pytest.mark.django_db
def test_filters_msps_use(synced, client_for):
    org, a, b, sim_a, _ = synced
    client = client_for(make_user(org=org, role="read_only"))
    all_rows = results(client.get("/api/v1/routers/", {"limit": 1000}))
    assert {r["tenant"] for r in all_rows} == {a.pk, b.pk}
    online = results(client.get("/api/v1/routers/", {"tenant": a.pk, "state": "online", "limit": 1000}))
    assert online and all(r["state"] == "online" for r in online)
    some = all_rows[0]
    assert [r["id"] for r in results(client.get("/api/v1/routers/", {"search": some["serial_number"]}))] == [some["id"]]
    assert [r["id"] for r in results(client.get("/api/v1/routers/", {"mac": some["mac"].lower()}))] == [some["id"]]
    product = some["full_product_name"]
    assert all(r["full_product_name"] == product for r in results(client.get("/api/v1/routers/", {"product": product})))
    fw = some["firmware_version"]
    assert fw and all(r["firmware_version"] == fw for r in results(client.get("/api/v1/routers/", {"firmware": fw, "limit": 1000})))
    if some["group"]:
        assert all(r["group"] == some["group"] for r in results(client.get("/api/v1/routers/", {"group": some["group"], "limit": 1000})))
    modems = results(client.get("/api/v1/net-devices/", {"tenant": a.pk, "is_asset": "true", "limit": 1000}))
    carrier = modems[0]["carrier"]
    assert all(m["carrier"] == carrier for m in results(client.get("/api/v1/net-devices/", {"carrier": carrier, "limit": 1000})))
    category = next(m["cellular_health_category"] for m in modems if m["cellular_health_category"])
    graded = results(client.get("/api/v1/net-devices/", {"health_category": category, "limit": 1000}))
    assert graded and all(m["cellular_health_category"] == category for m in graded)
    ordered = results(client.get("/api/v1/routers/", {"ordering": "name", "limit": 1000}))
    assert [r["name"] for r in ordered] == sorted(r["name"] for r in ordered)
    # Tombstoned rows are hidden unless asked for.
    from ncm_sync.models import Router

    Router.objects.filter(pk=some["id"]).update(deleted_at=timezone.now())
    assert some["id"] not in {r["id"] for r in results(client.get("/api/v1/routers/", {"limit": 1000}))}
    assert [r["id"] for r in results(client.get("/api/v1/routers/", {"deleted": "true"}))] == [some["id"]]


@pytest.mark.django_db
def test_list_query_counts_do_not_grow_with_rows(synced, client_for):
    org, a, b, *_ = synced
    client = client_for(make_user(org=org, role="read_only"))
    client.get("/api/v1/routers/")  # the token's first use of the minute writes last_used_at
    for path in ("routers", "net-devices", "groups", "accounts", "locations", "alerts", "sync-runs"):
        counts = []
        for limit in (2, 20):
            with CaptureQueriesContext(connection) as ctx:
                assert client.get(f"/api/v1/{path}/", {"limit": limit}).status_code == 200
            counts.append(len(ctx.captured_queries))
        assert counts[0] == counts[1], (path, counts)


@pytest.mark.django_db
def test_sync_action_202_same_run_audit_and_roles(client_for, django_capture_on_commit_callbacks):
    org = make_org()
    tenant = make_tenant(org)
    make_credential(tenant)
    tech = make_user(org=org, role="full_access")
    with mock.patch("ncm_sync.services.runs._enqueue") as enqueue, django_capture_on_commit_callbacks(execute=True):
        first = client_for(tech).post(f"/api/v1/tenants/{tenant.pk}/sync/")
        second = client_for(tech).post(f"/api/v1/tenants/{tenant.pk}/sync/")
    assert first.status_code == 202 and second.status_code == 202
    assert first.json()["id"] == second.json()["id"] and first.json()["status"] == "queued"
    assert SyncRun.objects.filter(tenant=tenant).count() == 1
    assert enqueue.call_count == 1  # on commit of the first request only
    tenant.refresh_from_db()
    assert tenant.sync_status == "queued"
    assert AuditEvent.objects.filter(tenant=tenant, changes___details__action="sync").count() == 2
    for role in ("read_only", "diagnostic"):
        assert client_for(make_user(org=org, role=role)).post(f"/api/v1/tenants/{tenant.pk}/sync/").status_code == 403
    stranger = make_user(org=make_org(), role="admin")
    assert client_for(stranger).post(f"/api/v1/tenants/{tenant.pk}/sync/").status_code == 404
    shown = client_for(tech).get(f"/api/v1/tenants/{tenant.pk}/").json()
    assert shown["sync_status"] == "queued" and "last_synced_at" in shown


@pytest.mark.django_db
def test_a_lost_run_does_not_block_the_tenant_for_ever():
    tenant = make_tenant(make_org())
    with mock.patch("ncm_sync.services.runs._enqueue"):
        run, created = request_sync(tenant=tenant)
        SyncRun.objects.filter(pk=run.pk).update(status="running", started_at=timezone.now() - timedelta(hours=3))
        fresh, created = request_sync(tenant=tenant)
    assert created and fresh.pk != run.pk
    run.refresh_from_db()
    assert run.status == "failed" and "lost" in run.error


@pytest.mark.django_db
def test_dispatcher_enqueues_due_tenants_once_and_moves_next_sync_at():
    org = make_org()
    now = timezone.now()
    due = make_tenant(org, next_sync_at=now - timedelta(minutes=1), sync_interval_minutes=10)
    never = make_tenant(org)  # never synced: due at once
    later = make_tenant(org, next_sync_at=now + timedelta(minutes=5))
    no_credential = make_tenant(org, next_sync_at=now - timedelta(minutes=1))
    for tenant in (due, never, later):
        make_credential(tenant)
    with mock.patch("ncm_sync.services.runs._enqueue"):
        started = dispatch_due_syncs(now=now)
        assert sorted(started) == sorted([due.pk, never.pk])
        assert dispatch_due_syncs(now=now) == []  # moved forward: not due again
    due.refresh_from_db()
    # One interval on, pulled toward its phase by at most 10 % (ncm_sync.services.runs.next_sync_time).
    assert now + timedelta(minutes=9) <= due.next_sync_at <= now + timedelta(minutes=11)
    assert not SyncRun.objects.filter(tenant__in=[later, no_credential]).exists()
    assert SyncRun.objects.get(tenant=due).trigger == "schedule"


@pytest.mark.parametrize("backend", ["redis", "locmem"])
def test_rate_budget_admits_the_limit_then_waits(db, settings, backend):
    """On Redis (one Lua script) and on any other cache, through the cache API (`make demo` runs on a database cache)."""
    from django.core.cache import caches
    from django.core.cache.backends.redis import RedisCache

    if backend == "locmem":
        settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    assert isinstance(caches["default"], RedisCache) == (backend == "redis")
    budget = RateBudget(key="unit", limit=5, window=60)
    assert [budget.try_acquire() for _ in range(5)] == [0.0] * 5
    assert budget.try_acquire() > 0
    other = RateBudget(key="another-credential", limit=5, window=60)
    assert other.try_acquire() == 0.0  # one credential's traffic never spends another's


@pytest.mark.django_db
def test_rate_budget_counts_through_the_cache_api_when_redis_refuses_scripts(db, monkeypatch):
    from redis.exceptions import ResponseError

    from ncm_sync import ratebudget

    def refuse(*args, **kwargs):
        raise ResponseError("NOPERM this user has no permissions to run the 'evalsha' command")

    monkeypatch.setattr(ratebudget, "_admit_on_redis", refuse)
    monkeypatch.setattr(ratebudget, "_scripts_refused", False)
    budget = RateBudget(key="no-scripts", limit=3, window=60)
    assert [budget.try_acquire() for _ in range(3)] == [0.0] * 3
    assert budget.try_acquire() > 0  # still held to the limit, not failing open
    assert ratebudget._scripts_refused


@pytest.mark.django_db
def test_per_tenant_rate_limit_override_reaches_the_client():
    from accounts.models import Credential
    from ncm_sync.client import client_for_credential

    tenant = make_tenant(make_org())
    make_credential(tenant)
    SyncState.objects.create(tenant=tenant, rate_limit_per_minute=120)
    client = client_for_credential(Credential.objects.get(tenant=tenant))
    assert client.rate_budget.limit == 120
    assert "tsecret" not in client.rate_budget.key


def test_rate_budget_holds_across_processes(db):
    """Four processes hammering one credential's budget (15 calls per 3 s) through Redis never exceed it."""
    import multiprocessing

    from tests.ncm_sync.budget_worker import take_tokens

    ctx = multiprocessing.get_context("spawn")
    queue = ctx.Queue()
    # Its own Redis db and key: other test sessions on the machine flush the suite's db between tests.
    from urllib.parse import urlsplit, urlunsplit
    import uuid

    from django.conf import settings

    redis_url = urlunsplit(urlsplit(settings.REDIS_URL)._replace(path="/10"))
    key = f"multi-process-{uuid.uuid4().hex}"
    procs = [ctx.Process(target=take_tokens, args=(12, queue, redis_url, key)) for _ in range(4)]
    for proc in procs:
        proc.start()
    stamps = sorted(queue.get(timeout=60) for _ in range(48))
    for proc in procs:
        proc.join(30)
    worst = max(sum(1 for t in stamps if start <= t < start + 3.0) for start in stamps)
    # Stamps are taken by the callers after admission: on a loaded machine one can land a few ms late, in the
    # next window (seen at 16 under a parallel suite). A broken budget admits far more (48 at once).
    assert worst <= 16, worst
    assert stamps[-1] - stamps[0] >= 6.0  # 48 calls at 15 per 3 s take at least three windows
