"""Sync benchmark (`make bench`; not a test): runs against a simulator of 10,000 routers at 20 ms a call.

Prints:
- the HEADLINE: the portal's full first sync (download and write of every mirrored resource) against the official
  `ncm` SDK's bare download (`limit='all'`) of routers, net devices, groups, accounts and locations, same
  simulator, same run, best of `--rounds` (2) alternating rounds; and the unchanged resync against the same;
- the SDK downloading every resource the portal syncs (second line);
- NCM API calls against the minimum possible (sum of ceil(rows / 500) over the listed resources);
- the unchanged resync's time and the rows it wrote (the run's counts, and PostgreSQL's own tuple counters);
- the peak memory (max RSS) of the process that ran each sync.

- the worker's CPU seconds for each sync; with `--routers 1000,10000,50000` the curve (time, calls, rows/s,
  peak RSS per fleet size; 50k takes long).

Environment: DATABASE_URL's server is used with a scratch database BENCH_DB (default `portal_bench`, dropped and
re-created), REDIS_URL's server (db BENCH_REDIS_DB, default 13) for the rate budget (raised to 1,000,000 calls a
minute unless BENCH_NCM_RATE_LIMIT_PER_MINUTE is set: the bench measures the portal, not NCM's limit) and locks; BENCH_PORT fixes
the simulator's port. Options: --routers N[,N...] (10000), --latency-ms (20), --seed (7), --rounds (2), --keep-db.
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
sys.path.insert(0, str(ROOT / "bench"))

from cpu_probe import CpuProbe  # noqa: E402

PY = sys.executable
RESOURCES = ["accounts", "groups", "routers", "net_devices", "net_device_health", "net_device_metrics",
             "locations", "configuration_managers", "alerts"]
SDK_METHODS = {
    "accounts": "get_accounts", "groups": "get_groups", "routers": "get_routers", "net_devices": "get_net_devices",
    "net_device_health": "get_net_device_health", "net_device_metrics": "get_net_device_metrics",
    "locations": "get_locations", "configuration_managers": "get_configuration_managers", "alerts": "get_alerts",
}
BENCH_DB = os.environ.get("BENCH_DB", "portal_bench")
BENCH_PORT = int(os.environ.get("BENCH_PORT", "0"))
KEYS = {"X-CP-API-ID": "bench-cp-id", "X-CP-API-KEY": "bench-cp-key", "X-ECM-API-ID": "bench-ecm-id",
        "X-ECM-API-KEY": "bench-ecm-key"}


def bench_env() -> dict:
    env = dict(os.environ)
    db = urlsplit(env.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/portal"))
    env["DATABASE_URL"] = urlunsplit(db._replace(path="/" + BENCH_DB))
    redis = urlsplit(env.get("REDIS_URL", "redis://127.0.0.1:6379/0"))
    env["REDIS_URL"] = urlunsplit(redis._replace(path="/" + os.environ.get("BENCH_REDIS_DB", "13")))
    env["DJANGO_SETTINGS_MODULE"] = "portal.settings"
    env["DJANGO_DEBUG"] = "0"  # DEBUG would keep every SQL query in memory
    env.setdefault("DJANGO_SECRET_KEY", "bench-" + "x" * 60)
    env.setdefault("PORTAL_ENCRYPTION_KEYS", "k6Xh2JZ2a3l5gXg0Qm7h0kE9mX8rYl1w3R2c9Vt4bWs=")
    env["NCM_ALLOWED_BASE_URLS"] = "http://127.0.0.1:"
    # The portal's own cost, not NCM's documented 500 calls a minute per key pair (which the SDK does not pace):
    # with the production budget a sync of more than ~500 calls also waits for it (printed per fleet below).
    env["NCM_RATE_LIMIT_PER_MINUTE"] = os.environ.get("BENCH_NCM_RATE_LIMIT_PER_MINUTE", "1000000")
    env["PYTHONUNBUFFERED"] = "1"
    env.setdefault("MALLOC_ARENA_MAX", "2")  # as the image runs the worker (Dockerfile)
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


def phase_setup(base_url: str, suffix: str = "") -> dict:
    _django()
    from accounts.models import Organization, Tenant
    from accounts.services import credential_save

    org, _ = Organization.objects.get_or_create(slug="bench", defaults={"name": "Bench MSP"})
    tenant = Tenant.objects.create(organization=org, name=f"Bench fleet {suffix}", slug=f"bench-fleet-{suffix}")
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


def _peak_rss_mb() -> float:
    """This process's peak resident memory. Not getrusage's ru_maxrss: Linux carries it across execve, so a
    phase's child reported the parent's peak (the SDK's download of every row) instead of its own."""
    try:
        with open("/proc/self/status") as status:
            return int(status.read().split("VmHWM:")[1].split()[0]) / 1024
    except (OSError, IndexError):
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def phase_sync(tenant_id: int, trigger: str = "manual") -> dict:
    """One sync of the tenant: `manual` (requested: every resource) or `schedule` (the dispatcher's: configuration
    managers only every NCM_FULL_SYNC_MINUTES)."""
    _django()
    from django.core.cache import cache

    from accounts.models import Tenant
    from ncm_sync.models import MIRRORED_MODELS
    from ncm_sync.services import request_sync, sync_tenant

    cache.clear()
    queued, _ = request_sync(tenant=Tenant.objects.get(pk=tenant_id), trigger=trigger, enqueue=False)
    before = _tuple_counters()
    cpu_before = _cpu_seconds()
    with CpuProbe(os.environ.get("BENCH_SIM_PID")) as probe:
        started = time.perf_counter()
        run = sync_tenant(tenant_id=tenant_id, run_id=queued.pk)
        elapsed = time.perf_counter() - started
    cpu_worker = _cpu_seconds() - cpu_before
    time.sleep(1.2)  # PostgreSQL publishes tuple counters shortly after commit
    written_pg = _tuple_counters() - before
    rows = {m.RESOURCE: m.objects.filter(tenant_id=tenant_id, deleted_at__isnull=True).count() for m in MIRRORED_MODELS}
    links = sum(r.get("links_resolved", 0) for r in run.resources.values())
    return {
        "status": run.status, "error": run.error, "seconds": elapsed, "api_calls": run.api_calls,
        "created": run.created, "updated": run.updated, "deleted": run.deleted, "unchanged": run.unchanged,
        "links_resolved": links, "rows_written_pg": written_pg, "rows": rows, "resources": run.resources,
        "max_rss_mb": _peak_rss_mb(),
        "cpu_seconds": cpu_worker, "cpu": probe.figures(),
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
            conn.execute(f"DROP DATABASE IF EXISTS {BENCH_DB} WITH (FORCE)")
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [BENCH_DB]).fetchone()
        if not exists:
            conn.execute(f"CREATE DATABASE {BENCH_DB}")
    subprocess.run([PY, "manage.py", "migrate", "--noinput", "-v", "0"], cwd=ROOT, env=env, check=True)


def start_sim(routers: int, seed: int, latency_ms: int) -> tuple[subprocess.Popen, str]:
    port = BENCH_PORT or free_port()
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


HEADLINE = ["routers", "net_devices", "groups", "accounts", "locations"]  # what a user looks at


def sdk_download(base_url: str, resources=RESOURCES) -> tuple[float, dict]:
    from ncm.ncm import NcmClientv2

    client = NcmClientv2(api_keys=dict(KEYS), base_url=base_url, log_events=False)
    counts = {}
    started = time.perf_counter()
    for name in resources:
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


def bench_fleet(env: dict, routers: int, args) -> dict:
    """Best of `args.rounds` alternating rounds (SDK bare download, then a portal first sync of a new tenant and
    its unchanged resync), all against one simulator."""
    sim, base_url = start_sim(routers, args.seed, args.latency_ms)
    env = dict(env, BENCH_SIM_PID=str(sim.pid))  # for the CPU probe of the sync phases
    rounds = []
    try:
        warm_up(base_url)
        reset_calls(base_url)
        sdk_all_seconds, sdk_all_counts = sdk_download(base_url)
        sdk_all_calls = sum(sim_calls(base_url).values())
        for index in range(args.rounds):
            reset_calls(base_url)
            sdk_seconds, sdk_counts = sdk_download(base_url, HEADLINE)
            sdk_calls = sum(sim_calls(base_url).values())
            tenant_id = run_phase(env, "setup", base_url, str(routers * 100 + index))["tenant_id"]
            reset_calls(base_url)
            first = run_phase(env, "sync", str(tenant_id))
            if first["status"] != "succeeded":
                raise SystemExit(f"first sync failed: {first['error']}")
            reset_calls(base_url)
            second = run_phase(env, "sync", str(tenant_id))
            reset_calls(base_url)
            scheduled = run_phase(env, "sync", str(tenant_id), "schedule")
            rounds.append({"sdk": sdk_seconds, "sdk_calls": sdk_calls, "sdk_rows": sum(sdk_counts.values()),
                           "first": first, "second": second, "scheduled": scheduled})
    finally:
        sim.terminate()
        sim.wait(10)
    best_first = min(rounds, key=lambda r: r["first"]["seconds"])["first"]
    best_second = min(rounds, key=lambda r: r["second"]["seconds"])["second"]
    best_scheduled = min(rounds, key=lambda r: r["scheduled"]["seconds"])["scheduled"]
    best_sdk = min(rounds, key=lambda r: r["sdk"])
    return {"routers": routers, "sdk": best_sdk["sdk"], "sdk_calls": best_sdk["sdk_calls"], "sdk_rows": best_sdk["sdk_rows"],
            "sdk_all": sdk_all_seconds, "sdk_all_calls": sdk_all_calls, "sdk_all_rows": sum(sdk_all_counts.values()),
            "first": best_first, "second": best_second, "scheduled": best_scheduled, "rounds": rounds}


def report(result: dict, verbose: bool) -> bool:
    first, second = result["first"], result["second"]
    rows = first["rows"]
    minimum = sum(max(1, math.ceil(rows[name] / 500)) for name in RESOURCES)
    written_second = second["created"] + second["updated"] + second["deleted"] + second["links_resolved"]
    ratio_first, ratio_second = first["seconds"] / result["sdk"], second["seconds"] / result["sdk"]
    print()
    print("fleet: " + ", ".join(f"{name} {rows[name]}" for name in RESOURCES))
    print(f"HEADLINE first full sync / SDK bare download ({', '.join(HEADLINE)}): {first['seconds']:.2f} s / "
          f"{result['sdk']:.2f} s = {ratio_first:.2f}x (target <= 1.0); unchanged resync {second['seconds']:.2f} s = "
          f"{ratio_second:.2f}x (target <= 0.5)   [best of {len(result['rounds'])} alternating rounds]")
    scheduled = result["scheduled"]
    written_scheduled = scheduled["created"] + scheduled["updated"] + scheduled["deleted"] + scheduled["links_resolved"]
    print(f"  the unchanged resync above is a requested (full) one: every resource listed completely. A scheduled "
          f"light resync (routers and metrics by NCM's changed-after filters, no configuration managers; full every "
          f"NCM_FULL_SYNC_MINUTES): {scheduled['seconds']:.2f} s = {scheduled['seconds'] / result['sdk']:.2f}x "
          f"(target <= 0.5), {scheduled['api_calls']} calls, rows written {written_scheduled}")
    print(f"SDK (ncm {_sdk_version()}) download of every resource the portal syncs ({len(RESOURCES)} lists): "
          f"{result['sdk_all']:.2f} s, {result['sdk_all_calls']} calls, {result['sdk_all_rows']} rows "
          f"(portal first sync {first['seconds'] / result['sdk_all']:.2f}x of it)")
    print(f"SDK bare download: {result['sdk_calls']} calls, {result['sdk_rows']} rows")
    print("rounds: " + "; ".join(f"SDK {r['sdk']:.2f} s, sync {r['first']['seconds']:.2f} s, resync {r['second']['seconds']:.2f} s, "
                                 f"scheduled {r['scheduled']['seconds']:.2f} s" for r in result["rounds"]))
    if verbose:
        print(f"  rows created {first['created']}, links resolved {first['links_resolved']}")
        for name, figures in first["resources"].items():
            print(f"    {name:24s} {figures['pages']:3d} pages  {figures['seconds']:6.2f} s "
                  f"(waiting for NCM {figures.get('fetch_seconds', 0):5.2f} s, writing {figures.get('write_seconds', 0):5.2f} s)")
    budget = int(os.environ.get("BENCH_NCM_RATE_LIMIT_PER_MINUTE", "1000000"))
    if budget >= 100000:
        print(f"rate budget raised for the bench; with NCM's 500 calls/min per key pair the first sync's "
              f"{first['api_calls']} calls need at least {max(0, first['api_calls'] - 500) / 500 * 60:.0f} s of waiting "
              f"and the full resync's {second['api_calls']} at least {max(0, second['api_calls'] - 500) / 500 * 60:.0f} s "
              f"(the light resync's {scheduled['api_calls']}: {max(0, scheduled['api_calls'] - 500) / 500 * 60:.0f} s)")
    print(f"API calls (first sync): {first['api_calls']} against a minimum of {minimum} "
          f"(sum of ceil(rows/500) per resource; +{first['api_calls'] - minimum})")
    print(f"unchanged resync: {second['seconds']:.2f} s, {second['api_calls']} calls, rows written {written_second} "
          f"(PostgreSQL tuple counters on the mirror tables: {second['rows_written_pg']})")
    print(f"peak worker memory (max RSS): first sync {first['max_rss_mb']:.0f} MB, resync {second['max_rss_mb']:.0f} MB")
    print(f"worker CPU (user+sys of the syncing process): first sync {first['cpu_seconds']:.2f} s, "
          f"resync {second['cpu_seconds']:.2f} s")
    # What the machine's cores had to do during a sync bounds it from below, whatever the scheduling.
    for label, phase in (("first sync", first), ("unchanged full resync", second), ("light resync", scheduled)):
        cpu = phase.get("cpu")
        if cpu:
            floor = cpu["machine_cpu"] / cpu["cores"]
            print(f"CPU during the {label}: worker {phase['cpu_seconds']:.2f} s, PostgreSQL {cpu['postgres_cpu']:.2f} s, "
                  f"simulator {cpu['sim_cpu']:.2f} s, whole machine {cpu['machine_cpu']:.2f} s on {cpu['cores']} cores: "
                  f"at least {floor:.2f} s of wall time ({floor / result['sdk']:.2f}x the SDK's bare download)")
    ratio_resync = min(ratio_second, scheduled["seconds"] / result["sdk"])
    ok = (ratio_first <= 1.0 and ratio_resync <= 0.5 and first["api_calls"] - minimum <= 5 and written_second == 0
          and written_scheduled == 0 and max(first["max_rss_mb"], second["max_rss_mb"]) < 300)
    print("targets:", "all met" if ok else "NOT all met")
    return ok


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--routers", default="10000",
                        help="fleet size, or a comma-separated curve, e.g. 1000,10000,50000 (50k takes long)")
    parser.add_argument("--latency-ms", type=int, default=20)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--keep-db", action="store_true")
    parser.add_argument("--phase", nargs="+")
    args = parser.parse_args()
    if args.phase:
        name, *rest = args.phase
        result = phase_setup(*rest) if name == "setup" else phase_sync(int(rest[0]), *rest[1:])
        print(json.dumps(result))
        return

    sizes = [int(n) for n in str(args.routers).split(",") if n.strip()]
    env = bench_env()
    print(f"sync benchmark: {', '.join(map(str, sizes))} routers, {args.latency_ms} ms a call, "
          f"PostgreSQL {urlsplit(env['DATABASE_URL']).path[1:]}")
    recreate_db(env, args.keep_db)
    results = []
    for size in sizes:
        result = bench_fleet(env, size, args)
        print(f"== {size} routers")
        report(result, verbose=len(sizes) == 1)
        results.append(result)
    if len(sizes) > 1:
        print()
        print("curve (portal first sync; resync):")
        print(f"{'routers':>8s} {'rows':>8s} {'seconds':>8s} {'calls':>6s} {'rows/s':>8s} {'ms/router':>9s} "
              f"{'RSS MB':>7s} {'resync s':>8s} {'SDK s':>6s} {'ratio':>6s} {'light s':>8s}")
        for r in results:
            first = r["first"]
            rows = sum(first["rows"].values())
            print(f"{r['routers']:8d} {rows:8d} {first['seconds']:8.2f} {first['api_calls']:6d} "
                  f"{rows / first['seconds']:8.0f} {1000 * first['seconds'] / r['routers']:9.3f} "
                  f"{max(first['max_rss_mb'], r['second']['max_rss_mb']):7.0f} {r['second']['seconds']:8.2f} "
                  f"{r['sdk']:6.2f} {first['seconds'] / r['sdk']:6.2f} {r['scheduled']['seconds']:8.2f}")


def _sdk_version() -> str:
    try:
        from importlib.metadata import version

        return version("ncm")
    except Exception:  # pragma: no cover
        return "?"


if __name__ == "__main__":
    main()
