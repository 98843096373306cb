"""Where a resync's time and memory go (not a test; figures for docs/sync-performance.md).

Loads a tenant of N routers from ncm_sim (a first sync, in a child process like bench/sync_bench.py), then, in this
process: an unchanged requested (full) resync with its resident memory sampled every 0.25 s (and, with
--tracemalloc, Python's own allocations at their peak), then a scheduled light resync under cProfile (the top
entries by cumulative time). Also times ncm_sim's alert cursor pages (the simulator's cost, not the portal's).

    BENCH_DB=portal_bench_p .venv/bin/python bench/sync_profile.py --routers 10000 [--tracemalloc]
    MALLOC_ARENA_MAX=2 BENCH_DB=portal_bench_p .venv/bin/python bench/sync_profile.py --routers 50000

Environment as bench/sync_bench.py (scratch database BENCH_DB, Redis db BENCH_REDIS_DB, rate budget raised).
"""
from __future__ import annotations

import argparse
import cProfile
import io
import os
import pstats
import sys
import threading
import time
import tracemalloc
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))
os.environ.setdefault("BENCH_DB", "portal_bench_profile")

import sync_bench  # noqa: E402


def rss_mb() -> int:
    with open("/proc/self/status") as status:
        return int(status.read().split("VmRSS:")[1].split()[0]) // 1024


def alert_cursor_pages(base_url: str, pages: int = 4) -> list[float]:
    import requests

    session = requests.Session()
    session.headers.update(sync_bench.KEYS)
    url, out = f"{base_url}/alerts/?limit=500", []
    for _ in range(pages + 1):
        started = time.perf_counter()
        answer = session.get(url, timeout=120).json()
        out.append(1000 * (time.perf_counter() - started))
        url = answer["meta"]["next"]
        if not url:
            break
    return out[1:]  # the cursor pages (the first page is an offset page)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--routers", type=int, default=10000)
    parser.add_argument("--latency-ms", type=int, default=20)
    parser.add_argument("--tracemalloc", action="store_true")
    args = parser.parse_args()

    env = sync_bench.bench_env()
    os.environ.update(env)
    sync_bench.recreate_db(env, keep=False)
    sim, base_url = sync_bench.start_sim(args.routers, 7, args.latency_ms)
    try:
        sync_bench.warm_up(base_url)
        tenant_id = sync_bench.run_phase(env, "setup", base_url, "profile")["tenant_id"]
        first = sync_bench.run_phase(env, "sync", str(tenant_id))
        print(f"{args.routers} routers: first sync {first['seconds']:.2f} s in a child process "
              f"(max RSS {first['max_rss_mb']:.0f} MB); MALLOC_ARENA_MAX={os.environ.get('MALLOC_ARENA_MAX', 'unset')}")
        print("ncm_sim alert cursor pages (ms, first one builds the index):",
              ", ".join(f"{ms:.0f}" for ms in alert_cursor_pages(base_url)))

        import django

        django.setup()
        from django.core.cache import cache

        from accounts.models import Tenant
        from ncm_sync.services import request_sync, sync_tenant

        cache.clear()
        tenant = Tenant.objects.get(pk=tenant_id)
        baseline = rss_mb()
        samples: list[int] = []
        stop = threading.Event()
        peak = {"traced": 0, "snapshot": None}

        def sample() -> None:
            while not stop.is_set():
                samples.append(rss_mb())
                if args.tracemalloc:
                    current, _ = tracemalloc.get_traced_memory()
                    if current > peak["traced"] * 1.05:
                        peak.update(traced=current, snapshot=tracemalloc.take_snapshot())
                time.sleep(0.25)

        if args.tracemalloc:
            tracemalloc.start(6)
        sampler = threading.Thread(target=sample)
        sampler.start()
        run, _ = request_sync(tenant=tenant, enqueue=False)
        started = time.perf_counter()
        run = sync_tenant(tenant_id=tenant_id, run_id=run.pk)
        elapsed = time.perf_counter() - started
        stop.set()
        sampler.join()
        print(f"requested (full) resync: {run.status}, {elapsed:.2f} s, {run.api_calls} calls; RSS before "
              f"{baseline} MB, peak {max(samples)} MB")
        if args.tracemalloc:
            _current, traced_peak = tracemalloc.get_traced_memory()
            tracemalloc.stop()
            print(f"Python allocations (tracemalloc): peak {traced_peak / 2**20:.0f} MB; at the sampled peak:")
            for stat in peak["snapshot"].statistics("lineno")[:10]:
                print("   ", stat)

        run, _ = request_sync(tenant=tenant, trigger="schedule", enqueue=False)
        profile = cProfile.Profile()
        started = time.perf_counter()
        profile.enable()
        run = sync_tenant(tenant_id=tenant_id, run_id=run.pk)
        profile.disable()
        elapsed = time.perf_counter() - started
        print(f"scheduled (light) resync: {run.status}, {elapsed:.2f} s (under cProfile), {run.api_calls} calls")
        for name, figures in run.resources.items():
            print(f"    {name:22s} {figures.get('pages', 0):4d} pages {figures.get('seconds', 0):6.2f} s"
                  f"{'  (changes only)' if figures.get('changes_only') else ''}")
        out = io.StringIO()
        pstats.Stats(profile, stream=out).sort_stats("cumulative").print_stats(25)
        print("\n".join(line for line in out.getvalue().splitlines() if str(ROOT) in line or "ncalls" in line)[:6000])
    finally:
        sim.terminate()
        sim.wait(10)


if __name__ == "__main__":
    main()
