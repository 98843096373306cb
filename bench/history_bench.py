"""History benchmark (not a test): the history reads at a year of 10,000 devices, on PostgreSQL.

Loads, with INSERT … SELECT generate_series (as collection and roll-ups would leave them):
- 5 tenants × 2,000 routers, each with one modem (10,000 devices);
- daily usage and state roll-ups for every device for `--days` (365) days (2 × 3.65M rows), and the monthly
  ones summed from them;
- hourly usage, signal and state roll-ups for every device for `--hourly-days` (30) days (3 × 7.2M rows);
- raw signal samples for every device for 7 days, hourly (1.7M rows);
then ANALYZE, and times (median of 5 after a warm-up, through Django's whole stack as the MSP admin) the router
page (7 d and 30 d charts), a modem's signal samples (API, 7 d), `/api/v1/usage/` per tenant per month (13
months) and per router per day, the tenant dashboard and the MSP overview (usage per tenant, licences).

Environment: DATABASE_URL's server with a scratch database `portal_history_bench` (dropped and re-created),
REDIS_URL's server with db 12. Options: --tenants 5 --routers-per-tenant 2000 --days 365 --hourly-days 30.
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from bench_env import configure_bench_env  # noqa: E402


def configure_env(keep: bool = False) -> None:
    configure_bench_env("portal_history_bench", redis_db=12, reuse=keep)


def load(tenants: int, per_tenant: int, days: int, hourly_days: int) -> list:
    from accounts.models import Organization, Tenant

    if Organization.objects.filter(slug="bench-msp").exists():  # --keep: what an earlier run loaded stays
        made = list(Tenant.objects.filter(organization__slug="bench-msp").order_by("id"))
    else:
        made = _load_fleet(tenants, per_tenant)
    return _load_history(made, days, hourly_days)


def _load_fleet(tenants: int, per_tenant: int) -> list:
    from django.utils import timezone

    from accounts.models import Organization, Tenant
    from ncm_sync.models import NetDevice, Router

    org = Organization.objects.create(name="Bench MSP", slug="bench-msp")
    now = timezone.now()
    made = []
    for t in range(tenants):
        tenant = Tenant.objects.create(organization=org, name=f"Tenant {t}", slug=f"tenant-{t}")
        common = {"tenant": tenant, "content_hash": "x" * 32, "first_seen_at": now, "last_seen_at": now}
        routers = Router.objects.bulk_create([
            Router(ncm_id=f"{t}{i:06d}", data={"id": i}, name=f"store-{t}-{i:05d}", state="online", **common)
            for i in range(per_tenant)], batch_size=5000)
        NetDevice.objects.bulk_create([
            NetDevice(ncm_id=f"{t}{i:06d}", data={"id": i}, name="mdm-int1", mode="wan", type="mdm", router=r, **common)
            for i, r in enumerate(routers)], batch_size=5000)
        made.append(tenant)
    return made


def _load_history(made: list, days: int, hourly_days: int) -> list:
    from django.db import connection

    started = time.perf_counter()
    with connection.cursor() as cur:
        def missing(kind, period):
            cur.execute("SELECT 1 FROM history_rollup WHERE kind = %s AND period = %s LIMIT 1", [kind, period])
            return cur.fetchone() is None

        day0 = "date_trunc('day', now())"
        hour0 = "date_trunc('hour', now())"
        for kind, extra_cols, extra_vals in (
            ("usage", "bytes_in, bytes_out, online_seconds, offline_seconds",
             "(random() * 5e8)::bigint, (random() * 5e7)::bigint, 0, 0"),
            ("state", "bytes_in, bytes_out, online_seconds, offline_seconds",
             "0, 0, 86400 - (random() * 3600), random() * 3600"),
        ):
            if not missing(kind, "day"):
                continue
            cur.execute(f"""
                INSERT INTO history_rollup (tenant_id, kind, period, bucket, device_id, router_id, net_device_id,
                                            samples, {extra_cols})
                SELECT nd.tenant_id, '{kind}', 'day', {day0} - (d || ' days')::interval,
                       {"nd.id" if kind == "usage" else "nd.router_id"}, nd.router_id,
                       {"nd.id" if kind == "usage" else "NULL"}, 24, {extra_vals}
                FROM ncm_sync_netdevice nd CROSS JOIN generate_series(0, {days - 1}) d""")
        for kind, cols, vals in (
            ("usage", "bytes_in, bytes_out, online_seconds, offline_seconds",
             "(random() * 2e7)::bigint, (random() * 2e6)::bigint, 0, 0"),
            ("signal", "rsrp, rsrq, sinr, rsrp_min, bytes_in, bytes_out, online_seconds, offline_seconds",
             "-120 + random() * 45, -15 + random() * 10, random() * 20, -125, 0, 0, 0, 0"),
            ("state", "online_seconds, offline_seconds, bytes_in, bytes_out", "3600 - (random() * 60), random() * 60, 0, 0"),
        ):
            if not missing(kind, "hour"):
                continue
            cur.execute(f"""
                INSERT INTO history_rollup (tenant_id, kind, period, bucket, device_id, router_id, net_device_id,
                                            samples, {cols})
                SELECT nd.tenant_id, '{kind}', 'hour', {hour0} - (h || ' hours')::interval,
                       {"nd.router_id" if kind == "state" else "nd.id"}, nd.router_id,
                       {"NULL" if kind == "state" else "nd.id"}, 1, {vals}
                FROM ncm_sync_netdevice nd CROSS JOIN generate_series(0, {hourly_days * 24 - 1}) h""")
        for kind in ("usage", "state"):  # monthly roll-ups, summed from the daily ones (history.services.rollup_months)
            if missing(kind, "month"):
                cur.execute(f"""
                    INSERT INTO history_rollup (tenant_id, kind, period, bucket, device_id, router_id, net_device_id,
                                                samples, bytes_in, bytes_out, online_seconds, offline_seconds)
                    SELECT tenant_id, kind, 'month', date_trunc('month', bucket AT TIME ZONE 'UTC') AT TIME ZONE 'UTC',
                           device_id, router_id, net_device_id, sum(samples), sum(bytes_in), sum(bytes_out),
                           sum(online_seconds), sum(offline_seconds)
                    FROM history_rollup WHERE kind = '{kind}' AND period = 'day'
                    GROUP BY 1, 2, 4, 5, 6, 7""")
        cur.execute("SELECT 1 FROM history_signalsample LIMIT 1")
        if cur.fetchone() is None:
            cur.execute(f"""
                INSERT INTO history_signalsample (tenant_id, net_device_id, created_at, created_at_timeuuid, rsrp, rsrq,
                                                  sinr, rssi, signal_percent, dbm)
                SELECT nd.tenant_id, nd.id, {hour0} - (h || ' hours')::interval + interval '17 minutes',
                       md5(nd.id::text || ':' || h::text), -120 + random() * 45, -15 + random() * 10, random() * 20,
                       -80, 60, -70
                FROM ncm_sync_netdevice nd CROSS JOIN generate_series(0, 7 * 24 - 1) h""")
        cur.execute("ANALYZE")
        cur.execute("SELECT kind, period, count(*) FROM history_rollup GROUP BY 1, 2 ORDER BY 1, 2")
        counts = cur.fetchall()
        cur.execute("SELECT count(*) FROM history_signalsample")
        raw = cur.fetchone()[0]
    print(f"loaded in {time.perf_counter() - started:.0f} s: roll-ups {counts}, raw signal samples {raw}")
    return made


def measure(client, url: str, repeat: int) -> tuple[float, int]:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    response = client.get(url)
    assert response.status_code == 200, (url, response.status_code, response.content[:300])
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
    parser.add_argument("--tenants", type=int, default=5)
    parser.add_argument("--routers-per-tenant", type=int, default=2000)
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--hourly-days", type=int, default=30)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--keep", action="store_true", help="Reuse the scratch database and what it holds.")
    args = parser.parse_args()
    configure_env(keep=args.keep)
    import django

    django.setup()
    from django.conf import settings

    # Production settings but plain static storage: no collectstatic manifest in a scratch run.
    settings.STORAGES = {**settings.STORAGES, "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}}
    from django.core.management import call_command
    from django.test import Client

    from accounts.models import Membership, User
    from ncm_sync.models import NetDevice, Router

    call_command("migrate", verbosity=0)
    tenants = load(args.tenants, args.routers_per_tenant, args.days, args.hourly_days)
    user = User.objects.filter(username="bench-admin").first() or User.objects.create_user("bench-admin", password="bench-password-123")
    Membership.objects.get_or_create(user=user, organization=tenants[0].organization, role="admin")
    client = Client()
    client.force_login(user)
    t = tenants[0]
    router = Router.objects.filter(tenant=t).order_by("id")[17]
    modem = NetDevice.objects.get(router=router)
    from django.core.cache import cache

    cache.add(f"history:on-demand:router:{router.pk}", 1, 3600)  # the page would queue a collection: not measured
    pages = [
        ("router page, 7 d charts", f"/t/{t.pk}/routers/{router.pk}/"),
        ("router page, 30 d charts", f"/t/{t.pk}/routers/{router.pk}/?range=30d"),
        ("modem signal-samples (7 d, API)", f"/api/v1/net-devices/{modem.pk}/signal-samples/?limit=200"),
        ("usage per tenant per month (13 months)", "/api/v1/usage/?group_by=tenant&period=month"),
        ("usage of one tenant per router per day (31 d)", f"/api/v1/usage/?tenant={t.pk}&group_by=router&limit=100"),
        ("tenant dashboard (usage per month, worst signal)", f"/t/{t.pk}/"),
        ("MSP overview (usage per tenant, licences)", "/"),
    ]
    devices = args.tenants * args.routers_per_tenant
    print(f"\n{devices} devices, {args.days} days of daily roll-ups, {args.hourly_days} days hourly; median of {args.repeat}")
    print(f"{'read':52} {'ms':>8} {'queries':>8}")
    for label, url in pages:
        ms, queries = measure(client, url, args.repeat)
        print(f"{label:52} {ms:8.1f} {queries:8d}")


if __name__ == "__main__":
    main()
