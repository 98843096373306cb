"""History API: per-device paths (404 outside scope), ?since=/?until=, NCM field names, CSV, /usage/ groupings."""
from __future__ import annotations

import csv
import io
from datetime import timedelta

import pytest
from django.utils import timezone

from history.models import Rollup, RouterLog, SignalSample, StateSample, UsageSample
from ncm_sync.models import NetDevice, Router
from tests.fleet import mirror_row

pytestmark = pytest.mark.django_db


def _devices(tenant):
    router = mirror_row(Router, tenant, name="r", state="online")
    modem = mirror_row(NetDevice, tenant, name="m", mode="wan", type="mdm", router=router)
    return router, modem


def test_per_device_paths_ranges_and_scope(world, client_for):
    own, foreign = world.tenants[0], world.tenants[-1]
    router, modem = _devices(own)
    f_router, f_modem = _devices(foreign)
    now = timezone.now()
    for i, age in enumerate((1, 30, 200)):  # hours
        SignalSample.objects.create(tenant=own, net_device=modem, created_at=now - timedelta(hours=age),
                                    created_at_timeuuid=f"t{i}", rsrp=-90.0 - i, rsrq=-10.0, sinr=5.0)
        StateSample.objects.create(tenant=own, router=router, created_at=now - timedelta(hours=age),
                                   created_at_timeuuid=f"s{i}", state="online", period=3600)
    UsageSample.objects.create(tenant=own, net_device=modem, created_at=now, created_at_timeuuid="u", bytes_in=7)
    RouterLog.objects.create(tenant=own, router=router, created_at=now, created_at_timeuuid="l", level="INFO",
                             message="Connecting to ECM")
    client = client_for(world.actor("read_only", "tenant", 0).user)

    body = client.get(f"/api/v1/net-devices/{modem.pk}/signal-samples/").json()
    assert body["count"] == 2  # default: the last 7 days
    row = body["results"][0]  # newest first
    assert row["created_at_timeuuid"] == "t0" and row["rsrp"] == -90.0 and row["net_device"] == modem.pk
    assert {"rsrq", "sinr", "dbm", "signal_percent", "rsrp5g"} <= set(row)
    since = (now - timedelta(days=10)).isoformat()
    until = (now - timedelta(hours=2)).isoformat()
    body = client.get(f"/api/v1/net-devices/{modem.pk}/signal-samples/", {"since": since, "until": until}).json()
    assert [r["created_at_timeuuid"] for r in body["results"]] == ["t1", "t2"]
    assert client.get(f"/api/v1/routers/{router.pk}/state-samples/").json()["results"][0]["state"] == "online"
    assert client.get(f"/api/v1/net-devices/{modem.pk}/usage-samples/").json()["results"][0]["bytes_in"] == 7
    assert client.get(f"/api/v1/routers/{router.pk}/logs/").json()["results"][0]["message"] == "Connecting to ECM"
    assert client.get(f"/api/v1/routers/{router.pk}/locations-history/").json()["count"] == 0
    # Foreign or missing devices: 404, as if they did not exist.
    for url in (f"/api/v1/net-devices/{f_modem.pk}/signal-samples/", f"/api/v1/routers/{f_router.pk}/state-samples/",
                f"/api/v1/routers/{f_router.pk}/logs/", "/api/v1/routers/999999999/locations-history/"):
        assert client.get(url).status_code == 404, url
    # Bad input: 400 naming the field.
    response = client.get(f"/api/v1/net-devices/{modem.pk}/signal-samples/", {"since": "yesterday"})
    assert response.status_code == 400 and "since" in response.json()
    # CSV.
    response = client.get(f"/api/v1/net-devices/{modem.pk}/signal-samples/", {"format": "csv"})
    assert response.status_code == 200 and response["Content-Type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode("utf-8-sig"))))
    assert [r["created_at_timeuuid"] for r in rows] == ["t0", "t1"] and rows[0]["rsrp"] == "-90.0"


def test_usage_grouped_per_modem_router_tenant_day_month(world, client_for):
    tenant = world.tenants[0]
    router, modem = _devices(tenant)
    modem2 = mirror_row(NetDevice, tenant, name="m2", mode="wan", type="mdm", router=router)
    today = timezone.now().replace(hour=0, minute=0, second=0, microsecond=0)
    for m, (a, b) in ((modem, (100, 10)), (modem2, (1000, 1))):
        for d in range(2):
            Rollup.objects.create(tenant=tenant, kind="usage", period="day", bucket=today - timedelta(days=d),
                                  device_id=m.pk, net_device=m, router=router, samples=24, bytes_in=a, bytes_out=b)
    Rollup.objects.create(tenant=world.tenants[-1], kind="usage", period="day", bucket=today, device_id=0,
                          samples=1, bytes_in=5, bytes_out=5)
    from history.services import rollup_months

    rollup_months(tenant, "usage")  # monthly roll-ups are summed from the daily ones
    client = client_for(world.actor("read_only", "tenant", 0).user)
    rows = client.get("/api/v1/usage/").json()["results"]
    assert len(rows) == 4 and {r["net_device"] for r in rows} == {modem.pk, modem2.pk} and "id" in rows[0]
    rows = client.get("/api/v1/usage/", {"group_by": "router"}).json()["results"]
    assert [(r["router"], r["bytes_in"], r["bytes_out"], r["bytes_total"]) for r in rows] == [(router.pk, 1100, 11, 1111)] * 2
    rows = client.get("/api/v1/usage/", {"group_by": "tenant", "period": "month"}).json()["results"]
    assert sum(r["bytes_in"] for r in rows) == 2200 and all(r["tenant"] == tenant.pk for r in rows)
    assert rows[0]["period"] == "month" and rows[0]["start"].endswith("00:00:00Z")
    response = client.get("/api/v1/usage/", {"group_by": "tenant", "format": "csv"})
    lines = b"".join(response.streaming_content).decode("utf-8-sig").splitlines()
    assert lines[0].startswith("tenant,router,net_device,period,start,bytes_in") and len(lines) == 3
    assert client.get("/api/v1/usage/", {"group_by": "galaxy"}).status_code == 400
