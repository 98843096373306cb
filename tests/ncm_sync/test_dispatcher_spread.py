"""The sync dispatcher at fleet scale, in simulated time (fast): tenants spread across their interval instead of
bunching, each synced once per interval, and a slow or failing tenant never delays the others."""
from __future__ import annotations

from collections import Counter, defaultdict
from datetime import datetime, timedelta, timezone as dt_timezone
from unittest import mock

import pytest
import time_machine

from accounts.models import Credential, Provider, Tenant
from ncm_sync.models import SyncRun
from ncm_sync.services import dispatch_due_syncs
from ncm_sync.services import runs as runs_module
from ncm_sync.services.runs import next_sync_time, sync_phase_seconds
from tests.factories import make_org, make_tenant

pytestmark = pytest.mark.django_db

STEP = 30  # seconds between two dispatches (settings.SYNC_DISPATCH_INTERVAL_SECONDS)
INTERVAL_MIN = 15
START = datetime(2026, 3, 2, 9, 0, 7, tzinfo=dt_timezone.utc)


def _fleet(count: int) -> list[Tenant]:
    """`count` tenants with an NCM credential row (created together: all due at once, the worst case)."""
    org = make_org()
    tenants = [make_tenant(org, sync_interval_minutes=INTERVAL_MIN) for _ in range(count)]
    Credential.objects.bulk_create([
        Credential(tenant=t, provider=Provider.NCM, base_url="https://www.cradlepointecm.com/api/v2", secrets_encrypted="x")
        for t in tenants
    ])
    return tenants


def _simulate(intervals: int, *, finish=lambda now: SyncRun.objects.filter(status="queued").update(status="succeeded")):
    """Run the dispatcher every STEP seconds; workers finish every queued run at once (unless `finish` says
    otherwise). Returns {tenant id: [dispatch times]} and the number dispatched at each step."""
    dispatched: dict[int, list[datetime]] = defaultdict(list)
    per_step: list[int] = []
    with mock.patch.object(runs_module, "_enqueue"), time_machine.travel(START, tick=False) as clock:
        for step in range(intervals * INTERVAL_MIN * 60 // STEP):
            now = START + timedelta(seconds=step * STEP)
            clock.move_to(now)
            started = dispatch_due_syncs(now=now)
            for tenant_id in started:
                dispatched[tenant_id].append(now)
            per_step.append(len(started))
            finish(now)
    return dispatched, per_step


def test_phases_spread_any_run_of_ids_evenly():
    interval = INTERVAL_MIN * 60
    buckets = Counter(int(sync_phase_seconds(tenant_id, interval) // STEP) for tenant_id in range(1000, 1500))
    # 500 tenants over 30 buckets of 30 s: 16.7 a bucket on average; golden-ratio phases stay close to it.
    assert len(buckets) == interval // STEP and max(buckets.values()) <= 19 and min(buckets.values()) >= 15


def test_next_sync_time_keeps_the_interval_and_pulls_toward_the_phase():
    tenant = Tenant(pk=42, sync_interval_minutes=15)
    now = START
    tenant.next_sync_at = now  # on time: at most 2 minutes either way
    gap = (next_sync_time(tenant, now) - now).total_seconds()
    assert 900 - 120 <= gap <= 900 + 120
    tenant.next_sync_at = None  # never scheduled: straight to its phase, within half an interval of the target
    placed = next_sync_time(tenant, now)
    assert 450 <= (placed - now).total_seconds() <= 1350
    assert abs((placed.timestamp() % 900) - sync_phase_seconds(42, 900)) < 1e-3


def test_a_bunched_fleet_spreads_out_and_each_tenant_syncs_once_an_interval():
    count = 240
    tenants = _fleet(count)
    dispatched, per_step = _simulate(intervals=5)
    assert per_step[0] == count  # all new: all synced at once
    steps_per_interval = INTERVAL_MIN * 60 // STEP
    settled = per_step[-2 * steps_per_interval:]  # the last two intervals
    mean = count / steps_per_interval  # 8 a step
    assert sum(settled) == 2 * count  # each tenant exactly once an interval
    assert max(settled) <= mean * 1.5 + 1, settled  # no bunch: spread across the interval
    assert min(settled) >= mean * 0.5 - 1, settled
    for tenant in tenants:
        times = dispatched[tenant.pk]
        gaps = [(b - a).total_seconds() for a, b in zip(times[-3:], times[-2:])]
        assert all(900 - 150 <= gap <= 900 + 150 for gap in gaps), (tenant.pk, gaps)


def test_a_slow_or_failing_tenant_never_delays_the_others():
    tenants = _fleet(60)
    slow, failing = tenants[3], tenants[7]
    real_request = runs_module.request_sync

    def request(*, tenant, **kwargs):
        if tenant.pk == failing.pk:
            raise RuntimeError("simulated failure requesting this tenant's sync")
        return real_request(tenant=tenant, **kwargs)

    def finish(now):
        # Every run finishes at once but the slow tenant's, which keeps running (and beating) for ever.
        SyncRun.objects.filter(status="queued").exclude(tenant=slow).update(status="succeeded")
        SyncRun.objects.filter(tenant=slow, status__in=["queued", "running"]).update(status="running", started_at=now, heartbeat_at=now)

    with mock.patch.object(runs_module, "request_sync", side_effect=request):
        dispatched, per_step = _simulate(intervals=3, finish=finish)
    others = [t for t in tenants if t.pk not in (slow.pk, failing.pk)]
    for tenant in others:
        assert len(dispatched[tenant.pk]) in (3, 4), (tenant.pk, dispatched[tenant.pk])
    assert dispatched[slow.pk] == [START]  # still running: not queued again behind itself
    assert SyncRun.objects.filter(tenant=slow).count() == 1
    assert failing.pk not in dispatched
    failing.refresh_from_db()
    assert failing.next_sync_at > START + timedelta(minutes=2 * INTERVAL_MIN)  # kept on its schedule, retried
