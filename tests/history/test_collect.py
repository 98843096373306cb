"""History collection against ncm_sim: exact across pages and a failed page, no duplicates on resync,
roll-ups equal to the raw sums, retention. Real PostgreSQL and Redis."""
from __future__ import annotations

from collections import defaultdict
from datetime import UTC, datetime, timedelta

import pytest
from django.db.models import Sum
from django.utils import timezone

from history.models import Cursor, Rollup, SignalSample, StateSample, UsageSample
from history.services import KINDS, collect_tenant, prune_history, rollup
from ncm_sim import history as sim_history
from ncm_sim.fleet import parse_ts
from ncm_sync.client import NcmError
from ncm_sync.models import NetDevice, Router
from ncm_sync.services import sync_tenant
from tests.fleet import sim_keys, tenant_on

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def small_pages(monkeypatch):
    monkeypatch.setattr("ncm_sync.client.PAGE_SIZE", 40)


def _setup(sims, routers=4, seed=21):
    sim = sims.start(routers=routers, seed=seed, keys=sim_keys(f"h{seed}"))
    sim.state.samples_until = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=1)
    tenant = tenant_on(sim)
    sync_tenant(tenant_id=tenant.pk)
    return sim, tenant


def expected(sim, tenant, kind_name):
    """Every sample the simulator has for the tenant's devices in each device's collected range."""
    kind = KINDS[kind_name]
    model = NetDevice if kind.device == "net_device" else Router
    devices = model.objects.filter(tenant=tenant, deleted_at__isnull=True)
    if kind.device == "net_device":
        devices = devices.filter(mode="wan", **({"type": "mdm"} if kind_name == "signal" else {}))
    out = {}
    for device in devices:
        cursor = Cursor.objects.get(kind=kind_name, device_id=device.pk)
        start, until = cursor.covered_from, sim.state.samples_until
        for hour in range(int(start.timestamp()) // 3600, int(until.timestamp()) // 3600 + 1):
            row = sim_history.sample(sim.state, kind.endpoint, device.ncm_id, hour)
            at = parse_ts(row["created_at"])
            if start <= at <= until:
                out[(device.pk, row["created_at_timeuuid"])] = row
    return out


def stored(model, tenant):
    field = model.DEVICE_FIELD + "_id"
    return {(getattr(s, field), s.created_at_timeuuid): s for s in model.objects.filter(tenant=tenant)}


def test_collection_exact_across_pages_and_resync(sims, small_pages, settings):
    settings.HISTORY_INITIAL_DAYS = 2
    sim, tenant = _setup(sims)
    counts = collect_tenant(tenant)
    for name, model in (("signal", SignalSample), ("usage", UsageSample), ("state", StateSample)):
        want, got = expected(sim, tenant, name), stored(model, tenant)
        assert len(want) > 40 * 2, "the test must span several pages"
        assert set(got) == set(want), name
        assert counts[name] >= len(want)
    # NCM's fields under NCM's names, as the simulator served them.
    some = next(iter(stored(SignalSample, tenant).items()))
    row = expected(sim, tenant, "signal")[some[0]]
    assert (some[1].rsrp, some[1].sinr, some[1].signal_percent) == (row["rsrp"], row["sinr"], row["signal_percent"])

    # Resync: nothing new, nothing twice; even with the cursors forgotten (a full re-read).
    before = {m: m.objects.filter(tenant=tenant).count() for m in (SignalSample, UsageSample, StateSample)}
    collect_tenant(tenant)
    Cursor.objects.filter(tenant=tenant).update(cursor_at=timezone.now() - timedelta(days=2))
    from history.services import timeuuid_floor
    for c in Cursor.objects.filter(tenant=tenant):
        Cursor.objects.filter(pk=c.pk).update(cursor=timeuuid_floor(c.covered_from), cursor_at=c.covered_from)
    collect_tenant(tenant)
    assert {m: m.objects.filter(tenant=tenant).count() for m in before} == before


def test_failed_page_loses_nothing_and_resumes(sims, small_pages, settings):
    settings.HISTORY_INITIAL_DAYS = 2
    sim, tenant = _setup(sims, seed=22)
    # Page 3 of the signal listing fails after every retry.
    sim.fail_next(count=50, status=503, endpoint="GET net_device_signal_samples", after=2)
    with pytest.raises(NcmError):
        collect_tenant(tenant, kinds=("signal",))
    sim.faults.clear_scripted()
    want, got = expected(sim, tenant, "signal"), stored(SignalSample, tenant)
    assert 0 < len(got) < len(want)
    assert set(got) <= set(want)
    # Every sample up to each device's cursor is stored: the cursor never passes a row that is missing.
    cursors = {c.device_id: c.cursor_at for c in Cursor.objects.filter(kind="signal", tenant=tenant)}
    for (device, tuuid), row in want.items():
        if parse_ts(row["created_at"]) <= cursors[device]:
            assert (device, tuuid) in got
    collect_tenant(tenant, kinds=("signal",))
    assert set(stored(SignalSample, tenant)) == set(want)
    assert SignalSample.objects.filter(tenant=tenant).count() == len(want)


def test_backfill_on_demand_and_rollups_equal_raw(sims, settings):
    settings.HISTORY_INITIAL_DAYS = 1
    sim, tenant = _setup(sims, seed=23)
    collect_tenant(tenant)
    router = Router.objects.filter(tenant=tenant, deleted_at__isnull=True).first()
    from history.services import collect_router

    collect_router(router, days=3)
    modem_ids = list(NetDevice.objects.filter(router=router, mode="wan").values_list("pk", flat=True))
    for c in Cursor.objects.filter(kind__in=["signal", "usage"], device_id__in=modem_ids):
        assert c.covered_from <= timezone.now() - timedelta(days=3) + timedelta(minutes=5)
    want = expected(sim, tenant, "usage")
    assert set(stored(UsageSample, tenant)) == set(want)
    assert stored(UsageSample, tenant)

    # Roll-ups equal the raw sums, per device and bucket, hourly and daily.
    raw_day = defaultdict(lambda: [0, 0, 0])
    for s in UsageSample.objects.filter(tenant=tenant):
        key = (s.net_device_id, s.created_at.replace(hour=0, minute=0, second=0, microsecond=0))
        raw_day[key][0] += s.bytes_in
        raw_day[key][1] += s.bytes_out
        raw_day[key][2] += 1
    daily = {(r.device_id, r.bucket): [r.bytes_in, r.bytes_out, r.samples]
             for r in Rollup.objects.filter(tenant=tenant, kind="usage", period="day")}
    assert daily == dict(raw_day)
    raw_total = UsageSample.objects.filter(tenant=tenant).aggregate(i=Sum("bytes_in"), o=Sum("bytes_out"))
    hourly = Rollup.objects.filter(tenant=tenant, kind="usage", period="hour").aggregate(i=Sum("bytes_in"), o=Sum("bytes_out"))
    assert hourly == raw_total
    monthly = Rollup.objects.filter(tenant=tenant, kind="usage", period="month").aggregate(i=Sum("bytes_in"), o=Sum("bytes_out"))
    assert monthly == raw_total
    # Uptime: online + offline seconds equal the sum of the state samples' periods.
    raw_period = StateSample.objects.filter(tenant=tenant).aggregate(p=Sum("period"))["p"]
    days = Rollup.objects.filter(tenant=tenant, kind="state", period="day")
    assert sum(r.online_seconds + r.offline_seconds for r in days) == pytest.approx(raw_period)
    # Recomputing is idempotent.
    n = Rollup.objects.count()
    rollup(tenant, "usage")
    assert Rollup.objects.count() == n


def test_retention_prunes_old_raw_and_rollups(sims, settings):
    from tests.fleet import mirror_row
    from tests.factories import make_org, make_tenant

    settings.HISTORY_RAW_RETENTION_DAYS = 30
    settings.HISTORY_ROLLUP_RETENTION_DAYS = 395
    settings.HISTORY_HOURLY_ROLLUP_RETENTION_DAYS = 92
    tenant = make_tenant(make_org())
    router = mirror_row(Router, tenant, name="r")
    modem = mirror_row(NetDevice, tenant, name="m", mode="wan", router=router)
    now = timezone.now()
    for i, age in enumerate((1, 29, 31, 100)):
        UsageSample.objects.create(tenant=tenant, net_device=modem, created_at=now - timedelta(days=age),
                                   created_at_timeuuid=f"u{i}", bytes_in=1, bytes_out=1)
    for period, age in (("day", 10), ("day", 390), ("day", 400), ("hour", 10), ("hour", 91), ("hour", 93)):
        Rollup.objects.create(tenant=tenant, kind="usage", period=period, bucket=now - timedelta(days=age),
                              device_id=modem.pk, net_device=modem)
    out = prune_history(now=now)
    assert out["usage"] == 2 and out["rollups"] == 1 and out["hourly_rollups"] == 1
    assert sorted((now - s.created_at).days for s in UsageSample.objects.all()) == [1, 29]
    assert sorted((r.period, (now - r.bucket).days) for r in Rollup.objects.all()) == [
        ("day", 10), ("day", 390), ("hour", 10), ("hour", 91)]
