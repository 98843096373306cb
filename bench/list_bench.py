"""List API benchmark (not a test): every mirrored list at 1,000 rows against `routers`, in the same run.

A tenant is synced from an in-process `ncm_sim` fleet (real NCM shapes: wide JSON rows, modems with health and
metrics, alerts), then, as the organization's read-only user (scoped like any customer), each list is asked
`?limit=1000` at the first page and at a deep offset (the last full page), plus the CSV export of the routers,
net devices and alerts. Printed: the median of `--repeat` requests through Django's whole stack (test client,
no network), the query count, and the ratio to `routers` at the same offset (target: <= 1.5x, constant queries).

Environment: DATABASE_URL's server with a scratch database (BENCH_DB, default `portal_list_bench`, dropped
and re-created unless --reuse-db), REDIS_URL's server with db BENCH_REDIS_DB (default 13).
Options: --routers 10000 --repeat 5 --seed 7 --reuse-db.
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from bench_env import configure_bench_env  # noqa: E402
BENCH_DB = os.environ.get("BENCH_DB", "portal_list_bench")
LISTS = ["routers", "net-devices", "alerts", "groups", "locations", "accounts"]
CSV_LISTS = ["routers", "net-devices", "alerts"]


def configure_env(reuse: bool) -> None:
    configure_bench_env(BENCH_DB, redis_db=os.environ.get("BENCH_REDIS_DB", "13"), reuse=reuse,
                        NCM_ALLOWED_BASE_URLS="http://127.0.0.1:")


def load(routers: int, seed: int):
    """A tenant synced from ncm_sim (or the one already there with --reuse-db) and its read-only user."""
    from django.core.management import call_command
    from django.db import connection

    call_command("migrate", "--noinput", verbosity=0)
    from accounts.models import Membership, Organization, Tenant, User
    from accounts.roles import Role
    from accounts.services import credential_save
    from ncm_sim.server import SimServer
    from ncm_sync.services import sync_tenant

    tenant = Tenant.objects.filter(slug="list-bench").first()
    if tenant is None:
        org = Organization.objects.create(name="List bench MSP", slug="list-bench")
        tenant = Tenant.objects.create(organization=org, name="List bench fleet", slug="list-bench")
        sim = SimServer(routers=routers, seed=seed).start()
        try:
            names = {"X-CP-API-ID": "cp_api_id", "X-CP-API-KEY": "cp_api_key", "X-ECM-API-ID": "ecm_api_id",
                     "X-ECM-API-KEY": "ecm_api_key"}
            credential_save(tenant=tenant, provider="ncm", base_url=sim.base_url,
                            secrets_in={names[h]: v for h, v in sim.keys.items()})
            started = time.perf_counter()
            run = sync_tenant(tenant_id=tenant.pk)
            assert run.status == "succeeded", run.error
            print(f"synced {routers} routers from ncm_sim in {time.perf_counter() - started:.1f} s")
        finally:
            sim.stop()
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")
    user = User.objects.filter(username="list-bench-ro").first()
    if user is None:
        user = User.objects.create_user("list-bench-ro", "ro@list-bench.example", "list-bench-pw-1234567")
        Membership.objects.create(user=user, organization=tenant.organization, role=Role.READ_ONLY)
    return tenant, user


def measure(client, url: str, repeat: int) -> tuple[float, int, int]:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    def fetch():
        response = client.get(url)
        assert response.status_code == 200, (url, response.status_code)
        if response.streaming:
            size = sum(len(chunk) for chunk in response.streaming_content)
            response.close()
            return size
        return len(response.content)

    fetch()  # warm-up
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        size = fetch()
        times.append(time.perf_counter() - started)
    with CaptureQueriesContext(connection) as ctx:
        fetch()
    return statistics.median(times), len(ctx.captured_queries), size


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--routers", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--reuse-db", action="store_true")
    args = parser.parse_args()
    configure_env(args.reuse_db)
    import django

    django.setup()
    from django.test import Client

    from ncm_sync.models import Account, Alert, Group, Location, NetDevice, Router

    tenant, user = load(args.routers, args.seed)
    client = Client()
    client.force_login(user)
    counts = {"routers": Router, "net-devices": NetDevice, "alerts": Alert, "groups": Group, "locations": Location,
              "accounts": Account}
    print(f"list benchmark: tenant with " + ", ".join(
        f"{name} {model.objects.filter(tenant=tenant).count()}" for name, model in counts.items()
    ) + f"; median of {args.repeat}, as a read-only user")
    print(f"{'list':34s} {'seconds':>8s} {'queries':>8s} {'rows/s':>9s} {'vs routers':>11s}")
    for deep in (False, True):
        reference = None
        for name in LISTS:
            rows = counts[name].objects.filter(tenant=tenant).count()
            offset = max(0, (rows - 1) // 1000 * 1000) if deep else 0
            if deep and offset == 0:
                continue
            url = f"/api/v1/{name}/?limit=1000" + (f"&offset={offset}" if offset else "")
            seconds, queries, _size = measure(client, url, args.repeat)
            shown = min(1000, rows - offset)
            reference = seconds if name == "routers" else reference
            ratio = f"{seconds / reference:.2f}x" if reference else "-"
            print(f"{name + (f' @{offset}' if offset else ''):34s} {seconds:8.3f} {queries:8d} "
                  f"{shown / seconds:9.0f} {ratio:>11s}")
    reference = None
    for name in CSV_LISTS:
        rows = counts[name].objects.filter(tenant=tenant).count()
        seconds, queries, size = measure(client, f"/api/v1/{name}/?format=csv", max(1, args.repeat // 2))
        per_row = seconds / max(rows, 1)
        reference = per_row if name == "routers" else reference
        print(f"{name + ' CSV (' + str(rows) + ' rows)':34s} {seconds:8.3f} {queries:8d} {rows / seconds:9.0f} "
              f"{per_row / reference:10.2f}x (per row)")


if __name__ == "__main__":
    main()
