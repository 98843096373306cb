"""Writes (reboot, config, router fields, speed test), their records, faults and the control API."""
from __future__ import annotations

import time

import pytest
import requests

from ncm_sim.testing import SimFleet, sim_server

from .helpers import get, page_all, send, session

LAN0 = "00000000-0d93-319d-8220-4a1fb0372b51"


@pytest.fixture
def sim():
    with sim_server(routers=60, seed=21, config_sync_s=0.2, speed_test_duration_s=0.6) as sim:
        yield sim


def online_router(sim, index: int = 0) -> str:
    return [rid for rid, r in sim.state.tables["routers"].items() if r["state"] == "online"][index]


def cm_of(sim, rid: str) -> str:
    return sim.state.router_cm[rid]


# ---------------------------------------------------------------- reboot_activity
def test_reboot_router_recorded_exactly_once(sim):
    rid = online_router(sim)
    r = send(sim, "POST", "reboot_activity/", {"router": f"https://www.cradlepointecm.com/api/v2/routers/{rid}/"})
    assert r.status_code == 201
    recs = [x for x in sim.state.reboots if x["router_id"] == rid]
    assert len(recs) == 1 and recs[0]["via"] == "router" and recs[0]["delivered"] is True
    assert sim.state.writes[-1]["endpoint"] == "POST reboot_activity" and sim.state.writes[-1]["applied"]


def _reboot_evidence(sim, rid: str, since: str) -> tuple[list, list]:
    """What NCM shows of a reboot: the router's reboot_status_change alerts since `since`, its links' uptime."""
    alerts = get(sim, "alerts/", router=rid, type="reboot_status_change", created_at__gt=since).json()["data"]
    uptimes = [nd["uptime"] for nd in get(sim, "net_devices/", router=rid, fields="id,uptime,connection_state").json()["data"]
               if nd["connection_state"] == "connected"]
    return alerts, uptimes


def test_delivered_reboot_shows_in_ncm_and_offline_reboot_is_dropped():
    """NCM sends a reboot only to an online router (its request to an offline one is lost): the online router
    reports back (reboot_status_change alert, link uptime restarting); the offline one shows nothing, ever."""
    with sim_server(routers=60, seed=21, reboot_s=0.3) as sim:
        online = online_router(sim)
        offline = [rid for rid, r in sim.state.tables["routers"].items() if r["state"] == "offline"][0]
        before = time.time()
        for rid in (online, offline):
            assert send(sim, "POST", "reboot_activity/", {"router": f"{sim.base_url}/routers/{rid}/"}).status_code == 201
        stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(before - 1))
        assert _reboot_evidence(sim, online, stamp)[0] == []  # not back yet
        time.sleep(0.5)
        alerts, uptimes = _reboot_evidence(sim, online, stamp)
        assert len(alerts) == 1 and alerts[0]["friendly_info"] == "Device has rebooted."
        assert uptimes and all(u < time.time() - before for u in uptimes), uptimes
        assert _reboot_evidence(sim, offline, stamp) == ([], [])
        assert {r["router_id"]: r["delivered"] for r in sim.state.reboots} == {online: True, offline: False}


def test_reboot_unknown_or_foreign_router_is_403(sim):
    with sim_server(routers=5, seed=22) as other:
        foreign = next(iter(other.state.tables["routers"]))
    for target in (foreign, "1"):
        r = send(sim, "POST", "reboot_activity/", {"router": f"{sim.base_url}/routers/{target}/"})
        assert r.status_code == 403
    assert send(sim, "POST", "reboot_activity/", {"group": f"{sim.base_url}/groups/99/"}).status_code == 403
    assert sim.state.reboots == []
    assert [w["answered_status"] for w in sim.state.writes] == [403, 403, 403]
    assert not any(w["applied"] for w in sim.state.writes)


def test_reboot_group_records_every_member(sim):
    gid = max(sim.state.tables["groups"], key=lambda g: len(sim.state.group_members(g)))
    r = send(sim, "POST", "reboot_activity/", {"group": f"{sim.base_url}/groups/{gid}/"})
    assert r.status_code == 201
    members = sim.state.group_members(gid)
    assert sorted(x["router_id"] for x in sim.state.reboots) == sorted(members)
    assert {x["via"] for x in sim.state.reboots} == {"group"}
    assert send(sim, "POST", "reboot_activity/", {}).status_code == 400


def test_ambiguous_reboot_is_applied_but_answered_502(sim):
    sim.set_faults(ambiguous_write_rate=1.0)
    rid = online_router(sim)
    r = send(sim, "POST", "reboot_activity/", {"router": f"{sim.base_url}/routers/{rid}/"})
    assert r.status_code == 502 and "text/html" in r.headers["Content-Type"]
    assert [x["answered_status"] for x in sim.state.reboots] == [502]
    w = sim.state.writes[-1]
    assert w["applied"] is True and w["answered_status"] == 502 and w["fault"] == "ambiguous"


def test_scripted_ambiguous_write_and_plain_failure(sim):
    rid = online_router(sim)
    sim.fail_next(1, status=504, endpoint="POST reboot_activity", applied=True)
    assert send(sim, "POST", "reboot_activity/", {"router": f"{sim.base_url}/routers/{rid}/"}).status_code == 504
    sim.fail_next(1, status=500, endpoint="POST reboot_activity")
    assert send(sim, "POST", "reboot_activity/", {"router": f"{sim.base_url}/routers/{rid}/"}).status_code == 500
    assert len(sim.state.reboots) == 1  # the 504 was applied, the 500 was not
    assert [(w["applied"], w["answered_status"]) for w in sim.state.writes] == [(True, 504), (False, 500)]


def test_scripted_ambiguous_write_counts_only_accepted_writes(sim):
    """A refused write (403: no such router) neither uses up nor skips past an applied=True fault, so
    `after=1` means "the second accepted write" however concurrent clients interleave."""
    rid = online_router(sim)
    sim.fail_next(1, status=502, endpoint="POST reboot_activity", applied=True, after=1)
    router_url = f"{sim.base_url}/routers/{rid}/"
    assert send(sim, "POST", "reboot_activity/", {"router": f"{sim.base_url}/routers/999999999/"}).status_code == 403
    assert send(sim, "POST", "reboot_activity/", {"router": router_url}).status_code == 201
    assert send(sim, "POST", "reboot_activity/", {"router": f"{sim.base_url}/routers/999999998/"}).status_code == 403
    assert send(sim, "POST", "reboot_activity/", {"router": router_url}).status_code == 502
    assert send(sim, "POST", "reboot_activity/", {"router": router_url}).status_code == 201


# ---------------------------------------------------------------- configuration_managers
def test_config_patch_merges_and_syncs(sim):
    rid = online_router(sim)
    cmid = cm_of(sim, rid)
    assert cmid != rid
    before = get(sim, f"configuration_managers/{cmid}/").json()
    r = send(sim, "PATCH", f"configuration_managers/{cmid}/",
             {"configuration": [{"system": {"logging": {"level": "debug"}}, "lan": {LAN0: {"_id_": LAN0, "ip_address": "192.168.9.1"}}}, []]})
    assert r.status_code == 202 and r.content == b""
    after = get(sim, f"configuration_managers/{cmid}/").json()
    assert after["version_number"] == before["version_number"] + 1
    assert after["synched"] is False and after["pending"] != [{}, []]
    for key, value in before["configuration"][0].items():  # PATCH keeps what it did not mention
        if key not in ("system", "lan"):
            assert after["configuration"][0][key] == value
    assert after["configuration"][0]["lan"][LAN0]["ip_address"] == "192.168.9.1"
    assert after["target"][0]["system"]["logging"]["level"] == "debug"
    assert sim.state.tables["routers"][rid]["config_status"] == "pending"
    time.sleep(0.35)
    synced = get(sim, f"configuration_managers/{cmid}/").json()
    assert synced["synched"] is True and synced["pending"] == [{}, []] and synced["actual"] == synced["target"]
    assert sim.state.tables["routers"][rid]["config_status"] == "synched"
    # An empty PATCH changes nothing and bumps nothing.
    send(sim, "PATCH", f"configuration_managers/{cmid}/", {"configuration": [{}, []]})
    assert get(sim, f"configuration_managers/{cmid}/").json()["version_number"] == after["version_number"]


def test_config_put_replaces(sim):
    rid = online_router(sim, 1)
    cmid = cm_of(sim, rid)
    send(sim, "PATCH", f"configuration_managers/{cmid}/", {"configuration": [{"system": {"desc": "x"}}, []]})
    r = send(sim, "PUT", f"configuration_managers/{cmid}/", {"configuration": [{"system": {"gps": {"enabled": True}}}, []]},
             fields="configuration")
    assert r.status_code == 202 and r.json() == {"configuration": [{"system": {"gps": {"enabled": True}}}, []]}
    r = send(sim, "PUT", f"configuration_managers/{cmid}/", {"configuration": [{}, []]}, fields="configuration")
    assert r.json() == {"configuration": [{}, []]}


def test_config_validation_errors(sim):
    cmid = cm_of(sim, online_router(sim))
    v0 = sim.state.cm_row(cmid)["version_number"]
    r = send(sim, "PUT", f"configuration_managers/{cmid}/", {"configuration": [{"foo": "bar"}, []]})
    assert r.status_code == 409
    body = r.json()
    assert body["exception"] == {"message": "bad or missing data", "type": "validation"}
    assert body["errors"][0]["configuration"] == {"message": "cannot set foo to bar: invalid path",
                                                  "reason": "invalid path", "value": "bar", "path": ["foo"]}
    r = send(sim, "PATCH", f"configuration_managers/{cmid}/",
             {"configuration": [{"lan": {LAN0: {"_id_": LAN0, "ip_address": "999.1.1.1"}}}, []]})
    assert r.status_code == 400 and r.json()["errors"][0]["configuration"]["reason"] == "invalid ipv4 address"
    r = send(sim, "PATCH", f"configuration_managers/{cmid}/", {"configuration": [{"lan": {LAN0: {"ip_address": "192.168.1.1"}}}, []]})
    assert r.status_code == 400
    assert r.json()["exception"]["message"] == f"invalid literal for int() with base 10: '{LAN0}'"
    assert send(sim, "PUT", f"configuration_managers/{cmid}/", {"configuration": [{}, []], "router": "x"}).status_code == 409
    assert send(sim, "PUT", "configuration_managers/", {"configuration": [{}, []]}).status_code == 405
    assert sim.state.cm_row(cmid)["version_number"] == v0
    assert [w["answered_status"] for w in sim.state.writes] == [409, 400, 400, 409, 405]


def test_passwords_masked_and_star_keeps_secret(sim):
    cmid = cm_of(sim, online_router(sim))
    bss = {"wlan": {"radio": {"0": {"bss": {"0": {"ssid": "shop", "wpapsk": "2secret4Usorry"}}}}}}
    send(sim, "PATCH", f"configuration_managers/{cmid}/", {"configuration": [bss, []]})
    got = get(sim, f"configuration_managers/{cmid}/", fields="configuration").json()["configuration"]
    assert got[0]["wlan"]["radio"]["0"]["bss"]["0"]["wpapsk"] == "*"
    send(sim, "PUT", f"configuration_managers/{cmid}/", {"configuration": got})  # write it back masked
    assert sim.state.cm_config[cmid][0]["wlan"]["radio"]["0"]["bss"]["0"]["wpapsk"] == "2secret4Usorry"


def test_suspend_and_resume(sim):
    cmid = cm_of(sim, online_router(sim))
    assert send(sim, "PUT", f"configuration_managers/{cmid}/", {"suspended": True}, fields="suspended").json() == {"suspended": True}
    assert sim.state.tables["routers"][sim.state.cm_router[cmid]]["config_status"] == "suspended"
    send(sim, "PUT", f"configuration_managers/{cmid}/", {"suspended": False})
    assert sim.state.cm_row(cmid)["suspended"] is False


def test_group_config_layers_into_member_targets(sim):
    gid = max(sim.state.tables["groups"], key=lambda g: len(sim.state.group_members(g)))
    members = sim.state.group_members(gid)
    versions = {rid: sim.state.cm_row(cm_of(sim, rid))["version_number"] for rid in members}
    r = send(sim, "PATCH", f"groups/{gid}/", {"configuration": [{"system": {"logging": {"level": "critical"}}}, []]})
    assert r.status_code == 202
    for rid in members:
        row = sim.state.cm_row(cm_of(sim, rid))
        assert row["version_number"] == versions[rid] + 1
        assert row["target"][0]["system"]["logging"]["level"] == "critical"
    group = get(sim, f"groups/{gid}/", fields="configuration").json()
    assert group["configuration"][0]["system"]["logging"]["level"] == "critical"
    assert group["configuration"][0]["wlan"]["radio"]["0"]["bss"]["0"]["wpapsk"] == "*"
    assert send(sim, "PUT", f"groups/{gid}/", {"configuration": [{"nope": 1}, []]}).status_code == 409
    r = send(sim, "PUT", f"groups/{gid}/", {"configuration": [{}, []]}, fields="configuration")
    assert r.json() == {"configuration": [{}, []]}


# ---------------------------------------------------------------- routers
def test_router_patch_fields_and_group_rules(sim):
    rid = online_router(sim)
    r = send(sim, "PATCH", f"routers/{rid}/", {"name": "n1", "description": "d", "asset_id": "a", "custom1": "c1", "custom2": None})
    assert r.status_code == 200 and r.json()["name"] == "n1" and r.json()["custom2"] is None
    assert send(sim, "PATCH", f"routers/{rid}/", {"mac": "00:00:00:00:00:00"}).status_code == 400
    router = sim.state.tables["routers"][rid]
    other = next((g for g, row in sim.state.tables["groups"].items() if row["product"] != router["product"]), None)
    if other:
        assert send(sim, "PATCH", f"routers/{rid}/", {"group": f"{sim.base_url}/groups/{other}/"}).status_code == 400
    assert send(sim, "PUT", f"routers/{rid}/", {"group": None}).status_code == 202
    assert sim.state.tables["routers"][rid]["group"] is None and sim.state.tables["routers"][rid]["target_firmware"] is None
    assert send(sim, "DELETE", f"routers/{rid}/").status_code == 204
    assert get(sim, f"routers/{rid}/").status_code == 404
    assert rid not in {n["router"].rstrip("/").rsplit("/", 1)[1] for n in sim.state.tables["net_devices"].values()}


# ---------------------------------------------------------------- speed_test
def test_speed_test_progresses_to_complete(sim):
    ids = [int(n) for n in list(sim.state.tables["net_devices"])[:8]]
    account = next(iter(sim.state.tables["accounts"]))
    body = {"account": f"https://www.cradlepointecm.com/api/v2/accounts/{account}/",
            "config": {"host": "netperf-west.bufferbloat.net", "max_test_concurrency": 5, "net_device_ids": ids,
                       "port": 12865, "size": None, "test_timeout": 10, "test_type": "TCP Download", "time": 10}}
    r = send(sim, "POST", "speed_test/", body)
    assert r.status_code == 201
    job = r.json()
    assert job["state"] == "created" and job["progress"] is None and job["resource_uri"].endswith(f"/speed_test/{job['id']}/")
    seen = set()
    deadline = time.time() + 5
    while time.time() < deadline:
        got = get(sim, f"speed_test/{job['id']}/").json()
        seen.add(got["state"])
        if got["state"] == "complete":
            break
        time.sleep(0.05)
    assert "started" in seen and got["state"] == "complete"
    assert got["progress"] == {"completed": 8, "total_count": 8}
    res = got["results"]
    assert sorted(x["net_device_id"] for x in res) == sorted(ids)
    assert all(x["state"] in ("success", "error") and "router_id" in x for x in res)
    assert any("Download Throughput" in x["results"] for x in res if x["state"] == "success")
    bad = dict(body, config={k: v for k, v in body["config"].items() if k != "host"})
    assert send(sim, "POST", "speed_test/", bad).status_code == 400
    too_many = dict(body, config=dict(body["config"], net_device_ids=list(range(10_001))))
    assert send(sim, "POST", "speed_test/", too_many).status_code == 400


# ---------------------------------------------------------------- faults
def test_fault_rates_are_seeded_and_close_to_target():
    def run(seed):
        with sim_server(routers=5, seed=3, rate_429=0.2, rate_5xx=0.1, fault_seed=seed, retry_after=2) as sim:
            s = session(sim)
            codes = [s.get(f"{sim.base_url}/products/").status_code for _ in range(400)]
            r429 = next(r for r in (s.get(f"{sim.base_url}/products/") for _ in range(50)) if r.status_code == 429)
            assert r429.headers["Retry-After"] == "2"
            return codes

    a, b = run(1), run(1)
    assert a == b  # reproducible
    assert 50 < a.count(429) < 115
    n5xx = sum(c >= 500 for c in a)
    assert 15 < n5xx < 65
    assert set(a) <= {200, 429, 500, 502, 503, 504}


def test_latency_and_runtime_fault_changes(sim):
    sim.set_faults(latency_ms=120)
    t = time.monotonic()
    get(sim, "products/")
    assert time.monotonic() - t >= 0.12
    sim.set_faults(latency_ms=0, rate_429=1.0, retry_after=None)
    r = get(sim, "products/")
    assert r.status_code == 429 and "Retry-After" not in r.headers
    sim.set_faults(rate_429=0, rate_5xx=1.0, status_5xx=[500])
    r = get(sim, "products/")
    assert r.status_code == 500 and "shard-router" in r.json()["exception"]["message"]
    sim.set_faults(rate_5xx=0)
    assert get(sim, "products/").status_code == 200


# ---------------------------------------------------------------- runtime mutation and records
def test_mutation_api_for_resync(sim):
    st = sim.state
    group = next(iter(st.tables["groups"]))
    new = sim.create_router(name="fresh-one", group=group)
    assert new["id"] in st.tables["routers"] and new["name"] == "fresh-one"
    assert st.router_cm[new["id"]] in st.tables["configuration_managers"]
    cut = new["updated_at"]
    time.sleep(0.01)
    sim.update_router(new["id"], state="offline", description="moved")
    changed = get(sim, "routers/", updated_at__gt=cut).json()["data"]
    assert [r["id"] for r in changed] == [new["id"]] and changed[0]["state"] == "offline"
    latest = get(sim, "alerts/", limit=1).json()["data"][0]
    alert = sim.add_alert(new["id"], type="cpu_utilization")
    newer = get(sim, "alerts/", created_at_timeuuid__gt=latest["created_at_timeuuid"]).json()["data"]
    assert newer[0]["created_at_timeuuid"] == alert["created_at_timeuuid"]
    assert sim.delete_router(new["id"]) is True
    assert get(sim, f"routers/{new['id']}/").status_code == 404


def test_calls_counted_per_endpoint(sim):
    sim.reset_counters()
    rid = online_router(sim)
    get(sim, "routers/")
    get(sim, f"routers/{rid}/")
    send(sim, "PATCH", f"routers/{rid}/", {"custom1": "x"})
    assert sim.state.calls == {"GET routers": 1, "GET routers/{id}": 1, "PATCH routers/{id}": 1}
    assert sim.state.writes[-1]["body"] == {"custom1": "x"}


def test_control_http_api(sim):
    c = sim.control_url
    assert requests.get(f"{c}/").json()["counts"]["routers"] == 60
    assert requests.post(f"{c}/faults", json={"rate_429": 0.5}).json()["rate_429"] == 0.5
    assert requests.get(f"{c}/faults").json()["rate_429"] == 0.5
    requests.post(f"{c}/faults", json={"rate_429": 0})
    created = requests.post(f"{c}/routers", json={"name": "via-http"}).json()
    assert requests.patch(f"{c}/routers/{created['id']}", json={"state": "offline"}).json()["state"] == "offline"
    assert requests.post(f"{c}/alerts", json={"router_id": created["id"], "type": "sim_door_event"}).status_code == 201
    send(sim, "POST", "reboot_activity/", {"router": f"{sim.base_url}/routers/{created['id']}/"})
    assert [r["router_id"] for r in requests.get(f"{c}/reboots").json()] == [created["id"]]
    assert requests.get(f"{c}/writes").json()[-1]["endpoint"] == "POST reboot_activity"
    assert requests.get(f"{c}/calls").json()["POST reboot_activity"] == 1
    requests.post(f"{c}/fail-next", json={"count": 1, "status": 503, "endpoint": "GET routers"})
    assert get(sim, "routers/").status_code == 503
    assert requests.delete(f"{c}/routers/{created['id']}").status_code == 204
    assert requests.post(f"{c}/reset-counters", json={"calls": True}).json() == {"ok": True}
    assert requests.get(f"{c}/calls").json() == {} and len(requests.get(f"{c}/reboots").json()) == 1
    assert requests.post(f"{c}/reset-counters").json() == {"ok": True}
    assert requests.get(f"{c}/calls").json() == {} and requests.get(f"{c}/reboots").json() == []


def test_control_api_can_be_disabled():
    with sim_server(routers=2, seed=4, control=False) as sim:
        assert requests.get(f"{sim.control_url}/").status_code == 404


def test_several_tenants_side_by_side():
    with SimFleet() as fleet:
        a = fleet.start(routers=10, seed=31)
        b = fleet.start(routers=10, seed=32)
        ids_a = {r["id"] for r in page_all(a, "routers/")[0]}
        ids_b = {r["id"] for r in page_all(b, "routers/")[0]}
        assert len(ids_a) == len(ids_b) == 10 and not ids_a & ids_b
        rid_b = next(iter(ids_b))
        assert send(a, "POST", "reboot_activity/", {"router": f"{a.base_url}/routers/{rid_b}/"}).status_code == 403
