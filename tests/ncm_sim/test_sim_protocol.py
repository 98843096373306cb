"""NCM v2 protocol behaviour: auth, paging, caps, redirects, filters, fields/expand, determinism."""
from __future__ import annotations

import time
import uuid
from datetime import datetime, timezone

import pytest
import requests

from ncm_sim.server import SimServer
from ncm_sim.testing import sim_server

from .helpers import get, page_all, session

EPOCH = datetime(2026, 6, 1, 12, tzinfo=timezone.utc)


@pytest.fixture(scope="module")
def sim():
    with sim_server(routers=260, seed=5, epoch=EPOCH) as sim:
        yield sim


@pytest.fixture(autouse=True)
def _no_faults(request):
    if "sim" in request.fixturenames:
        request.getfixturevalue("sim").set_faults(rate_429=0, rate_5xx=0, latency_ms=0, ambiguous_write_rate=0)


# ---------------------------------------------------------------- auth
@pytest.mark.parametrize("header", ["X-CP-API-ID", "X-CP-API-KEY", "X-ECM-API-ID", "X-ECM-API-KEY"])
def test_wrong_or_missing_key_is_401(sim, header):
    headers = dict(sim.keys)
    headers[header] = "wrong"
    r = requests.get(f"{sim.base_url}/routers/", headers=headers)
    assert r.status_code == 401
    assert r.json()["exception"]["type"] == "unauthorized" and "errors" in r.json()
    del headers[header]
    assert requests.get(f"{sim.base_url}/routers/", headers=headers).status_code == 401


def test_keys_default_to_env_then_demo():
    from ncm_sim.server import default_keys

    assert default_keys({}) == {"X-CP-API-ID": "demo-cp-id", "X-CP-API-KEY": "demo-cp-key",
                                "X-ECM-API-ID": "demo-ecm-id", "X-ECM-API-KEY": "demo-ecm-key"}
    assert default_keys({"X_ECM_API_KEY": "k"})["X-ECM-API-KEY"] == "k"


def test_custom_keys():
    keys = {"X-CP-API-ID": "a", "X-CP-API-KEY": "b", "X-ECM-API-ID": "c", "X-ECM-API-KEY": "d"}
    with sim_server(routers=3, seed=2, keys=keys) as sim:
        assert sim.keys == keys
        assert requests.get(f"{sim.base_url}/routers/", headers=keys).status_code == 200
        assert requests.get(f"{sim.base_url}/routers/", headers={**keys, "X-CP-API-ID": "demo-cp-id"}).status_code == 401


# ---------------------------------------------------------------- paging
def test_default_limit_20_and_meta(sim):
    body = get(sim, "routers/").json()
    assert len(body["data"]) == 20
    meta = body["meta"]
    assert meta["limit"] == 20 and meta["offset"] == 0 and meta["previous"] is None
    assert meta["next"].startswith(sim.base_url + "/routers/?")  # absolute, same prefix as base_url
    assert "offset=20" in meta["next"]


def test_limit_capped_at_500_and_next_null_at_end(sim):
    body = get(sim, "routers/", limit=1000000).json()
    assert body["meta"]["limit"] == 500
    assert len(body["data"]) == 260 and body["meta"]["next"] is None
    body = get(sim, "routers/", limit=100, offset=200).json()
    assert len(body["data"]) == 60 and body["meta"]["next"] is None
    assert "offset=100" in body["meta"]["previous"]


def test_offset_paging_covers_fleet_exactly_once(sim):
    rows, calls = page_all(sim, "routers/", limit=7, state="online")
    online = [r for r in sim.state.tables["routers"].values() if r["state"] == "online"]
    assert [r["id"] for r in rows] == [r["id"] for r in online]
    assert calls == -(-len(online) // 7)


def test_next_keeps_filters_and_uses_request_host(sim):
    r = requests.get(f"http://localhost:{sim.port}/api/v2/routers/", headers=sim.keys,
                     params={"state": "online", "limit": 5})
    body = r.json()
    assert body["meta"]["next"].startswith(f"http://localhost:{sim.port}/api/v2/routers/?")
    assert "state=online" in body["meta"]["next"]
    assert body["data"][0]["resource_url"].startswith(f"http://localhost:{sim.port}/api/v2/routers/")


def test_missing_trailing_slash_redirects_301_and_counts_twice(sim):
    sim.reset_counters()
    r = get(sim, "routers", limit=2)
    assert r.status_code == 301
    assert r.headers["Location"] == f"{sim.base_url}/routers/?limit=2"
    s = session(sim)
    assert s.get(f"{sim.base_url}/routers", params={"limit": 2}).status_code == 200  # requests follows it
    assert sim.state.calls["GET routers"] == 3


def test_more_than_100_in_values_is_400(sim):
    ids = list(sim.state.tables["routers"])
    assert get(sim, "routers/", id__in=",".join(ids[:100]), limit=500).status_code == 200
    r = get(sim, "routers/", id__in=",".join(ids[:101]))
    assert r.status_code == 400 and "max 100" in r.json()["exception"]["message"]


def test_alerts_have_no_100_value_limit(sim):
    urls = ",".join(sim.state.tables["routers"])
    assert get(sim, "alerts/", router__in=urls).status_code == 200


def test_unknown_filter_and_bad_values_are_400(sim):
    assert get(sim, "routers/", colour="red").status_code == 400
    assert get(sim, "routers/", expand="nonsense").status_code == 400
    assert get(sim, "routers/", limit="abc").status_code == 400
    assert get(sim, "routers/", updated_at__gt="yesterday").status_code == 400


def test_filters(sim):
    routers = list(sim.state.tables["routers"].values())
    r0 = routers[0]
    assert [r["id"] for r in get(sim, "routers/", mac=r0["mac"].lower()).json()["data"]] == [r0["id"]]
    for state in ("online", "offline", "initialized"):
        got = page_all(sim, "routers/", state=state, limit=500)[0]
        assert len(got) == sum(r["state"] == state for r in routers)
    grouped = page_all(sim, "routers/", group__isnull="false", limit=500)[0]
    assert len(grouped) == sum(r["group"] is not None for r in routers)
    gid = r0["group"] or next(r["group"] for r in routers if r["group"])
    gid = gid.rstrip("/").rsplit("/", 1)[1]
    in_group = page_all(sim, "routers/", group=gid, limit=500)[0]
    assert in_group and all(r["group"].endswith(f"/groups/{gid}/") for r in in_group)
    cut = sorted(r["updated_at"] for r in routers)[100]
    newer = page_all(sim, "routers/", updated_at__gt=cut, limit=500)[0]
    assert len(newer) == sum(r["updated_at"] > cut for r in routers)
    mid = int(routers[50]["id"])
    assert len(page_all(sim, "routers/", id__gt=mid, limit=500)[0]) == len(routers) - 51
    nds = page_all(sim, "net_devices/", router=r0["id"], limit=500)[0]
    assert {n["id"] for n in nds} == set(sim.state.router_nds[r0["id"]])
    assert get(sim, "configuration_managers/", **{"router.id": r0["id"], "fields": "id"}).json()["data"] == [
        {"id": sim.state.router_cm[r0["id"]]}]


def test_order_by(sim):
    names = [r["name"] for r in get(sim, "routers/", order_by="-name", limit=500).json()["data"]]
    assert names == sorted(names, reverse=True)
    assert get(sim, "alerts/", order_by="created_at").status_code == 409


def test_fields_and_expand(sim):
    row = get(sim, "routers/", fields="id,name,group", expand="group", limit=1, group__isnull="false").json()["data"][0]
    assert set(row) == {"id", "name", "group"} and isinstance(row["group"], dict) and "configuration" in row["group"]
    row = get(sim, "configuration_managers/", fields="version_number,router.id,router.mac", limit=1).json()["data"][0]
    assert set(row) == {"version_number", "router"} and set(row["router"]) == {"id", "mac"}
    nd = get(sim, "net_devices/", expand="router", limit=1).json()["data"][0]
    assert nd["router"]["id"] in sim.state.tables["routers"]


def test_detail_and_missing(sim):
    rid = next(iter(sim.state.tables["routers"]))
    assert get(sim, f"routers/{rid}/").json()["id"] == rid
    assert get(sim, "routers/1/").status_code == 404
    assert get(sim, "configuration_managers/1/").status_code == 403  # "resource not visible"


def test_router_shape_matches_seed(sim):
    r = get(sim, "routers/", limit=1).json()["data"][0]
    for field in ("account", "actual_firmware", "asset_id", "config_status", "created_at", "custom1", "custom2",
                  "description", "device_type", "full_product_name", "group", "id", "ipv4_address",
                  "last_known_location", "locality", "mac", "name", "product", "reboot_required", "resource_url",
                  "serial_number", "state", "state_updated_at", "target_firmware", "updated_at", "upgrade_pending"):
        assert field in r
    assert r["resource_url"] == f"{sim.base_url}/routers/{r['id']}/"
    assert isinstance(r["id"], str) and r["account"].startswith(f"{sim.base_url}/accounts/")
    modem = next(n for n in sim.state.tables["net_devices"].values() if n["type"] == "mdm")
    assert modem["mode"] == "wan" and modem["carrier"] and len(modem["iccid"]) == 19 and len(modem["imei"]) == 15
    for key in ("rsrp", "rsrq", "sinr", "rssi", "signal_strength"):
        assert modem[key] is not None
    health = get(sim, "net_device_health/", net_device=modem["id"]).json()["data"][0]
    assert health["cellular_health_category"] in ("excellent", "good", "fair", "poor")
    metrics = get(sim, f"net_device_metrics/{modem['id']}/").json()
    assert metrics["net_device"] == modem["resource_url"] and metrics["rsrp"] is not None


def test_alert_timeuuid_paging(sim):
    rows, calls = page_all(sim, "alerts/", limit=50)
    assert len(rows) == len(sim.state.alerts) and calls == -(-len(rows) // 50)
    times = [uuid.UUID(a["created_at_timeuuid"]).time for a in rows]
    assert times == sorted(times, reverse=True)  # newest first
    first = get(sim, "alerts/", limit=50).json()
    assert "created_at_timeuuid__lt=" in first["meta"]["next"] and "offset" not in first["meta"]["next"]
    account_alerts = get(sim, "alerts/", router__isnull="true", limit=500).json()["data"]
    assert account_alerts and all(a["router"] is None and a["account"] for a in account_alerts)
    pivot = rows[len(rows) // 2]["created_at_timeuuid"]
    newer = page_all(sim, "alerts/", created_at_timeuuid__gt=pivot, limit=500)[0]
    assert len(newer) == len(rows) // 2


def test_router_alerts_need_router_filter(sim):
    assert get(sim, "router_alerts/").status_code == 409
    rid = next(a["router"] for a in sim.state.alerts if a["router"]).rstrip("/").rsplit("/", 1)[1]
    data = get(sim, "router_alerts/", router=rid).json()["data"]
    assert data and all("account" not in a and a["router"].endswith(f"/{rid}/") for a in data)


def test_reboot_activity_is_post_only(sim):
    assert get(sim, "reboot_activity/").status_code == 405


# ---------------------------------------------------------------- determinism and tenancy
def test_same_seed_same_fleet_different_seed_disjoint():
    kw = dict(routers=40, epoch=EPOCH)
    a, b, c = (SimServer(seed=s, **kw) for s in (7, 7, 8))
    with a, b, c:
        assert _same_modulo_port(a, b)
        ids_a = set(a.state.tables["routers"]) | set(a.state.tables["groups"]) | set(a.state.tables["accounts"])
        ids_c = set(c.state.tables["routers"]) | set(c.state.tables["groups"]) | set(c.state.tables["accounts"])
        assert not ids_a & ids_c
        macs_a = {r["mac"] for r in a.state.tables["routers"].values()}
        assert not macs_a & {r["mac"] for r in c.state.tables["routers"].values()}


def _same_modulo_port(a, b) -> bool:
    import json

    dump = lambda s: json.dumps([s.state.tables, s.state.alerts], sort_keys=True).replace(s.netloc, "HOST")
    return dump(a) == dump(b)


def test_state_mix_and_relations():
    with sim_server(routers=400, seed=9, epoch=EPOCH) as sim:
        st = sim.state
        states = {r["state"] for r in st.tables["routers"].values()}
        assert states == {"online", "offline", "initialized"}
        assert len(st.tables["accounts"]) == 4  # parent + 3 subaccounts
        assert any(r["group"] is None for r in st.tables["routers"].values())
        for r in st.tables["routers"].values():
            if r["group"]:
                g = st.tables["groups"][r["group"].rstrip("/").rsplit("/", 1)[1]]
                assert g["product"] == r["product"] and g["target_firmware"] == r["target_firmware"]
        assert 0.7 < len(st.tables["locations"]) / 400 < 0.97
        assert 1.0 <= len(st.tables["net_devices"]) / 400 <= 2.0


@pytest.mark.slow
def test_paging_10000_routers_is_fast():
    started = time.monotonic()
    with sim_server(routers=10_000, seed=1) as sim:
        startup = time.monotonic() - started
        assert startup < 6, f"startup took {startup:.1f}s"
        t0 = time.monotonic()
        rows, calls = page_all(sim, "routers/", limit=500)
        elapsed = time.monotonic() - t0
    assert len(rows) == 10_000 and len({r["id"] for r in rows}) == 10_000 and calls == 20
    assert elapsed < 3, f"paging took {elapsed:.2f}s"
