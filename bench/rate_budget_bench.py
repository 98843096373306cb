"""What the shared NCM rate budget costs the caller per call (not a test; figures for docs/sync-performance.md).

The same RateBudget against the same Redis, both ways in one run: the one-round-trip Lua admission (what a
Redis-backed deployment uses) and the cache-API path (what other caches, or a Redis that refuses scripts, use).
Printed: wall and CPU time per call, best of --rounds rounds of --calls calls.

    .venv/bin/python bench/rate_budget_bench.py [--calls 2000 --rounds 3]

Environment: REDIS_URL's server, db BENCH_REDIS_DB (default 13).
"""
from __future__ import annotations

import argparse
import os
import sys
import time
import uuid
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--calls", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    redis = urlsplit(os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0"))
    os.environ["REDIS_URL"] = urlunsplit(redis._replace(path="/" + os.environ.get("BENCH_REDIS_DB", "13")))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings_test")
    os.environ["PORTAL_TEST_REDIS_FIXED"] = "1"
    import django

    django.setup()
    from ncm_sync import ratebudget

    def per_call(scripts: bool) -> tuple[float, float]:
        ratebudget._scripts_refused = not scripts
        budget = ratebudget.RateBudget(key=f"bench-{uuid.uuid4().hex}", limit=10**9)
        for _ in range(50):
            budget.try_acquire()
        best = (float("inf"), float("inf"))
        for _ in range(args.rounds):
            wall, cpu = time.perf_counter(), time.process_time()
            for _ in range(args.calls):
                budget.try_acquire()
            best = min(best, ((time.perf_counter() - wall) / args.calls, (time.process_time() - cpu) / args.calls))
        return best

    lua, api = per_call(True), per_call(False)
    print(f"rate budget per call: Lua script {lua[0] * 1000:.3f} ms wall, {lua[1] * 1000:.3f} ms CPU; "
          f"cache API {api[0] * 1000:.3f} ms wall, {api[1] * 1000:.3f} ms CPU ({api[0] / lua[0]:.1f}x the wall)")


if __name__ == "__main__":
    main()
