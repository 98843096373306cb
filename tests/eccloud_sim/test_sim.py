"""eccloud_sim speaks the article: plain-text errors, bare arrays, limits, maintenance, config-changes."""
import time

import pytest
import requests

from eccloud_sim.testing import eccloud_server

H = {"x-api-key": "demo-eccloud-key", "content-type": "application/json"}


@pytest.fixture
def sim():
    with eccloud_server(sites=2, devices_per_site=3, seed=4) as s:
        yield s


def first_device(sim):
    return next(iter(sim.cloud.devices))


def test_lists_are_bare_arrays_with_the_18_fields(sim):
    sites = requests.get(f"{sim.base_url}/sites", headers=H, timeout=5).json()
    assert isinstance(sites, list) and len(sites) == 2
    devices = requests.get(f"{sim.base_url}/sites/{sites[0]['id']}/devices", headers=H, timeout=5).json()
    assert len(devices) == 3 and len(devices[0]) == 18 and devices[0]["site_id"] == sites[0]["id"]


def test_errors_are_plain_text(sim):
    r = requests.get(f"{sim.base_url}/sites", headers={"x-api-key": "nope"}, timeout=5)
    assert r.status_code == 401 and r.text == "x-api-key header is not valid"
    assert r.headers["content-type"].startswith("text/plain")
    r = requests.get(f"{sim.base_url}/devices/1", headers=H, timeout=5)
    assert r.status_code == 404 and r.text == "Device not found"


def test_rate_limit_per_source_address_whatever_the_key(sim):
    sim.rate_limit, sim.rate_window = 5, 1.0
    guest = {"x-api-key": sim.guest_key}
    codes = [requests.get(f"{sim.base_url}/sites", headers=H if i % 2 else guest, timeout=5).status_code for i in range(7)]
    assert codes == [200] * 5 + [429, 429]
    time.sleep(1.05)
    assert requests.get(f"{sim.base_url}/sites", headers=H, timeout=5).status_code == 200


def test_maintenance_answers_503_everywhere(sim):
    sim.set_maintenance(True)
    r = requests.get(f"{sim.base_url}/sites", headers=H, timeout=5)
    assert r.status_code == 503 and "maintenance" in r.text


def test_config_changes_flow(sim):
    did = first_device(sim)
    url = f"{sim.base_url}/device/{did}/config-changes"
    cur = requests.get(url, headers=H, timeout=5).json()
    assert set(cur) >= {"unfinishedTaskCount", "configSuspended", "timestamp", "serverSideChanged", "site", "device", "defaults"}
    body = {"timestamp": cur["timestamp"], "changes": {"hotspot/landingURL": {"value": "https://x", "origin": "site-device"}}}
    r = requests.post(url, json=body, headers=H, timeout=5).json()
    assert r["serverSideChanged"] is False and r["unfinishedTaskCount"] == 1 and r["timestamp"] != cur["timestamp"]
    # the same (now stale) timestamp again: nothing stored, serverSideChanged
    again = requests.post(url, json=body, headers=H, timeout=5).json()
    assert again["serverSideChanged"] is True and len(sim.writes(did)) == 1
    # integers refused, in plain text
    bad = requests.post(url, json={"timestamp": r["timestamp"], "changes": {"a/b": {"value": 1, "origin": "device"}}},
                        headers=H, timeout=5)
    assert bad.status_code == 400 and "strings" in bad.text


def test_config_task_finishes_on_online_device(sim):
    did = first_device(sim)
    sim.cloud.update_device(did, status_id="STATUS_ONLINE")
    url = f"{sim.base_url}/device/{did}/config-changes"
    ts = requests.get(url, headers=H, timeout=5).json()["timestamp"]
    requests.post(url, json={"timestamp": ts, "changes": {"x/y": {"value": "1", "origin": "device"}}}, headers=H, timeout=5)
    assert requests.get(url, headers=H, timeout=5).json()["unfinishedTaskCount"] == 1
    time.sleep(0.3)
    assert requests.get(url, headers=H, timeout=5).json()["unfinishedTaskCount"] == 0


def test_guest_key_reads_but_cannot_write_and_suspended_device_refuses(sim):
    did = first_device(sim)
    url = f"{sim.base_url}/device/{did}/config-changes"
    guest = {"x-api-key": sim.guest_key}
    ts = requests.get(url, headers=guest, timeout=5).json()["timestamp"]
    r = requests.post(url, json={"timestamp": ts, "changes": {}}, headers=guest, timeout=5)
    assert r.status_code == 403 and "guest" in r.text
    sim.cloud.update_device(did, suspend_config=True)
    assert requests.get(url, headers=H, timeout=5).json()["configSuspended"] is True
    r = requests.post(url, json={"timestamp": ts, "changes": {}}, headers=H, timeout=5)
    assert r.status_code == 409 and sim.writes() == []


def test_answer_lost_after_write(sim):
    did = first_device(sim)
    url = f"{sim.base_url}/device/{did}/config-changes"
    ts = requests.get(url, headers=H, timeout=5).json()["timestamp"]
    sim.fail_next(status=0, endpoint="POST /device", applied=True)
    with pytest.raises(requests.ConnectionError):
        requests.post(url, json={"timestamp": ts, "changes": {"x/y": {"value": "1", "origin": "device"}}}, headers=H, timeout=5)
    assert len(sim.writes(did)) == 1
