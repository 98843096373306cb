"""The simulator renders and encodes a page once per fleet version (issue 14): reading is cheap, and any change
(an API write, a control call, a runtime mutation, a finished reboot) is seen by the next read."""
from __future__ import annotations

from ncm_sim.testing import sim_server
from tests.ncm_sim.helpers import get, page_all, send, session


def _cached(sim) -> int:
    return len(sim.api._responses)


def test_a_page_is_built_once_per_fleet_version():
    with sim_server(routers=30, seed=4) as sim:
        s = session(sim)
        first = get(sim, "routers/", s, limit=10, offset=10)
        assert _cached(sim) == 1
        again = get(sim, "routers/", s, limit=10, offset=10)
        assert again.content == first.content and _cached(sim) == 1
        assert sim.state.calls["GET routers"] == 2  # every call is still counted (and delayed, and faulted)
        rows, _ = page_all(sim, "routers/", limit=10)
        assert len(rows) == 30


def test_every_kind_of_change_is_seen_by_the_next_read():
    with sim_server(routers=20, seed=5) as sim:
        s = session(sim)
        rid = get(sim, "routers/", s, limit=1).json()["data"][0]["id"]
        # A runtime mutation (the tests' and the control API's way).
        sim.update_router(rid, name="renamed-by-sim")
        assert get(sim, "routers/", s, limit=1).json()["data"][0]["name"] == "renamed-by-sim"
        # An API write.
        assert send(sim, "PUT", f"routers/{rid}/", {"name": "renamed-by-api"}, s).status_code == 202
        assert get(sim, "routers/", s, limit=1).json()["data"][0]["name"] == "renamed-by-api"
        # The control API over HTTP.
        assert s.patch(f"{sim.control_url}/routers/{rid}/", json={"name": "renamed-by-control"}).status_code == 200
        assert get(sim, "routers/", s, limit=1).json()["data"][0]["name"] == "renamed-by-control"
        # A deletion and a new alert.
        before = len(page_all(sim, "routers/", limit=500)[0])
        sim.delete_router(rid)
        assert len(page_all(sim, "routers/", limit=500)[0]) == before - 1
        alerts = len(page_all(sim, "alerts/", limit=500)[0])
        sim.add_alert(type="account_test")
        assert len(page_all(sim, "alerts/", limit=500)[0]) == alerts + 1


def test_errors_and_filters_are_not_mixed_up():
    with sim_server(routers=20, seed=6) as sim:
        s = session(sim)
        online = get(sim, "routers/", s, state="online", limit=500).json()["data"]
        everything = get(sim, "routers/", s, limit=500).json()["data"]
        assert {r["state"] for r in online} == {"online"} and len(everything) > len(online)
        assert get(sim, "routers/", s, bogus="x").status_code == 400
        assert get(sim, "routers/", s, bogus="x").status_code == 400
        too_many = ",".join(str(i) for i in range(101))
        assert get(sim, "routers/", s, id__in=too_many).status_code == 400


def test_alert_cursor_pages_are_what_filtering_every_alert_gives():
    """Cursor paging (`created_at_timeuuid__lt`, `__gt`) is a binary search in the cached listing: the same rows,
    in the same order, as filtering every alert; new alerts are seen by the next page."""
    from ncm_sim.fleet import timeuuid_key

    with sim_server(routers=40, seed=8) as sim:
        everything = sorted(sim.state.alerts, key=lambda a: timeuuid_key(a["created_at_timeuuid"]), reverse=True)
        paged, calls = page_all(sim, "alerts/", limit=7)
        assert [a["created_at_timeuuid"] for a in paged] == [a["created_at_timeuuid"] for a in everything]
        assert calls == -(-len(everything) // 7)
        middle = everything[len(everything) // 2]["created_at_timeuuid"]
        key = timeuuid_key(middle)
        newer = get(sim, "alerts/", limit=500, created_at_timeuuid__gt=middle).json()["data"]
        older = get(sim, "alerts/", limit=500, created_at_timeuuid__lt=middle).json()["data"]
        assert [a["created_at_timeuuid"] for a in newer] == [
            a["created_at_timeuuid"] for a in everything if timeuuid_key(a["created_at_timeuuid"]) > key]
        assert [a["created_at_timeuuid"] for a in older] == [
            a["created_at_timeuuid"] for a in everything if timeuuid_key(a["created_at_timeuuid"]) < key][:500]
        typed = get(sim, "alerts/", limit=500, type="connection_state", created_at_timeuuid__lt=middle).json()["data"]
        assert all(a["type"] == "connection_state" for a in typed) and typed == [a for a in older if a["type"] == "connection_state"]
        rid = sorted(sim.state.tables["routers"])[0]
        sim.add_alert(rid, type="connection_state")
        assert len(get(sim, "alerts/", limit=500, created_at_timeuuid__gt=middle).json()["data"]) == len(newer) + 1
        assert get(sim, "alerts/", created_at_timeuuid__lt="not-a-uuid").status_code == 400


def test_resetting_the_call_counters_keeps_the_pages_built():
    """The bench resets the call counters before every phase: that must not make the simulator render every page
    again (its own cost would then be part of what the bench measures). Any other control write still does."""
    with sim_server(routers=30, seed=9) as sim:
        s = session(sim)
        first = get(sim, "routers/", s, limit=10)
        version = sim.state.version
        assert s.post(f"{sim.control_url}/reset-counters", json={"calls": True}).status_code == 200
        assert sim.state.calls.get("GET routers", 0) == 0 and sim.state.version == version
        assert get(sim, "routers/", s, limit=10).content == first.content and _cached(sim) == 1
        assert s.post(f"{sim.control_url}/reset-counters", json={}).status_code == 200  # reboots and writes too
        assert sim.state.version == version + 1
        assert s.post(f"{sim.control_url}/faults", json={"latency_ms": 0}).status_code == 200
        assert sim.state.version == version + 2
