"""Schedule benchmark (not a test): do 500 tenants × 200 routers on a 15-minute interval all get synced in time,
within their NCM budgets, with N workers? And how many workers per 1,000 tenants?

Two parts, in one run:
1. Measured: real syncs of a 200-router tenant against `ncm_sim` at --latency-ms a call (NCM answers in a few
   hundred ms), through the portal's sync service on PostgreSQL and Redis: the sync's duration and NCM calls
   (first sync, then unchanged resyncs).
2. Simulated time (fast): the portal's real dispatcher (`dispatch_due_syncs`, on PostgreSQL, the clock moved by
   time-machine every SYNC_DISPATCH_INTERVAL_SECONDS) schedules 500 tenants created together (the worst case:
   all due at once); a model of N Celery worker processes (one sync each at a time, FIFO `sync` queue) runs each
   queued sync for the measured resync duration (± 30 % spread; the first sync of each tenant for the measured
   first-sync duration). One tenant is slow (every sync takes 1.2 intervals: NCM hanging) and one fails at once (bad credential): the report shows the others are not delayed by them.

Prints per N: sync lag (due → finished; the dispatcher's 30-s tick included) worst and 99th percentile in steady
state (after the first interval) and for the cold start, the queue depth over time (max per 5 minutes), each
tenant's NCM calls per minute against its budget, and the workers needed per 1,000 tenants.

Environment: DATABASE_URL's server with a scratch database `portal_schedule_bench` (dropped and re-created),
REDIS_URL (its db is used for the sync lock and budget of part 1). Options: --tenants 500 --routers 200
--interval 15 --workers 2,4,8 --intervals 4 --latency-ms 300.
"""
from __future__ import annotations

import argparse
import heapq
import math
import os
import random
import statistics
import sys
import time
from collections import defaultdict
from datetime import datetime, timedelta, timezone as dt_timezone
from pathlib import Path
from unittest import mock
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from bench_env import configure_bench_env  # noqa: E402

TICK = 30.0


def configure_env() -> None:
    # REDIS_URL's own db, apart by a cache prefix (bench_env: the scratch database and the settings every bench uses).
    redis_db = urlsplit(os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")).path.lstrip("/") or "0"
    configure_bench_env("portal_schedule_bench", redis_db=redis_db, PORTAL_CACHE_PREFIX="schedule-bench",
                        NCM_ALLOWED_BASE_URLS="http://127.0.0.1:")


def measure_sync(routers: int, latency_ms: int, resyncs: int) -> dict:
    """Real syncs of one tenant against ncm_sim: (first sync seconds, calls), (resync seconds, calls)."""
    from accounts.models import Credential, Organization, Tenant
    from accounts.services import credential_save
    from ncm_sim.server import SimServer
    from ncm_sync.services import sync_tenant

    names = {"X-CP-API-ID": "cp_api_id", "X-CP-API-KEY": "cp_api_key", "X-ECM-API-ID": "ecm_api_id", "X-ECM-API-KEY": "ecm_api_key"}
    sim = SimServer(routers=routers, seed=5, latency_ms=latency_ms).start()
    try:
        org = Organization.objects.create(name="Measure", slug="measure")
        tenant = Tenant.objects.create(organization=org, name="Measured", slug="measured")
        credential_save(tenant=tenant, provider="ncm", base_url=sim.base_url, secrets_in={names[h]: v for h, v in sim.keys.items()})
        out = {"first": None, "resync": []}
        for i in range(resyncs + 1):
            started = time.perf_counter()
            run = sync_tenant(tenant_id=tenant.pk)
            elapsed = time.perf_counter() - started
            assert run.status == "succeeded", run.error
            if i == 0:
                out["first"] = (elapsed, run.api_calls)
            else:
                out["resync"].append((elapsed, run.api_calls))
        # Measured: its credential goes, so the dispatcher of part 2 schedules only the simulated fleet.
        Credential.objects.filter(tenant=tenant).delete()
        return out
    finally:
        sim.stop()


def simulate(args, workers: int, first: tuple[float, int], resync: tuple[float, int], seed: int) -> dict:
    """The real dispatcher on PostgreSQL in simulated time, with a model of `workers` worker processes."""
    import time_machine

    from accounts.models import Credential, Organization, Provider, Tenant
    from ncm_sync.models import SyncRun
    from ncm_sync.services import runs as runs_module

    rng = random.Random(seed)
    SyncRun.objects.all().delete()
    Credential.objects.filter(tenant__organization__slug="fleet").delete()
    Tenant.objects.filter(organization__slug="fleet").delete()
    org, _ = Organization.objects.get_or_create(slug="fleet", defaults={"name": "Fleet MSP"})
    tenants = Tenant.objects.bulk_create([
        Tenant(organization=org, name=f"Customer {i:04d}", slug=f"customer-{i:04d}", sync_interval_minutes=args.interval)
        for i in range(args.tenants)
    ])
    Credential.objects.bulk_create([
        Credential(tenant=t, provider=Provider.NCM, base_url="http://127.0.0.1:1/api/v2", secrets_encrypted="x") for t in tenants
    ])
    ids = [t.pk for t in tenants]
    slow, failing = ids[10], ids[20]
    start = datetime(2026, 3, 2, 9, 0, 0, tzinfo=dt_timezone.utc)
    interval = args.interval * 60.0
    end = args.intervals * interval

    queue: list[tuple[int, float]] = []  # FIFO of (run id, enqueued at), as the `sync` queue
    enqueued: list[int] = []
    free_at = [0.0] * workers  # per worker process: when it is free (seconds since start)
    events: list[tuple[float, int, int, str]] = []  # (finish time, run id, tenant id, outcome)
    due_at: dict[int, float] = {}  # tenant -> when its current scheduled sync was due
    run_due: dict[int, float] = {}
    run_tenant: dict[int, int] = {}
    synced_once: set[int] = set()
    lags: list[tuple[float, int, float]] = []  # (due, tenant, lag)
    depth: list[tuple[float, int]] = []
    calls_per_tenant: dict[int, int] = defaultdict(int)
    peak_rate: dict[int, float] = {}

    def duration(tenant_id: int) -> tuple[float, int, str]:
        if tenant_id == failing:
            return 2.0, 1, "failed"
        base, calls = (resync if tenant_id in synced_once else first)
        seconds = base * rng.uniform(0.7, 1.3)
        if tenant_id == slow:
            seconds = 1.2 * interval  # hung on a slow NCM: each sync outlasts the interval
        # The credential's budget: a sync never makes more than the limit's calls a minute.
        seconds = max(seconds, calls / args.budget * 60)
        return seconds, calls, "succeeded"

    def start_work(now: float) -> None:
        for w in range(workers):
            while queue and free_at[w] <= now:
                run_id, _queued = queue.pop(0)
                tenant_id = run_tenant[run_id]
                begin = max(free_at[w], _queued)
                # A message whose run is no longer queued (a resent duplicate, a run failed as lost) is a no-op,
                # as in sync_tenant.
                if not SyncRun.objects.filter(pk=run_id, status="queued").update(
                        status="running", started_at=start + timedelta(seconds=begin), heartbeat_at=start + timedelta(seconds=begin)):
                    continue
                seconds, calls, outcome = duration(tenant_id)
                free_at[w] = begin + seconds
                heapq.heappush(events, (free_at[w], run_id, tenant_id, outcome))
                calls_per_tenant[tenant_id] += calls
                # Calls in the busiest minute: all of them when the sync is shorter than a minute.
                peak_rate[tenant_id] = max(peak_rate.get(tenant_id, 0.0), calls * 60 / max(seconds, 60.0))

    def finish_until(now: float) -> None:
        while events and events[0][0] <= now:
            at, run_id, tenant_id, outcome = heapq.heappop(events)
            when = start + timedelta(seconds=at)
            SyncRun.objects.filter(pk=run_id).update(status=outcome, finished_at=when)
            if outcome == "succeeded":
                Tenant.objects.filter(pk=tenant_id).update(last_synced_at=when, sync_status="succeeded")
                synced_once.add(tenant_id)
            if run_id in run_due:
                lags.append((run_due[run_id], tenant_id, at - run_due[run_id]))
            # A worker freed mid-tick takes the next queued run at once (prefetch 1).
            start_work(at)

    def fake_enqueue(run):
        enqueued.append(run.pk)

    wall = time.perf_counter()
    with mock.patch.object(runs_module, "_enqueue", side_effect=fake_enqueue), \
            time_machine.travel(start, tick=False) as clock, \
            mock.patch.object(runs_module, "heartbeat_timeout", return_value=10 * interval):
        t = 0.0
        while t < end:
            now = start + timedelta(seconds=t)
            clock.move_to(now)
            finish_until(t)
            before = dict(Tenant.objects.filter(organization=org).values_list("pk", "next_sync_at"))
            runs_module.dispatch_due_syncs(now=now)
            for run_id in enqueued:
                tenant_id = SyncRun.objects.filter(pk=run_id).values_list("tenant_id", flat=True).first()
                run_tenant[run_id] = tenant_id
                due = before.get(tenant_id)
                run_due[run_id] = (due - start).total_seconds() if due else 0.0
                queue.append((run_id, t))
            enqueued.clear()
            start_work(t)
            depth.append((t, len(queue)))
            # Events inside the tick: finish runs (and start the next) until the next dispatcher tick.
            finish_until(t + TICK - 1e-6)
            t += TICK
    elapsed = time.perf_counter() - wall

    others = [lag for due, tenant, lag in lags if tenant not in (slow, failing)]
    steady = [lag for due, tenant, lag in lags if tenant not in (slow, failing) and due >= interval]
    cold = [lag for due, tenant, lag in lags if tenant not in (slow, failing) and due < interval]
    minutes = end / 60
    rates = [calls_per_tenant[t] / minutes for t in ids if t not in (failing,)]

    def pct(values, q):
        if not values:
            return float("nan")
        values = sorted(values)
        return values[min(len(values) - 1, math.ceil(q * len(values)) - 1)]

    buckets = defaultdict(int)
    for at, n in depth:
        buckets[int(at // 300)] = max(buckets[int(at // 300)], n)
    syncs = defaultdict(int)
    for _due, tenant, _lag in lags:
        syncs[tenant] += 1
    return {
        "workers": workers, "sim_seconds": elapsed, "runs": len(lags),
        "steady_worst": max(steady) if steady else float("nan"), "steady_p99": pct(steady, 0.99),
        "steady_p50": pct(steady, 0.5), "cold_worst": max(cold) if cold else float("nan"), "cold_p99": pct(cold, 0.99),
        "depth": [buckets[k] for k in sorted(buckets)], "max_depth": max(n for _, n in depth),
        "calls_per_min_mean": statistics.mean(rates), "calls_per_min_max": max(rates),
        "peak_rate_max": max(peak_rate.values()) if peak_rate else 0.0,
        "slow_syncs": syncs[slow], "failing_syncs": syncs[failing],
        "min_syncs_other": min(syncs[t] for t in ids if t not in (slow, failing)),
        "all_lags": others,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tenants", type=int, default=500)
    parser.add_argument("--routers", type=int, default=200)
    parser.add_argument("--interval", type=int, default=15, help="minutes")
    parser.add_argument("--intervals", type=int, default=4, help="simulated intervals")
    parser.add_argument("--workers", default="2,4,8")
    parser.add_argument("--latency-ms", type=int, default=300)
    parser.add_argument("--resyncs", type=int, default=2)
    parser.add_argument("--budget", type=int, default=500, help="NCM calls a minute per credential")
    args = parser.parse_args()
    configure_env()

    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    print(f"machine: {os.cpu_count()} cores. Part 1: real syncs of one {args.routers}-router tenant against ncm_sim at "
          f"{args.latency_ms} ms a call", flush=True)
    measured = measure_sync(args.routers, args.latency_ms, args.resyncs)
    first = measured["first"]
    resync = (statistics.mean(s for s, _ in measured["resync"]), round(statistics.mean(c for _, c in measured["resync"])))
    print(f"  first sync: {first[0]:.1f} s, {first[1]} NCM calls; unchanged resync: {resync[0]:.1f} s, {resync[1]} calls "
          f"(mean of {args.resyncs})")
    per_worker = args.interval * 60 / resync[0]
    print(f"  one worker process completes {per_worker:.0f} resyncs per {args.interval}-minute interval, so "
          f"{args.tenants} tenants need at least {args.tenants / per_worker:.1f} busy worker processes\n")

    print(f"Part 2: {args.tenants} tenants × {args.routers} routers created together, {args.interval}-minute interval, "
          f"{args.intervals} intervals simulated, the real dispatcher every {TICK:.0f} s; tenant #11 slow (each "
          f"sync 1.2 intervals), #21 failing. Lag = due → finished. Budget {args.budget} calls/min per credential.\n")
    print("| workers | steady lag p50 / p99 / worst (s) | cold start p99 / worst (s) | queue depth max, per 5 min "
          "| calls/min per tenant mean / max (peak during a sync) | syncs: slow, failing, fewest of others | sim wall s |")
    print("|---|---|---|---|---|---|---|")
    results = []
    for workers in [int(w) for w in args.workers.split(",")]:
        r = simulate(args, workers, first, resync, seed=workers)
        results.append(r)
        depth = " ".join(str(d) for d in r["depth"])
        print(f"| {workers} | {r['steady_p50']:.0f} / {r['steady_p99']:.0f} / {r['steady_worst']:.0f} | "
              f"{r['cold_p99']:.0f} / {r['cold_worst']:.0f} | {r['max_depth']}: {depth} | "
              f"{r['calls_per_min_mean']:.1f} / {r['calls_per_min_max']:.1f} ({r['peak_rate_max']:.0f} ≤ {args.budget}) | "
              f"{r['slow_syncs']}, {r['failing_syncs']}, {r['min_syncs_other']} | {r['sim_seconds']:.0f} |", flush=True)
    need = args.tenants / per_worker
    per_1000 = 1000 / per_worker
    print(f"\nBusy time: {per_1000:.2f} worker processes per 1,000 tenants are busy all the time ({resync[0]:.1f} s a resync, "
          f"{args.interval}-minute interval); at most 50 % busy (headroom for first syncs, catch-up after an outage, "
          f"slow tenants, jobs on the same machines): {math.ceil(2 * per_1000)} per 1,000 tenants.")
    for r in results:
        verdict = "holds" if r["steady_p99"] <= 120 else "falls behind"
        print(f"  {r['workers']} workers for {args.tenants} tenants ({r['workers'] * 1000 / args.tenants:.0f} per 1,000): "
              f"steady p99 lag {r['steady_p99']:.0f} s, worst {r['steady_worst']:.0f} s: {verdict} (p99 ≤ 2 min)")

if __name__ == "__main__":
    main()
