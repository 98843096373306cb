"""The jobs wizard with IgniteNet (ecCloud) access points beside Cradlepoint routers (issue 15): pick access points,
only the kinds every chosen vendor has are offered, ecCloud changes as key/value rows (remove = null), the
preview, the job created through jobs.services.job_create and run against eccloud_sim, and the role rules."""
import re

import pytest

from accounts.roles import Role
from devices.models import Device
from eccloud_config import merge
from jobs.models import ItemStatus, Job, JobStatus
from ncm_sync.models import Router
from ncm_sync.services.runs import sync_tenant
from tests.factories import make_user
from tests.fleet import tenant_on
from tests.jobs.test_jobs_sim import drain
from tests.ui.test_pages import body, login

from .helpers import eccloud_credential

pytestmark = pytest.mark.django_db(transaction=True)

OVERRIDE = "radio/global/bandSteering"  # a site key; the devices below override it (site-device)


def synced(tenant):
    run = sync_tenant(tenant_id=tenant.pk)
    assert run.status == "succeeded", run.error
    return tenant


@pytest.fixture
def mixed(ecsim, sims):
    """A tenant with NCM routers and ecCloud access points; two access points online, overriding OVERRIDE."""
    tenant = tenant_on(sims.start(routers=3, seed=9))
    eccloud_credential(tenant, ecsim)
    for remote_id in list(ecsim.cloud.devices)[:2]:
        ecsim.cloud.update_device(remote_id, status_id="STATUS_ONLINE")
        ecsim.cloud.touch_config(remote_id, {OVERRIDE: {"value": "1", "origin": "site-device"}})
    return synced(tenant)


def access_points(tenant, n=2):
    points = list(Device.objects.filter(tenant=tenant, provider="eccloud", status="online").order_by("pk")[:n])
    assert len(points) == n
    return points


def effective(ecsim, remote_id) -> dict:
    current = ecsim.cloud.config_changes(remote_id)
    return {k: v["value"] for k, v in merge(current["site"], current["device"]).items()}


def radios(page: str) -> dict[str, bool]:
    """The kind radios of step 2: value -> disabled."""
    found = {}
    for tag in re.findall(r'<input type="radio" name="kind"[^>]*>', page):
        found[re.search(r'value="([^"]+)"', tag).group(1)] = " disabled" in tag
    return found


def wizard_data(devices, rows, **extra):
    keys, values, ops = zip(*rows)
    return {"devices": [d.pk for d in devices], "kind": "config_push", "change_key": list(keys),
            "change_value": list(values), "change_op": list(ops), "when": "now", "rollout": "", **extra}


def test_wizard_pushes_config_to_access_points(mixed, ecsim):
    tenant = mixed
    first, second = access_points(tenant)
    router = Router.objects.filter(tenant=tenant, deleted_at__isnull=True).first()
    client = login(make_user(tenant=tenant, role=Role.ADMIN))

    # Step 1 lists the routers and the access points side by side.
    page = body(client.get(f"/t/{tenant.pk}/jobs/new/"))
    assert f'id="pick-{router.pk}"' in page
    assert f'id="pick-device-{first.pk}"' in page and f'id="pick-device-{second.pk}"' in page
    assert 'id="change-rows"' in page

    rows = [("radio/r5/channel", "161", "set"), ("hotspot/landingURL", "https://portal.example", "set"),
            (OVERRIDE, "", "remove"), ("", "", "set")]
    preview = client.post(f"/t/{tenant.pk}/jobs/new/", wizard_data([first, second], rows, step="preview"))
    assert preview.status_code == 200, body(preview)
    shown = body(preview)[body(preview).index('id="job-preview"'):]
    assert 'id="device-preview"' in shown
    for device in (first, second):
        assert f'data-device="{device.pk}"' in shown
    assert 'data-key="radio/r5/channel"' in shown and 'data-key="hotspot/landingURL"' in shown
    assert f'data-key="{OVERRIDE}"' in shown  # the override goes: the site's "0" comes back
    assert "data-predicted-errors" not in shown
    back = re.search(r'id="wizard-back" href="([^"]+)"', shown).group(1).replace("&amp;", "&")
    again = body(client.get(back))  # Back: the devices and the rows are still there
    assert re.search(rf'id="pick-device-{first.pk}"[^>]*checked', again)
    assert 'value="radio/r5/channel"' in again and re.search(r'<option value="remove" selected>', again)
    assert ecsim.writes() == []  # a preview sends nothing
    assert not Job.objects.filter(tenant=tenant).exists()

    done = client.post(f"/t/{tenant.pk}/jobs/new/", wizard_data([first, second], rows, step="confirm"))
    assert done.status_code == 302, body(done)
    job = Job.objects.get(tenant=tenant)
    assert done["Location"] == f"/t/{tenant.pk}/jobs/{job.pk}/"
    assert job.kind == "config_push" and job.target_device_ids == [first.pk, second.pk]
    assert job.target_router_ids == [] and job.target_group_ids == []
    assert job.parameters == {"changes": {"radio/r5/channel": "161", "hotspot/landingURL": "https://portal.example",
                                          OVERRIDE: None}}

    job = drain(job)
    assert job.status == JobStatus.SUCCEEDED, list(job.items.values("status", "error"))
    for item in job.items.select_related("device"):
        assert item.device_id in (first.pk, second.pk) and item.status == ItemStatus.SUCCEEDED
        assert item.result["applied"] is True
        config = effective(ecsim, item.device.remote_id)
        assert config["radio/r5/channel"] == "161" and config["hotspot/landingURL"] == "https://portal.example"
        assert config[OVERRIDE] == "0"  # the site's value again
        assert ecsim.cloud.config_changes(item.device.remote_id)["device"].get(OVERRIDE, {}).get("origin") != "site-device"
        assert len(ecsim.writes(item.device.remote_id)) == 1

    # The job page names the access points and their outcome.
    page = body(client.get(f"/t/{tenant.pk}/jobs/{job.pk}/"))
    items = page[page.index('id="job-items"'):]
    for device in (first, second):
        assert f'data-device="{device.pk}"' in items and (device.name or device.remote_id) in items
    assert items.count('data-status="succeeded"') == 2 and "the device applied them" in items


def test_wizard_offers_only_config_push_for_access_points(mixed, ecsim):
    tenant = mixed
    (point,) = access_points(tenant, 1)
    router = Router.objects.filter(tenant=tenant, deleted_at__isnull=True).first()
    client = login(make_user(tenant=tenant, role=Role.ADMIN))

    # Routers only: every kind. Access points chosen (alone or with routers): config push only, saying why.
    assert radios(body(client.get(f"/t/{tenant.pk}/jobs/new/", {"routers": [router.pk]}))) == {
        "reboot": False, "speed_test": False, "config_push": False, "firmware_upgrade": False}
    for picked in ({"devices": [point.pk]}, {"devices": [point.pk], "routers": [router.pk]}):
        page = body(client.get(f"/t/{tenant.pk}/jobs/new/", picked))
        assert radios(page) == {"reboot": True, "speed_test": True, "config_push": False, "firmware_upgrade": True}
        reasons = page[page.index('id="kind-reasons"'):page.index("</ul>", page.index('id="kind-reasons"'))]
        assert 'data-reason-for="reboot"' in reasons and "IgniteNet ecCloud has no reboot" in reasons
        assert "IgniteNet ecCloud has no speed test" in reasons

    # Posted anyway: refused, naming the action; nothing created, nothing sent.
    for kind in ("reboot", "speed_test"):
        for step in ("preview", "confirm"):
            r = client.post(f"/t/{tenant.pk}/jobs/new/", {"devices": [point.pk], "kind": kind, "step": step, "when": "now"})
            assert r.status_code == 400
            assert f"IgniteNet ecCloud has no {kind.replace('_', ' ')}" in body(r)
    assert not Job.objects.filter(tenant=tenant).exists() and ecsim.writes() == []

    # Bad changes are the service's 400s: a value without a key, and no change at all.
    r = client.post(f"/t/{tenant.pk}/jobs/new/", wizard_data([point], [("", "x", "set")], step="preview"))
    assert r.status_code == 400 and "a value without a key" in body(r)
    r = client.post(f"/t/{tenant.pk}/jobs/new/", wizard_data([point], [("not a key!", "1", "set")], step="confirm"))
    assert r.status_code == 400 and "is not an ecCloud configuration key" in body(r)
    assert not Job.objects.filter(tenant=tenant).exists()


def test_the_search_box_narrows_the_access_points_and_keeps_the_chosen_ones(mixed):
    tenant = mixed
    first, second = access_points(tenant, 2)
    client = login(make_user(tenant=tenant, role=Role.ADMIN))
    page = body(client.get(f"/t/{tenant.pk}/jobs/new/", {"q": second.name, "devices": [first.pk]}))
    listed = set(re.findall(r'id="pick-device-(\d+)"', page))
    assert listed == {str(second.pk)}
    assert f'name="devices" value="{first.pk}" data-vendor="eccloud" data-kept="1"' in page  # still chosen
    page = body(client.get(f"/t/{tenant.pk}/jobs/new/", {"q": second.mac.lower()}))
    assert set(re.findall(r'id="pick-device-(\d+)"', page)) == {str(second.pk)}


def test_mixed_config_push_goes_to_routers_and_access_points(mixed, ecsim):
    tenant = mixed
    (point,) = access_points(tenant, 1)
    router = Router.objects.filter(tenant=tenant, deleted_at__isnull=True).first()
    client = login(make_user(tenant=tenant, role=Role.ADMIN))
    data = wizard_data([point], [("radio/r5/channel", "149", "set")], routers=[router.pk], mode="patch",
                       diff='[{"system": {"system_id": "store-9"}}, []]')
    preview = client.post(f"/t/{tenant.pk}/jobs/new/", {**data, "step": "preview"})
    assert preview.status_code == 200, body(preview)
    shown = body(preview)[body(preview).index('id="job-preview"'):]
    assert f'data-device="{point.pk}"' in shown and "system.system_id" in shown
    assert client.post(f"/t/{tenant.pk}/jobs/new/", {**data, "step": "confirm"}).status_code == 302
    job = Job.objects.get(tenant=tenant)
    assert job.target_router_ids == [router.pk] and job.target_device_ids == [point.pk]
    assert job.parameters["changes"] == {"radio/r5/channel": "149"} and job.parameters["diff"][0] == {
        "system": {"system_id": "store-9"}}


def test_roles_without_config_push_cannot_push_to_access_points(mixed, ecsim):
    tenant = mixed
    (point,) = access_points(tenant, 1)
    data = wizard_data([point], [("radio/r5/channel", "149", "set")])
    # Read-only: no wizard at all, no push page, nothing created.
    viewer = login(make_user(tenant=tenant, role=Role.READ_ONLY))
    assert viewer.get(f"/t/{tenant.pk}/jobs/new/").status_code in (403, 404)
    for step in ("preview", "confirm"):
        assert viewer.post(f"/t/{tenant.pk}/jobs/new/", {**data, "step": step}).status_code in (403, 404)
    assert viewer.get(f"/t/{tenant.pk}/devices/push/").status_code in (403, 404)
    assert 'id="push-eccloud"' not in body(viewer.get(f"/t/{tenant.pk}/devices/"))
    # Diagnostic (speed tests only): the wizard, but no config push to offer or submit.
    diagnostic = login(make_user(tenant=tenant, role=Role.DIAGNOSTIC))
    page = body(diagnostic.get(f"/t/{tenant.pk}/jobs/new/", {"devices": [point.pk]}))
    assert "config_push" not in radios(page) and radios(page) == {"speed_test": True}
    assert 'data-kind="config_push"' not in page
    for step in ("preview", "confirm"):
        assert diagnostic.post(f"/t/{tenant.pk}/jobs/new/", {**data, "step": step}).status_code == 403
    assert not Job.objects.filter(tenant=tenant).exists() and ecsim.writes() == []


def test_the_push_page_leads_into_the_wizard(mixed):
    tenant = mixed
    (point,) = access_points(tenant, 1)
    client = login(make_user(tenant=tenant, role=Role.ADMIN))
    r = client.get(f"/t/{tenant.pk}/devices/push/", {"devices": [point.pk]})
    assert r.status_code == 302 and r["Location"] == f"/t/{tenant.pk}/jobs/new/?kind=config_push&devices={point.pk}"
    page = body(client.get(r["Location"]))
    assert re.search(rf'id="pick-device-{point.pk}"[^>]*checked', page)
    assert re.search(r'name="kind" value="config_push"[^>]*checked', page)
    detail = body(client.get(f"/t/{tenant.pk}/devices/{point.pk}/"))
    assert f"/t/{tenant.pk}/jobs/new/?kind=config_push&amp;devices={point.pk}" in detail


def test_the_search_box_narrows_the_routers_by_name_serial_or_mac(mixed):
    tenant = mixed
    routers = list(Router.objects.filter(tenant=tenant, deleted_at__isnull=True).order_by("pk")[:2])
    wanted = routers[1]
    client = login(make_user(tenant=tenant, role=Role.ADMIN))

    def listed(q):
        page = body(client.get(f"/t/{tenant.pk}/jobs/new/", {"q": q}))
        return set(re.findall(r'id="pick-(\d+)"', page))

    assert str(routers[0].pk) in listed("")
    for q in (wanted.serial_number.lower(), wanted.mac.upper(), f"{wanted.name} {wanted.serial_number}"):
        assert str(wanted.pk) in listed(q) and str(routers[0].pk) not in listed(q), q
    assert listed(f"{wanted.serial_number} no-such-router") == set()
