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
