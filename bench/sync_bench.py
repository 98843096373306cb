"""Sync benchmark (`make bench`; not a test): one run against a simulator of 10,000 routers at 20 ms a call.

Prints:
- the full first sync (download and write) time, and the official `ncm` SDK downloading the same lists with
  `limit='all'` (download only, same simulator, same run);
- NCM API calls against the minimum possible (sum of ceil(rows / 500) over the listed resources);
- the unchanged resync's time and the rows it wrote (the run's counts, and PostgreSQL's own tuple counters);
- the peak memory (max RSS) of the process that ran each sync.

Environment: DATABASE_URL's server is used with a scratch database `portal_bench` (dropped and re-created),
REDIS_URL (default redis://127.0.0.1:6379/0, db 13 is used) for the rate budget and locks.
Options: --routers N (10000), --latency-ms (20), --seed (7), --keep-db.
"""
from __future__ import annotations

import argparse
import json
import math
import os
import resource
import socket
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
PY = sys.executable
RESOURCES = ["accounts", "groups", "routers", "net_devices", "net_device_health", "net_device_metrics",
             "locations", "configuration_managers", "alerts"]
SDK_METHODS = {
    "accounts": "get_accounts", "groups": "get_groups", "routers": "get_routers", "net_devices": "get_net_devices",
    "net_device_health": "get_net_device_health", "net_device_metrics": "get_net_device_metrics",
    "locations": "get_locations", "configuration_managers": "get_configuration_managers", "alerts": "get_alerts",
}
KEYS = {"X-CP-API-ID": "bench-cp-id", "X-CP-API-KEY": "bench-cp-key", "X-ECM-API-ID": "bench-ecm-id",
        "X-ECM-API-KEY": "bench-ecm-key"}


def bench_env() -> dict:
    env = dict(os.environ)
    db = urlsplit(env.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/portal"))
    env["DATABASE_URL"] = urlunsplit(db._replace(path="/portal_bench"))
    redis = urlsplit(env.get("REDIS_URL", "redis://127.0.0.1:6379/0"))
    env["REDIS_URL"] = urlunsplit(redis._replace(path="/13"))
    env["DJANGO_SETTINGS_MODULE"] = "portal.settings"
    env["DJANGO_DEBUG"] = "0"  # DEBUG would keep every SQL query in memory
    env.setdefault("DJANGO_SECRET_KEY", "bench-" + "x" * 60)
    env.setdefault("PORTAL_ENCRYPTION_KEYS", "k6Xh2JZ2a3l5gXg0Qm7h0kE9mX8rYl1w3R2c9Vt4bWs=")
    env["NCM_ALLOWED_BASE_URLS"] = "http://127.0.0.1:"
    env["PYTHONUNBUFFERED"] = "1"
    return env


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


#
# Child phases (run with --phase, Django set up in this process)
#
def _django():
    import django

    django.setup()


def phase_setup(base_url: str) -> dict:
    _django()
    from accounts.models import Organization, Tenant
    from accounts.services import credential_save

    org = Organization.objects.create(name="Bench MSP", slug="bench")
    tenant = Tenant.objects.create(organization=org, name="Bench fleet", slug="bench-fleet")
    names = {"X-CP-API-ID": "cp_api_id", "X-CP-API-KEY": "cp_api_key", "X-ECM-API-ID": "ecm_api_id",
             "X-ECM-API-KEY": "ecm_api_key"}
    credential_save(tenant=tenant, provider="ncm", base_url=base_url,
                    secrets_in={names[h]: v for h, v in KEYS.items()})
    return {"tenant_id": tenant.pk}


def _tuple_counters() -> int:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_stat_clear_snapshot()")
        cursor.execute(
            "SELECT coalesce(sum(n_tup_ins + n_tup_upd + n_tup_del), 0) FROM pg_stat_user_tables "
            "WHERE relname LIKE 'ncm_sync_%%' AND relname <> 'ncm_sync_syncrun' AND relname <> 'ncm_sync_syncstate'"
        )
        return int(cursor.fetchone()[0])


def phase_sync(tenant_id: int) -> dict:
    _django()
    from django.core.cache import cache

    from ncm_sync.models import MIRRORED_MODELS
    from ncm_sync.services import sync_tenant

    cache.clear()
    before = _tuple_counters()
    started = time.perf_counter()
    run = sync_tenant(tenant_id=tenant_id)
    elapsed = time.perf_counter() - started
    time.sleep(1.2)  # PostgreSQL publishes tuple counters shortly after commit
    written_pg = _tuple_counters() - before
    rows = {m.RESOURCE: m.objects.filter(tenant_id=tenant_id, deleted_at__isnull=True).count() for m in MIRRORED_MODELS}
    links = sum(r.get("links_resolved", 0) for r in run.resources.values())
    return {
        "status": run.status, "error": run.error, "seconds": elapsed, "api_calls": run.api_calls,
        "created": run.created, "updated": run.updated, "deleted": run.deleted, "unchanged": run.unchanged,
        "links_resolved": links, "rows_written_pg": written_pg, "rows": rows, "resources": run.resources,
        "max_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


#
# Parent
#
def run_phase(env: dict, *args: str) -> dict:
    out = subprocess.run([PY, __file__, "--phase", *args], cwd=ROOT, env=env, capture_output=True, text=True)
    if out.returncode != 0:
        sys.stderr.write(out.stdout + out.stderr)
        raise SystemExit(f"phase {args[0]} failed")
    return json.loads(out.stdout.strip().splitlines()[-1])


def recreate_db(env: dict, keep: bool) -> None:
    import psycopg

    admin = urlsplit(env["DATABASE_URL"])._replace(path="/postgres")
    with psycopg.connect(urlunsplit(admin), autocommit=True) as conn:
        if not keep:
            conn.execute("DROP DATABASE IF EXISTS portal_bench WITH (FORCE)")
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = 'portal_bench'").fetchone()
        if not exists:
            conn.execute("CREATE DATABASE portal_bench")
    subprocess.run([PY, "manage.py", "migrate", "--noinput", "-v", "0"], cwd=ROOT, env=env, check=True)


def start_sim(routers: int, seed: int, latency_ms: int) -> tuple[subprocess.Popen, str]:
    port = free_port()
    env = dict(os.environ, X_CP_API_ID=KEYS["X-CP-API-ID"], X_CP_API_KEY=KEYS["X-CP-API-KEY"],
               X_ECM_API_ID=KEYS["X-ECM-API-ID"], X_ECM_API_KEY=KEYS["X-ECM-API-KEY"], PYTHONUNBUFFERED="1")
    proc = subprocess.Popen(
        [PY, "-m", "ncm_sim", "--host", "127.0.0.1", "--port", str(port), "--routers", str(routers),
         "--seed", str(seed), "--latency-ms", str(latency_ms)],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    for line in proc.stdout:
        if "NCM API v2 at" in line:
            break
    else:
        raise SystemExit("the simulator did not start")
    return proc, f"http://127.0.0.1:{port}/api/v2"


def sim_calls(base_url: str) -> dict:
    import requests

    return requests.get(base_url.replace("/api/v2", "/_sim/calls"), timeout=10).json()


def reset_calls(base_url: str) -> None:
    import requests

    requests.post(base_url.replace("/api/v2", "/_sim/reset-counters"), json={"calls": True}, timeout=10)


def sdk_download(base_url: str) -> tuple[float, dict]:
    from ncm.ncm import NcmClientv2

    client = NcmClientv2(api_keys=dict(KEYS), base_url=base_url, log_events=False)
    counts = {}
    started = time.perf_counter()
    for name in RESOURCES:
        rows = getattr(client, SDK_METHODS[name])(limit="all")
        counts[name] = len(rows) if isinstance(rows, list) else 0
    return time.perf_counter() - started, counts


def warm_up(base_url: str) -> None:
    """Make the simulator render its lazily built rows once (so neither contender pays for it)."""
    import requests

    session = requests.Session()
    session.headers.update(KEYS)
    for name in ("configuration_managers", "routers", "net_devices"):
        url = f"{base_url}/{name}/?limit=500"
        while url:
            url = session.get(url, timeout=60).json()["meta"]["next"]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--routers", type=int, default=10_000)
    parser.add_argument("--latency-ms", type=int, default=20)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--keep-db", action="store_true")
    parser.add_argument("--phase", nargs="+")
    args = parser.parse_args()
    if args.phase:
        name, *rest = args.phase
        result = phase_setup(rest[0]) if name == "setup" else phase_sync(int(rest[0]))
        print(json.dumps(result))
        return

    env = bench_env()
    print(f"sync benchmark: {args.routers} routers, {args.latency_ms} ms a call, PostgreSQL {urlsplit(env['DATABASE_URL']).path[1:]}")
    recreate_db(env, args.keep_db)
    sim, base_url = start_sim(args.routers, args.seed, args.latency_ms)
    try:
        warm_up(base_url)
        tenant_id = run_phase(env, "setup", base_url)["tenant_id"]

        reset_calls(base_url)
        sdk_seconds, sdk_counts = sdk_download(base_url)
        sdk_calls = sum(sim_calls(base_url).values())

        reset_calls(base_url)
        first = run_phase(env, "sync", str(tenant_id))
        if first["status"] != "succeeded":
            raise SystemExit(f"first sync failed: {first['error']}")
        reset_calls(base_url)
        second = run_phase(env, "sync", str(tenant_id))
    finally:
        sim.terminate()
        sim.wait(10)

    rows = first["rows"]
    minimum = sum(max(1, math.ceil(rows[name] / 500)) for name in RESOURCES)
    written_second = second["created"] + second["updated"] + second["deleted"] + second["links_resolved"]
    print()
    print("fleet: " + ", ".join(f"{name} {rows[name]}" for name in RESOURCES))
    print(f"SDK (ncm {_sdk_version()}) download only, limit='all': {sdk_seconds:.2f} s, {sdk_calls} calls, "
          f"{sum(sdk_counts.values())} rows")
    print(f"full first sync (download + write): {first['seconds']:.2f} s "
          f"({'faster than' if first['seconds'] <= sdk_seconds else 'SLOWER than'} the SDK's download alone)")
    print(f"  rows created {first['created']}, links resolved {first['links_resolved']}")
    for name, figures in first["resources"].items():
        print(f"    {name:24s} {figures['pages']:3d} pages  {figures['seconds']:6.2f} s "
              f"(waiting for NCM {figures.get('fetch_seconds', 0):5.2f} s, writing {figures.get('write_seconds', 0):5.2f} s)")
    print(f"API calls (first sync): {first['api_calls']} against a minimum of {minimum} "
          f"(sum of ceil(rows/500) per resource; +{first['api_calls'] - minimum})")
    print(f"unchanged resync: {second['seconds']:.2f} s, {second['api_calls']} calls, rows written {written_second} "
          f"(PostgreSQL tuple counters on the mirror tables: {second['rows_written_pg']})")
    print(f"peak worker memory (max RSS): first sync {first['max_rss_mb']:.0f} MB, resync {second['max_rss_mb']:.0f} MB")
    ok = (first["seconds"] <= sdk_seconds and first["api_calls"] - minimum <= 5 and written_second == 0
          and max(first["max_rss_mb"], second["max_rss_mb"]) < 300)
    print("targets:", "all met" if ok else "NOT all met")


def _sdk_version() -> str:
    try:
        from importlib.metadata import version

        return version("ncm")
    except Exception:  # pragma: no cover
        return "?"


if __name__ == "__main__":
    main()
