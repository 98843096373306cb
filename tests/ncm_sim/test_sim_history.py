"""ncm_sim's time series (v2) and JSON:API v3 endpoints, over HTTP."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta

import requests

from ncm_sim.testing import sim_server


def test_time_series_paging_filters_and_409():
    with sim_server(routers=4, seed=7) as sim:
        sim.state.samples_until = datetime.now(UTC) - timedelta(minutes=5)
        modems = [k for k, v in sim.state.tables["net_devices"].items() if v["type"] == "mdm"][:2]
        url = f"{sim.base_url}/net_device_usage_samples/"
        since = (datetime.now(UTC) - timedelta(days=1)).strftime("%Y-%m-%dT%H:%M:%S")
        first = requests.get(url, params={"net_device__in": ",".join(modems), "created_at__gt": since, "limit": 10},
                             headers=sim.keys).json()
        rows, body = list(first["data"]), first
        while body["meta"]["next"]:
            body = requests.get(body["meta"]["next"], headers=sim.keys).json()
            rows.extend(body["data"])
        keys = [(r["created_at"], r["created_at_timeuuid"]) for r in rows]
        assert keys == sorted(keys) and len(set(keys)) == len(keys)  # oldest first, each once
        assert 46 <= len(rows) <= 50  # two modems, one sample an hour, a day
        assert {r["net_device"].rstrip("/").rsplit("/", 1)[-1] for r in rows} == set(modems)
        # Deterministic: the same request gives the same page.
        again = requests.get(url, params={"net_device__in": ",".join(modems), "created_at__gt": since, "limit": 10},
                             headers=sim.keys).json()
        assert again["data"] == first["data"]
        assert requests.get(url, headers=sim.keys).status_code == 409
        assert requests.get(f"{sim.base_url}/router_logs/", params={"router__in": "1,2"}, headers=sim.keys).status_code == 400


def test_v3_json_api_paging_and_auth():
    with sim_server(routers=60, seed=8, v3_token="tsecret-v3-sim-0123456789") as sim:
        headers = {"Authorization": f"Bearer {sim.v3_token}", "Accept": "application/vnd.api+json"}
        assert requests.get(f"{sim.v3_base_url}/asset_endpoints").status_code == 401
        assert requests.get(f"{sim.v3_base_url}/asset_endpoints", params={"page[size]": 51}, headers=headers).status_code == 400
        body = requests.get(f"{sim.v3_base_url}/asset_endpoints", params={"page[size]": 50}, headers=headers).json()
        assert len(body["data"]) == 50 and body["links"]["next"]
        rest = requests.get(body["links"]["next"], headers=headers).json()
        assert len(rest["data"]) == 10 and "next" not in rest["links"]
        ids = [a["id"] for a in body["data"] + rest["data"]]
        assert len(set(ids)) == 60
        subs = requests.get(f"{sim.v3_base_url}/subscriptions/", headers=headers).json()["data"]
        assert sum(s["attributes"]["quantity"] for s in subs) == 60
