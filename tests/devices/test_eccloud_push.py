"""ecCloud configuration against eccloud_sim: the configuration endpoint (merged, with origins), pushes with a
stale timestamp, a suspended device, a guest key, an answer lost after the write (no second write), config task
tracking; the client's 429/503/500 spacing and the per-host budget."""
import time

import pytest

from devices.eccloud import EcCloudAmbiguousWrite, EcCloudClient, EcCloudUnavailable, host_budget
from devices.models import Device
from devices.providers import provider_for
from devices.services.config import PushRefused, push_changes, wait_for_task
from ncm_sync.services.runs import sync_tenant

from .conftest import EC_GUEST, EC_KEY
from .helpers import eccloud_tenant

pytestmark = pytest.mark.django_db(transaction=True)


def client(sim, key=EC_KEY, **kw):
    return EcCloudClient(sim.base_url, key, **kw)


def a_device(sim, online=True):
    did = next(iter(sim.cloud.devices))
    sim.cloud.update_device(did, status_id="STATUS_ONLINE" if online else "STATUS_OFFLINE")
    return did


def test_configuration_endpoint_merges_by_origin(ecsim, operator, client_for):
    tenant = eccloud_tenant(ecsim)
    sync_tenant(tenant_id=tenant.pk)
    device = Device.objects.filter(tenant=tenant, provider="eccloud").first()
    body = client_for(operator).get(f"/api/v1/devices/{device.pk}/configuration/").json()
    keys = body["keys"]
    site_cfg = ecsim.cloud.site_configs[ecsim.cloud.devices[device.remote_id]["site_id"]]
    # stale device copy (origin site) takes the site's value
    assert keys["radio/r5/enable"] == {"value": site_cfg["radio/r5/enable"]["value"], "origin": "site", "level": "site"}
    assert keys["radio/global/bandSteering"] == {"value": "1", "origin": "site-device", "level": "device"}
    assert keys["radio/r5/channel"]["level"] == "device" and keys["network/lan/enable"]["level"] == "site"
    assert body["effective"] == {k: v["value"] for k, v in keys.items()}


def test_push_with_a_stale_timestamp_reads_again_and_reapplies(ecsim):
    did = a_device(ecsim)

    class Racing(EcCloudClient):
        raced = False

        def config_changes(self, device_id):
            current = super().config_changes(device_id)
            if not self.raced:  # someone edits the device in the Cloud UI between our read and our POST
                self.raced = True
                ecsim.cloud.touch_config(device_id, {"system/hostname": {"value": "edited", "origin": "device"}})
            return current

    with Racing(ecsim.base_url, EC_KEY) as c:
        result = push_changes(c, did, {"hotspot/landingURL": "https://portal.example"})
    assert result["written"] and result["attempts"] == 2
    writes = ecsim.writes(did)
    assert len(writes) == 1 and writes[0]["changes"] == {
        "hotspot/landingURL": {"value": "https://portal.example", "origin": "site-device"}}
    cfg = ecsim.cloud.device_configs[did]
    assert cfg["system/hostname"]["value"] == "edited"  # the other edit survived


def test_push_to_a_suspended_device_is_reported_not_sent(ecsim):
    did = a_device(ecsim)
    ecsim.cloud.update_device(did, suspend_config=True)
    with client(ecsim) as c, pytest.raises(PushRefused, match="suspended"):
        push_changes(c, did, {"radio/r5/enable": "0"})
    assert ecsim.writes() == [] and not any(m == "POST" for _t, m, _p, _s in ecsim.request_log)


def test_guest_key_is_reported_and_nothing_sent_twice(ecsim):
    did = a_device(ecsim)
    with client(ecsim, EC_GUEST) as c, pytest.raises(PushRefused, match="guest"):
        push_changes(c, did, {"radio/r5/enable": "0"})
    assert [m for _t, m, _p, _s in ecsim.request_log].count("POST") == 1 and ecsim.writes() == []


@pytest.mark.parametrize("status", [0, 502, 503])
def test_answer_lost_after_write_is_confirmed_by_reading_never_resent(ecsim, status):
    did = a_device(ecsim)
    ecsim.fail_next(status=status, endpoint="POST /device", applied=True)
    with client(ecsim) as c:
        result = push_changes(c, did, {"radio/r5/channel": "157"})
    assert result["written"] and result["confirmed_by_read"]
    assert len(ecsim.writes(did)) == 1
    assert [m for _t, m, _p, _s in ecsim.request_log].count("POST") == 1


def test_a_post_refused_before_storing_is_unknown_not_resent(ecsim):
    from devices.services.config import PushUnknown

    did = a_device(ecsim)
    ecsim.fail_next(status=503, endpoint="POST /device")  # refused before storing: still ambiguous to us
    with client(ecsim) as c, pytest.raises(PushUnknown, match="not sent again"):
        push_changes(c, did, {"radio/r5/channel": "157"})
    assert ecsim.writes() == [] and [m for _t, m, _p, _s in ecsim.request_log].count("POST") == 1


def test_config_task_is_tracked_until_applied(ecsim):
    did = a_device(ecsim)
    with client(ecsim) as c:
        result = push_changes(c, did, {"radio/r5/channel": "48"})
        assert result["unfinishedTaskCount"] == 1
        assert wait_for_task(c, did, timeout=3, poll=0.05) is True
    offline = a_device(ecsim, online=False)
    with client(ecsim) as c:
        push_changes(c, offline, {"radio/r5/channel": "52"})
        assert wait_for_task(c, offline, timeout=0.3, poll=0.05) is False  # held until the device is back


def test_provider_push_waits_for_the_task(ecsim):
    tenant = eccloud_tenant(ecsim)
    sync_tenant(tenant_id=tenant.pk)
    device = Device.objects.filter(tenant=tenant, provider="eccloud", status="online").first()
    result = provider_for("eccloud").push_config(device, {"changes": {"radio/r5/channel": "149", "radio/global/bandSteering": None}})
    assert result["applied"] is True
    cfg = ecsim.cloud.device_configs[device.remote_id]
    assert cfg["radio/r5/channel"] == {"value": "149", "origin": "device"}
    assert cfg["radio/global/bandSteering"]["origin"] == "site"  # the override removed: follows the site again


def _gets(sim):
    return [t for t, m, _p, _s in sim.request_log if m == "GET"]


def test_503_and_429_are_retried_no_sooner_than_the_retry_interval(ecsim):
    ecsim.fail_next(count=2, status=503, endpoint="GET /sites")
    ecsim.fail_next(count=1, status=429, endpoint="GET /sites")
    with client(ecsim, retry_seconds=0.2) as c:
        assert len(c.sites()) == 2
    times = _gets(ecsim)
    assert len(times) == 4 and c.waits == [0.2, 0.2, 0.2]
    assert all(b - a >= 0.2 for a, b in zip(times, times[1:]))


def test_503_gives_up_after_max_retries_and_500_is_retried_once(ecsim):
    ecsim.set_maintenance(True)
    with client(ecsim, retry_seconds=0.01, max_retries=3) as c, pytest.raises(EcCloudUnavailable) as err:
        c.sites()
    assert err.value.maintenance and len(_gets(ecsim)) == 4
    ecsim.set_maintenance(False)
    ecsim.reset_log()
    ecsim.fail_next(count=5, status=500, endpoint="GET /sites")
    with client(ecsim, retry_seconds=0.01) as c, pytest.raises(EcCloudUnavailable):
        c.sites()
    assert len(_gets(ecsim)) == 2


def test_post_is_never_retried_on_5xx(ecsim):
    did = a_device(ecsim)
    ecsim.fail_next(count=1, status=502, endpoint="POST /device")
    with client(ecsim) as c:
        ts = c.config_changes(did)["timestamp"]
        with pytest.raises(EcCloudAmbiguousWrite):
            c.post_config_changes(did, ts, {"a/b": {"value": "1", "origin": "device"}})
    assert [m for _t, m, _p, _s in ecsim.request_log].count("POST") == 1


def test_one_budget_per_host_shared_by_every_key(ecsim, settings):
    settings.ECCLOUD_RATE_LIMIT = 5
    settings.ECCLOUD_RATE_WINDOW_SECONDS = 1
    ecsim.rate_limit, ecsim.rate_window = 5, 1.0
    assert host_budget(ecsim.base_url).key == host_budget(ecsim.base_url + "/").key
    owner, guest = client(ecsim), client(ecsim, EC_GUEST)
    started = time.monotonic()
    for i in range(12):
        (owner if i % 2 else guest).sites()
    assert time.monotonic() - started >= 1.0  # held by the shared budget...
    assert all(s == 200 for _t, _m, _p, s in ecsim.request_log)  # ...so ecCloud never answered 429
