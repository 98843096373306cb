"""Jobs benchmark (`make bench`; not a test): a 2,000-router reboot and a 2,000-modem speed test against the
simulator at 20 ms a call, on PostgreSQL.

Prints, per job: time to finish, NCM calls per item, items per second, and the throughput ceiling the
tenant's rate budget sets (calls per minute / calls per item). Drainers run as threads in this process, as
many as the per-tenant in-flight cap (JOBS_MAX_IN_FLIGHT_PER_TENANT), which is what that many Celery worker
processes would do.

Environment: DATABASE_URL's server with a scratch database `portal_jobs_bench` (dropped and re-created),
REDIS_URL's server with db 12. Options: --routers N (2000), --latency-ms (20), --budget (calls/min used for
the run; the default budget's ceiling is printed as well).
"""
from __future__ import annotations

import argparse
import os
import sys
import threading
import time
from collections import Counter
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def configure_env() -> None:
    db = urlsplit(os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/portal"))
    os.environ["DATABASE_URL"] = urlunsplit(db._replace(path="/portal_jobs_bench"))
    redis = urlsplit(os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0"))
    os.environ["REDIS_URL"] = urlunsplit(redis._replace(path="/12"))
    os.environ["DJANGO_SETTINGS_MODULE"] = "portal.settings"
    os.environ["DJANGO_DEBUG"] = "0"
    os.environ.setdefault("DJANGO_SECRET_KEY", "bench-" + "x" * 60)
    os.environ.setdefault("PORTAL_ENCRYPTION_KEYS", "k6Xh2JZ2a3l5gXg0Qm7h0kE9mX8rYl1w3R2c9Vt4bWs=")
    os.environ["NCM_ALLOWED_BASE_URLS"] = "http://127.0.0.1:"
    import psycopg

    admin = urlunsplit(db._replace(path="/postgres"))
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute("DROP DATABASE IF EXISTS portal_jobs_bench WITH (FORCE)")
        conn.execute("CREATE DATABASE portal_jobs_bench")


def drain(job_id: int, threads: int) -> None:
    from django.db import connection

    from jobs import runners

    def work():
        try:
            while (delay := runners.run_job(job_id, max_seconds=600)) is not None:
                time.sleep(min(delay, 0.5))
        finally:
            connection.close()

    pool = [threading.Thread(target=work) for _ in range(threads)]
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--routers", type=int, default=2000)
    parser.add_argument("--latency-ms", type=int, default=20)
    parser.add_argument("--budget", type=int, default=100_000, help="calls per minute for this run")
    args = parser.parse_args()
    configure_env()

    import django

    django.setup()
    from django.conf import settings
    from django.core.cache import cache
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    cache.clear()
    from accounts.models import Organization, Tenant, User
    from accounts.services import credential_save
    from jobs import runners, services
    from jobs.models import ItemStatus, Job, JobItem, SpeedTestResult
    from ncm_sim.server import SimServer
    from ncm_sync.models import NetDevice, Router, SyncState
    from ncm_sync.services import sync_tenant

    sim = SimServer(routers=args.routers, seed=41, speed_test_duration_s=5).start()
    try:
        org = Organization.objects.create(name="Bench MSP", slug="bench")
        tenant = Tenant.objects.create(organization=org, name="Bench", slug="bench")
        names = {"X-CP-API-ID": "cp_api_id", "X-CP-API-KEY": "cp_api_key", "X-ECM-API-ID": "ecm_api_id", "X-ECM-API-KEY": "ecm_api_key"}
        credential_save(tenant=tenant, provider="ncm", base_url=sim.base_url,
                        secrets_in={names[h]: v for h, v in sim.keys.items()})
        SyncState.objects.update_or_create(tenant=tenant, defaults={"rate_limit_per_minute": args.budget})
        run = sync_tenant(tenant_id=tenant.pk)
        assert run.status == "succeeded", run.error
        user = User.objects.create_superuser("bench", "b@example.com", "bench-password-1")
        routers = list(Router.objects.filter(tenant=tenant, deleted_at__isnull=True).values_list("pk", flat=True))
        threads = settings.JOBS_MAX_IN_FLIGHT_PER_TENANT
        sim.set_faults(latency_ms=args.latency_ms)
        default_budget = settings.NCM_RATE_LIMIT_PER_MINUTE
        print(f"machine: {os.cpu_count()} cores; simulator {args.routers} routers at {args.latency_ms} ms/call; "
              f"{threads} drainers (per-tenant in-flight cap); run budget {args.budget} calls/min")

        # Reboot
        sim.reset_counters()
        job = services.job_create(user=user, tenant=tenant, kind="reboot", router_ids=routers)
        started = time.perf_counter()
        services.job_start(job.pk)
        drain(job.pk, threads)
        services.job_finish_if_done(job.pk)
        elapsed = time.perf_counter() - started
        job.refresh_from_db()
        calls = sum(sim.state.calls.values())
        per_item = calls / max(job.counts["total"], 1)
        rebooted = Counter(r["router_id"] for r in sim.state.reboots)
        print(f"reboot: {job.counts['total']} items in {elapsed:.1f} s ({job.counts['total'] / elapsed:.0f} items/s), "
              f"status {job.status} {job.counts}; NCM calls {calls} ({per_item:.2f} per item); "
              f"max reboots of one router {max(rebooted.values())}")
        print(f"reboot: ceiling set by the default budget ({default_budget}/min): "
              f"{default_budget / 60 / per_item:.1f} items/s, {job.counts['total'] * per_item / default_budget:.1f} min for this job")

        # Speed test
        with_modems = list(NetDevice.objects.filter(tenant=tenant, deleted_at__isnull=True, mode="wan")
                           .exclude(type="ethernet").order_by().values_list("router_id", flat=True).distinct())
        modems = NetDevice.objects.filter(tenant=tenant, deleted_at__isnull=True, mode="wan").exclude(type="ethernet").count()
        sim.reset_counters()
        job = services.job_create(user=user, tenant=tenant, kind="speed_test", router_ids=with_modems)
        started = time.perf_counter()
        services.job_start(job.pk)
        runners.run_speed_test(job.pk)
        test_ids = set(JobItem.objects.filter(job=job).exclude(ncm_ref="").values_list("ncm_ref", flat=True))
        attempt = 0
        while not Job.objects.get(pk=job.pk).finished_at:
            delay = None
            for test_id in test_ids:
                delay = runners.poll_speed_test(job.pk, test_id, attempt) or delay
            attempt += 1
            time.sleep(min(delay or 0.5, 2))
        elapsed = time.perf_counter() - started
        job.refresh_from_db()
        calls = sum(sim.state.calls.values())
        print(f"speed_test: {modems} modems on {len(with_modems)} routers in {elapsed:.1f} s (NCM's test itself lasts "
              f"{sim.state.speed_test_duration_s:.0f} s), status {job.status} {job.counts}; NCM calls {calls} "
              f"({calls / max(modems, 1):.4f} per modem: {len(test_ids)} POST + polls); "
              f"results stored {SpeedTestResult.objects.filter(job=job).count()}")
        print(f"speed_test: ceiling set by the default budget: {default_budget * 10_000:,} modems/min "
              f"(one call starts up to 10,000); polling, not the budget, bounds it")
    finally:
        sim.stop()


if __name__ == "__main__":
    main()
