"""The official `ncm` SDK (PyPI 0.0.73), unchanged, against the simulator."""
from __future__ import annotations

import time

import pytest

from ncm_sim.testing import sdk_client, sim_server


@pytest.fixture(scope="module")
def sim():
    with sim_server(routers=620, seed=11) as sim:
        yield sim


@pytest.fixture
def client(sim):
    sim.set_faults(rate_429=0, rate_5xx=0, latency_ms=0, ambiguous_write_rate=0)
    return sdk_client(sim)


def test_get_routers_all_returns_whole_fleet(sim, client):
    routers = client.get_routers(limit="all")
    assert len(routers) == 620 == len(sim.state.tables["routers"])
    assert len({r["id"] for r in routers}) == 620
    assert all(isinstance(r["id"], str) for r in routers)
    # limit='all' sends limit=1000000; the simulator clamps pages to 500.
    assert sim.state.calls["GET routers"] >= 2


def test_sdk_default_limit_truncates_at_500(client):
    assert len(client.get_routers()) == 500  # the SDK's own default, documented quirk


def test_read_endpoints(sim, client):
    tables = sim.state.tables
    assert len(client.get_net_devices(limit="all")) == len(tables["net_devices"])
    assert len(client.get_groups(limit="all")) == len(tables["groups"])
    assert len(client.get_accounts()) == len(tables["accounts"])
    assert len(client.get_locations(limit="all")) == len(tables["locations"])
    cms = client.get_configuration_managers(limit="all")
    assert len(cms) == 620
    assert not {c["id"] for c in cms} & {r for r in tables["routers"]}  # their own ids
    assert len(client.get_products()) == len(tables["products"])
    assert len(client.get_firmwares()) == len(tables["firmwares"])
    assert len(client.get_net_device_health(limit="all")) == len(tables["net_device_health"])
    modems = client.get_net_devices(is_asset=True, limit="all")
    assert modems and all(m["type"] == "mdm" and m["iccid"] and m["imei"] for m in modems)
    metrics = client.get_net_device_metrics(net_device__in=[m["id"] for m in modems[:150]], limit="all")
    assert len(metrics) == 150  # the SDK chunks __in into groups of 100
    assert len(client.get_alerts(limit="all")) == len(sim.state.alerts)


def test_id_in_chunking_and_by_id(sim, client):
    ids = list(sim.state.tables["routers"])[:250]
    assert sorted(r["id"] for r in client.get_routers(id__in=ids, limit="all")) == sorted(ids)
    rid = ids[7]
    assert client.get_router_by_id(rid)["id"] == rid
    assert client.get_configuration_manager_id(rid) == sim.state.router_cm[rid]


def test_reboot_device_and_group(sim, client):
    sim.reset_counters()
    rid = next(iter(sim.state.tables["routers"]))
    client.reboot_device(rid)
    assert [r["router_id"] for r in sim.state.reboots] == [rid]
    assert sim.state.reboots[0]["via"] == "router" and sim.state.reboots[0]["answered_status"] == 201
    gid = next(g for g in sim.state.tables["groups"] if sim.state.group_members(g))
    client.reboot_group(gid)
    members = sim.state.group_members(gid)
    assert sorted(r["router_id"] for r in sim.state.reboots if r["via"] == "group") == sorted(members)


def test_config_patch_and_put(sim, client):
    rid = list(sim.state.tables["routers"])[3]
    cmid = sim.state.router_cm[rid]
    before = sim.state.cm_row(cmid)["version_number"]
    client.patch_configuration_managers(rid, {"configuration": [{"system": {"system_id": "sdk-patched"}}, []]})
    row = sim.state.cm_row(cmid)
    assert row["configuration"][0]["system"]["system_id"] == "sdk-patched"
    assert row["version_number"] == before + 1
    assert row["target"][0]["system"]["system_id"] == "sdk-patched"
    client.put_configuration_managers(rid, {"configuration": [{"system": {"gps": {"enabled": True}}}, []]})
    assert sim.state.cm_row(cmid)["configuration"] == [{"system": {"gps": {"enabled": True}}}, []]
    # SDK config helpers use the same path.
    client.set_lan_ip_address(rid, "192.168.77.1", "255.255.255.0")
    assert sim.state.cm_config[cmid][0]["lan"]["0"]["ip_address"] == "192.168.77.1"


def test_router_fields_and_group_moves(sim, client):
    rid = list(sim.state.tables["routers"])[5]
    client.set_router_fields(rid, name="sdk-name", description="d", asset_id="A1", custom1="c1", custom2="c2")
    row = sim.state.tables["routers"][rid]
    assert (row["name"], row["description"], row["asset_id"], row["custom1"], row["custom2"]) == ("sdk-name", "d", "A1", "c1", "c2")
    client.remove_router_from_group(rid)
    assert sim.state.tables["routers"][rid]["group"] is None
    gid = next(g for g, grow in sim.state.tables["groups"].items() if grow["product"] == row["product"])
    client.assign_router_to_group(rid, gid)  # the SDK sends a www.cradlepointecm.com URL
    assert sim.state.tables["routers"][rid]["group"].endswith(f"/groups/{gid}/")


def test_speed_test_via_sdk(sim, client):
    nd = next(n for n in sim.state.tables["net_devices"].values() if n["is_asset"])
    job = client.create_speed_test([int(nd["id"])])
    assert job["state"] == "created" and job["results"] is None
    deadline = time.time() + 5
    while True:
        got = client.get_speed_test(job["id"])
        if got["state"] == "complete" or time.time() > deadline:
            break
        time.sleep(0.1)
    assert got["state"] == "complete"
    assert got["progress"] == {"completed": 1, "total_count": 1}
    assert got["results"][0]["net_device_id"] == int(nd["id"])


def test_sdk_retries_honour_retry_after(sim):
    client = sdk_client(sim, retries=3)
    sim.fail_next(1, status=429, retry_after=0, endpoint="GET routers")
    assert len(client.get_routers(limit="all")) == 620


def test_sdk_silently_truncates_on_500_page(sim):
    """What the portal must guard against: a 5xx mid-paging returns a partial list."""
    client = sdk_client(sim)
    sim.fail_next(1, status=500, endpoint="GET routers", after=1)  # page 2 fails
    assert len(client.get_routers(limit="all")) == 500
