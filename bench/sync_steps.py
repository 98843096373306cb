"""Where a first sync's wall time goes, step by step (not a test; figures for docs/sync-performance.md).

Against ncm_sim (every page rendered once beforehand, so the simulator's cost is out of the way), a first sync and
then an unchanged requested resync of one new tenant, each in a child process like bench/sync_bench.py. Printed per
run: when each listing ended, how long each engine step after the listings took (names, tombstones, cursors, the
overview's figures, the device projection), and how many of the machine's cores were busy every 0.25 s.

    BENCH_DB=portal_bench_steps .venv/bin/python bench/sync_steps.py --routers 10000

Environment as bench/sync_bench.py (scratch database BENCH_DB, dropped and re-created; Redis db BENCH_REDIS_DB).
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))
os.environ.setdefault("BENCH_DB", "portal_bench_steps")

import sync_bench as sb  # noqa: E402

ENGINE_STEPS = ("_run_concurrently", "_resolve_links", "_confirm_missing", "_resolve_names", "_tombstone",
                "_change_cursors")
RUN_STEPS = ("router_states", "_refresh_figures", "_run_after_sync", "_finish")


def _machine_busy() -> tuple[int, int]:
    with open("/proc/stat") as f:
        values = [int(v) for v in f.readline().split()[1:]]
    return sum(values) - values[3] - values[4], sum(values)


def child(tenant_id: int) -> None:
    """One requested sync of the tenant with its steps timed (run in a process of its own)."""
    sb._django()
    from accounts.models import Tenant
    from django.core.cache import cache
    from ncm_sync.services import runs, sync

    marks, samples, stop = [], [], threading.Event()
    started = time.perf_counter()

    def timed(owner, name, label=None):
        original = getattr(owner, name)

        def inner(*args, **kwargs):
            t = time.perf_counter()
            try:
                return original(*args, **kwargs)
            finally:
                marks.append((label(args) if label else name, t - started, time.perf_counter() - t))
        setattr(owner, name, inner)

    for name in ENGINE_STEPS:
        timed(sync.TenantSync, name)
    timed(sync.TenantSync, "_sync_resource", lambda args: "  list " + args[1].RESOURCE)
    for name in RUN_STEPS:
        timed(runs, name)

    def sample():
        last = _machine_busy()
        while not stop.wait(0.25):
            now = _machine_busy()
            samples.append(os.cpu_count() * (now[0] - last[0]) / max(1, now[1] - last[1]))
            last = now

    cache.clear()
    queued, _ = runs.request_sync(tenant=Tenant.objects.get(pk=tenant_id), trigger="manual", enqueue=False)
    threading.Thread(target=sample, daemon=True).start()
    started = time.perf_counter()
    run = runs.sync_tenant(tenant_id=tenant_id, run_id=queued.pk)
    total = time.perf_counter() - started
    stop.set()
    print(f"  {run.status} in {total:.2f} s; busy cores every 0.25 s: " + " ".join(f"{b:.1f}" for b in samples))
    for name, at, took in sorted(marks, key=lambda m: m[1] + m[2]):
        print(f"  {name:30s} from {at:6.2f} s  took {took:6.3f} s  to {at + took:6.2f} s")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--routers", type=int, default=10000)
    parser.add_argument("--latency-ms", type=int, default=20)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--child", type=int)
    args = parser.parse_args()
    if args.child:
        child(args.child)
        return
    env = sb.bench_env()
    sb.recreate_db(env, False)
    sim, base_url = sb.start_sim(args.routers, args.seed, args.latency_ms)
    try:
        sb.sdk_download(base_url)  # renders every page once (cached for the fleet version)
        tenant_id = sb.run_phase(env, "setup", base_url, "steps")["tenant_id"]
        for name in ("first sync", "unchanged requested resync"):
            print(name)
            subprocess.run([sb.PY, __file__, "--child", str(tenant_id)], cwd=ROOT, env=env, check=True)
    finally:
        sim.terminate()


if __name__ == "__main__":
    main()
