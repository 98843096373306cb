"""Scale benchmark (not a test): page and endpoint times and query counts as the fleet grows to 100k routers.

One portal holds a small MSP (one tenant of 1,000 routers: the reference) and a growing MSP whose tenants have
2,000 routers each. Stages: the growing MSP at 1 tenant of 1,000 routers, then 5 × 2,000 (10k), then 50 × 2,000
(100k). Every router has a modem (net device) with a health and a metrics row and an alert (a problem, so open, on
every fifth; an event on the others), and every tenant a finished job. Rows are written with bulk INSERTs as a sync would leave them (the sync itself is
measured by bench/sync_bench.py), then ANALYZEd.

For each page and endpoint, as the MSP's admin: the median of 5 requests (after one warm-up) through Django's
whole stack (test client, no network) and its query count. Ratios: against the small MSP measured beside the
last stage, and against the first stage. `--compare-trigram` also runs the searches at the last stage with the trigram indexes dropped.

Environment: DATABASE_URL's server with a scratch database `portal_scale_bench` (dropped and re-created),
REDIS_URL's server with db 13. Options: --stages 1000,10000,100000 --routers-per-tenant 2000 --repeat 5.
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

PAGES = [
    ("MSP overview /", "/"),
    ("tenant dashboard", "/t/{t}/"),
    ("cellular page", "/t/{t}/cellular/"),
    ("alerts page", "/t/{t}/alerts/"),
    ("routers ?state=offline&limit=100", "/api/v1/routers/?state=offline&limit=100"),
    ("routers ?search=<name>&limit=100", "/api/v1/routers/?search={name}&limit=100"),
    ("routers ?search=<serial>&limit=100", "/api/v1/routers/?search={serial}&limit=100"),
    ("net-devices ?search=<imei>&limit=100", "/api/v1/net-devices/?search={imei}&limit=100"),
    ("routers ?limit=1000", "/api/v1/routers/?limit=1000"),
    ("net-devices ?limit=1000", "/api/v1/net-devices/?limit=1000"),
    ("alerts ?limit=1000", "/api/v1/alerts/?limit=1000"),
    ("alerts/counts", "/api/v1/alerts/counts/"),
    ("jobs ?limit=100", "/api/v1/jobs/?limit=100"),
    ("tenants ?limit=100", "/api/v1/tenants/?limit=100"),
]
SEARCHES = [label for label, _ in PAGES if "search" in label]


def configure_env() -> None:
    configure_bench_env("portal_scale_bench", redis_db=13)


def load_tenant(tenant, routers: int, index: int) -> None:
    """`routers` routers with a modem, health, metrics and an alert (open on every fifth); 5 % offline; a job."""
    from django.utils import timezone

    from jobs.models import Job, JobItem
    from ncm_sync.models import Alert, NetDevice, NetDeviceHealth, NetDeviceMetrics, Router

    now = timezone.now()
    common = {"tenant": tenant, "content_hash": "x" * 32, "first_seen_at": now, "last_seen_at": now}
    batch = 5000
    made = Router.objects.bulk_create([
        Router(ncm_id=f"{index}{i:06d}", data={"id": i}, name=f"store-{index:03d}-{i:05d}", serial_number=f"WA{index:03d}{i:06d}",
               mac=f"00:30:44:{index % 256:02x}:{i // 256 % 256:02x}:{i % 256:02x}", state="offline" if i % 20 == 0 else "online",
               product="IBR900", firmware="7.24.10", state_updated_at=now, **common)
        for i in range(routers)
    ], batch_size=batch)
    modems = NetDevice.objects.bulk_create([
        NetDevice(ncm_id=f"{index}{i:06d}", data={"id": i}, name="mdm-int1", mode="wan", type="mdm", router=r,
                  carrier=("Verizon", "AT&T", "T-Mobile")[i % 3], connection_state="connected",
                  imei=f"35{index:03d}{i:010d}", serial=f"MD{index:03d}{i:06d}", **common)
        for i, r in enumerate(made)
    ], batch_size=batch)
    bands = (("excellent", 90), ("good", 65), ("fair", 40), ("poor", 12))
    NetDeviceHealth.objects.bulk_create([
        NetDeviceHealth(ncm_id=f"{index}{i:06d}", data={}, net_device=m, cellular_health_category=bands[i % 4][0],
                        cellular_health_score=bands[i % 4][1], net_device_ncm_id=m.ncm_id, **common)
        for i, m in enumerate(modems)
    ], batch_size=batch)
    NetDeviceMetrics.objects.bulk_create([
        NetDeviceMetrics(ncm_id=f"{index}{i:06d}", data={"signal_strength": 70}, net_device=m, signal_strength=70,
                         rsrp=-90.0, net_device_ncm_id=m.ncm_id, **common)
        for i, m in enumerate(modems)
    ], batch_size=batch)
    # An alert per router (so a 1,000-row alerts page is full at every stage): a problem on every fifth, an event
    # (a modem WAN connecting: never open) on the others.
    Alert.objects.bulk_create([
        Alert(ncm_id=f"{index}{i:06d}", data={"type": kind}, type=kind, router=r, ncm_created_at=now,
              friendly_info=f"{r.name}: {kind}", **common)
        for i, r in enumerate(made)
        for kind in [("ipsec_tunnel_down" if i % 5 == 0 else "modem_wan_connected")]
    ], batch_size=batch)
    job = Job.objects.create(tenant=tenant, kind="reboot", status="succeeded", counts={"total": 50})
    JobItem.objects.bulk_create([JobItem(job=job, tenant=tenant, router=r, status="succeeded") for r in made[:50]])
    from ncm_sync.services.figures import refresh_tenant_figures

    refresh_tenant_figures([tenant.pk])  # as the end of a sync run does


def measure(client, url: str, repeat: int) -> tuple[float, int]:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    response = client.get(url)  # warm-up
    assert response.status_code == 200, (url, response.status_code, response.content[:200])
    times = []
    for _ in range(repeat):
        with CaptureQueriesContext(connection) as ctx:
            started = time.perf_counter()
            response = client.get(url)
            if getattr(response, "streaming", False):
                b"".join(response.streaming_content)
            times.append(time.perf_counter() - started)
    return statistics.median(times) * 1000, len(ctx.captured_queries)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stages", default="1000,10000,100000")
    parser.add_argument("--routers-per-tenant", type=int, default=2000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--compare-trigram", action="store_true")
    args = parser.parse_args()
    configure_env()

    import django

    django.setup()
    from django.conf import settings

    # Production settings but plain static storage: no collectstatic manifest in a scratch run.
    settings.STORAGES = {**settings.STORAGES, "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}}
    from django.core.cache import cache
    from django.core.management import call_command
    from django.db import connection
    from django.test import Client

    from accounts.models import Membership, Organization, Tenant, User
    from accounts.services import api_token_create
    from portal.roles import Role

    call_command("migrate", verbosity=0)
    cache.clear()

    def msp(name):
        org = Organization.objects.create(name=name, slug=name.lower().replace(" ", "-"))
        user = User.objects.create_user(f"{org.slug}-admin", password="bench-password-1")
        Membership.objects.create(user=user, organization=org, role=Role.ADMIN)
        browser = Client()
        browser.force_login(user)
        token = api_token_create(user=user, name="bench")[1]
        api = Client(HTTP_AUTHORIZATION=f"Token {token}")
        return org, browser, api

    def add_tenants(org, count, per_tenant):
        start = Tenant.objects.filter(organization=org).count()
        made = []
        for i in range(start, start + count):
            tenant = Tenant.objects.create(organization=org, name=f"{org.name} {i:03d}", slug=f"{org.slug}-{i:03d}")
            load_tenant(tenant, per_tenant, index=tenant.pk)
            made.append(tenant)
        return made

    def run_all(org, browser, api, only=None):
        tenant = Tenant.objects.filter(organization=org).order_by("pk").first()
        sample = {"t": tenant.pk, "name": f"store-{tenant.pk:03d}-00123", "serial": f"WA{tenant.pk:03d}000123",
                  "imei": f"35{tenant.pk:03d}{123:010d}"}
        out = {}
        for label, url in PAGES:
            if only and label not in only:
                continue
            client = api if url.startswith("/api/") else browser
            out[label] = measure(client, url.format(**sample), args.repeat)
        return out

    print(f"machine: {os.cpu_count()} cores; PostgreSQL {connection.cursor().connection.info.server_version}; "
          f"median of {args.repeat} requests after a warm-up, as each MSP's admin")
    small_org, small_browser, small_api = msp("Small MSP")
    add_tenants(small_org, 1, 1000)
    big_org, big_browser, big_api = msp("Big MSP")
    stages = [int(s) for s in args.stages.split(",")]
    results, reference = {}, None
    loaded = 0
    for total in stages:
        started = time.perf_counter()
        if total <= 1000:
            add_tenants(big_org, 1, total)
            loaded = total
        else:
            per = args.routers_per_tenant  # the 1k stage's tenant stays; 2,000-router tenants up to the total
            need = (total - loaded) // per
            add_tenants(big_org, need, per)
            loaded += need * per
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")
        print(f"stage {total:,} routers: loaded in {time.perf_counter() - started:.0f} s "
              f"({Tenant.objects.filter(organization=big_org).count()} tenants in the big MSP, mirror "
              f"{loaded + 1000:,} routers in all)", flush=True)
        results[total] = run_all(big_org, big_browser, big_api)
        reference = run_all(small_org, small_browser, small_api)
    trigram_off = None
    if args.compare_trigram:
        with connection.cursor() as cursor:
            cursor.execute("SELECT indexname, indexdef FROM pg_indexes WHERE indexname LIKE '%%_trgm'")
            definitions = cursor.fetchall()
            for name, _ in definitions:
                cursor.execute(f"DROP INDEX {name}")
            cursor.execute("ANALYZE")
        trigram_off = run_all(big_org, big_browser, big_api, only=SEARCHES)
        with connection.cursor() as cursor:
            for _, definition in definitions:
                cursor.execute(definition)

    head = "".join(f" | {total // 1000}k ms (q)" for total in stages)
    # Two ratios: against the small MSP measured beside the last stage (same database, same moment), and against
    # the first stage (the "one tenant of 1,000 routers", in a database that small): a cost that grows
    # with the whole mirror rather than the caller's scope shows in the second only.
    print(f"\n| request | small MSP, 1k ms (q){head} | ratio {stages[-1] // 1000}k / small |"
          f" ratio {stages[-1] // 1000}k / {stages[0] // 1000}k |" + (" without trigram ms |" if trigram_off else ""))
    print("|---" * (len(stages) + 4 + (1 if trigram_off else 0)) + "|")
    for label, _ in PAGES:
        ref_ms, ref_q = reference[label]
        cells = "".join(f" | {results[t][label][0]:.0f} ({results[t][label][1]})" for t in stages)
        ratio = results[stages[-1]][label][0] / ref_ms if ref_ms else 0
        first = results[stages[0]][label][0]
        growth = results[stages[-1]][label][0] / first if first else 0
        extra = f" {trigram_off[label][0]:.0f} |" if trigram_off and label in trigram_off else (" |" if trigram_off else "")
        print(f"| {label} | {ref_ms:.0f} ({ref_q}){cells} | {ratio:.1f}× | {growth:.1f}× |{extra}")


if __name__ == "__main__":
    main()
