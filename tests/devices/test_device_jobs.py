"""Jobs on `devices`: config_push to ecCloud devices (preview, push, task tracked), actions ecCloud lacks refused
with 400 naming them, a mixed NCM + ecCloud tenant, a guest key reported. Against eccloud_sim and ncm_sim."""
import pytest

from devices.models import Device
from jobs.models import ItemStatus, JobStatus
from ncm_sync.services.runs import sync_tenant
from tests.fleet import tenant_on
from tests.jobs.test_jobs_sim import drain  # noqa: F401

from .helpers import eccloud_credential, eccloud_tenant

pytestmark = pytest.mark.django_db(transaction=True)


def synced(tenant):
    run = sync_tenant(tenant_id=tenant.pk)
    assert run.status == "succeeded", run.error
    return tenant


def online_ec(tenant, ecsim, n=2):
    for d in list(ecsim.cloud.devices)[:n]:
        ecsim.cloud.update_device(d, status_id="STATUS_ONLINE")
    synced(tenant)
    return list(Device.objects.filter(tenant=tenant, provider="eccloud", status="online").order_by("pk")[:n])


def test_config_push_to_eccloud_devices_preview_then_job(ecsim, operator, client_for):
    from jobs.models import Job

    tenant = eccloud_tenant(ecsim)
    devices = online_ec(tenant, ecsim)
    api = client_for(operator)
    body = {"tenant": tenant.pk, "kind": "config_push", "devices": [d.pk for d in devices],
            "parameters": {"changes": {"hotspot/landingURL": "https://portal.example", "radio/r5/channel": "161"}}}
    preview = api.post("/api/v1/jobs/preview/", body, format="json")
    assert preview.status_code == 200, preview.content
    target = preview.json()["targets"][0]
    assert target["device"] == devices[0].pk and target["errors"] == []
    assert target["post"]["hotspot/landingURL"] == {"value": "https://portal.example", "origin": "site-device"}
    assert target["result"]["radio/r5/channel"] == "161" and "hotspot/landingURL" in target["changed"]
    assert ecsim.writes() == []  # a preview sends nothing

    created = api.post("/api/v1/jobs/", body, format="json")
    assert created.status_code == 201, created.content
    assert created.json()["devices"] == [d.pk for d in devices]
    job = drain(Job.objects.get(pk=created.json()["id"]))
    assert job.status == JobStatus.SUCCEEDED, list(job.items.values("status", "error"))
    for item in job.items.all():
        assert item.device_id and item.status == ItemStatus.SUCCEEDED and item.result["applied"] is True
        assert len(ecsim.writes(item.device.remote_id)) == 1
        assert ecsim.cloud.unfinished(item.device.remote_id) == 0


def test_actions_ecloud_lacks_are_refused_naming_them(ecsim, operator, client_for):
    tenant = synced(eccloud_tenant(ecsim))
    device = Device.objects.filter(tenant=tenant, provider="eccloud").first()
    api = client_for(operator)
    for kind in ("reboot", "speed_test"):
        r = api.post("/api/v1/jobs/", {"tenant": tenant.pk, "kind": kind, "devices": [device.pk]}, format="json")
        assert r.status_code == 400 and kind in r.json()["devices"][0] and "ecCloud" in r.json()["devices"][0]
    bad = api.post("/api/v1/jobs/", {"tenant": tenant.pk, "kind": "config_push", "devices": [device.pk],
                                     "parameters": {"changes": {"radio/r5/enable": 1}}}, format="json")
    assert bad.status_code == 400 and "strings" in str(bad.json())
    assert api.post("/api/v1/jobs/", {"tenant": tenant.pk, "kind": "config_push", "devices": [999999],
                                      "parameters": {"changes": {"a/b": "1"}}}, format="json").status_code == 400


def test_mixed_tenant_reboot_goes_to_ncm_routers_only(ecsim, sims, operator, client_for):
    ncm = sims.start(routers=4, seed=5)
    tenant = tenant_on(ncm)
    eccloud_credential(tenant, ecsim)
    synced(tenant)
    ncm_devices = list(Device.objects.filter(tenant=tenant, provider="ncm", status="online"))
    assert ncm_devices
    api = client_for(operator)
    r = api.post("/api/v1/jobs/", {"tenant": tenant.pk, "kind": "reboot", "devices": [ncm_devices[0].pk]}, format="json")
    assert r.status_code == 201, r.content
    assert r.json()["routers"] == [ncm_devices[0].router_id] and r.json()["devices"] == []


def test_guest_key_push_is_reported_and_not_sent_twice(ecsim, operator):
    from jobs import services

    tenant = eccloud_tenant(ecsim, guest=True)
    devices = online_ec(tenant, ecsim, 1)
    job = drain(services.job_create(user=operator, tenant=tenant, kind="config_push", device_ids=[devices[0].pk],
                                    parameters={"changes": {"radio/r5/channel": "165"}}))
    item = job.items.get()
    assert item.status == ItemStatus.FAILED and "guest" in item.error
    assert [m for _t, m, _p, _s in ecsim.request_log].count("POST") == 1 and ecsim.writes() == []


def test_suspended_device_push_fails_saying_so(ecsim, operator):
    from jobs import services

    tenant = eccloud_tenant(ecsim)
    devices = online_ec(tenant, ecsim, 1)
    ecsim.cloud.update_device(devices[0].remote_id, suspend_config=True)
    job = drain(services.job_create(user=operator, tenant=tenant, kind="config_push", device_ids=[devices[0].pk],
                                    parameters={"changes": {"radio/r5/channel": "165"}}))
    item = job.items.get()
    assert item.status == ItemStatus.FAILED and "configSuspended" in item.error and ecsim.writes() == []
