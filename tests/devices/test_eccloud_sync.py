"""The ecCloud mirror against eccloud_sim: exact through creates, updates, moves and deletes; maintenance
deletes nothing; a mixed tenant (NCM + ecCloud) syncs both in one run and lists both in /api/v1/devices/."""
import pytest

from devices.models import Device, Site
from ncm_sync.services.runs import sync_tenant
from tests.fleet import tenant_on

from .helpers import eccloud_credential, eccloud_tenant

pytestmark = pytest.mark.django_db(transaction=True)


def live(model, tenant, **kw):
    return model.objects.filter(tenant=tenant, provider="eccloud", deleted_at__isnull=True, **kw)


def test_exact_mirror_through_creates_updates_moves_deletes(ecsim):
    tenant = eccloud_tenant(ecsim)
    run = sync_tenant(tenant_id=tenant.pk)
    assert run.status == "succeeded", run.error
    assert run.resources["eccloud_sites"]["created"] == 2 and run.resources["eccloud_devices"]["created"] == 6
    assert live(Site, tenant).count() == 2 and live(Device, tenant).count() == 6
    sim_devs = ecsim.cloud.devices
    for d in live(Device, tenant).select_related("site"):
        src = sim_devs[d.remote_id]
        assert (d.name, d.serial, d.mac, d.site.remote_id) == (src["name"], src["sn"], src["mac"], src["site_id"])
        assert d.status == {"STATUS_ONLINE": "online", "STATUS_OFFLINE": "offline"}[src["status_id"]]
        assert d.vendor == src and len(d.vendor) == 18

    # An unchanged resync writes nothing.
    before = {d.pk: d.last_seen_at for d in live(Device, tenant)}
    run = sync_tenant(tenant_id=tenant.pk)
    assert run.resources["eccloud_devices"] | {"api_calls": 0} == {
        "fetched": 6, "created": 0, "updated": 0, "unchanged": 6, "deleted": 0, "api_calls": 0}
    assert {d.pk: d.last_seen_at for d in live(Device, tenant)} == before

    # Create, update, move, delete.
    sites = list(ecsim.cloud.sites)
    ids = list(sim_devs)
    new = ecsim.cloud.create_device(site_id=sites[0], name="AP new")
    ecsim.cloud.update_device(ids[0], name="AP renamed", status_id="STATUS_OFFLINE")
    ecsim.cloud.update_device(ids[1], site_id=sites[1])
    ecsim.cloud.delete_device(ids[2])
    run = sync_tenant(tenant_id=tenant.pk)
    figures = run.resources["eccloud_devices"]
    assert (figures["created"], figures["updated"], figures["deleted"], figures["unchanged"]) == (1, 2, 1, 3)
    assert live(Device, tenant).get(remote_id=new["id"]).name == "AP new"
    renamed = live(Device, tenant).get(remote_id=ids[0])
    assert (renamed.name, renamed.status) == ("AP renamed", "offline")
    assert live(Device, tenant).get(remote_id=ids[1]).site.remote_id == sites[1]
    gone = Device.objects.get(tenant=tenant, remote_id=ids[2])
    assert gone.deleted_at is not None

    # Deleting a site tombstones it and its devices.
    ecsim.cloud.delete_site(sites[1])
    run = sync_tenant(tenant_id=tenant.pk)
    assert run.resources["eccloud_sites"]["deleted"] == 1
    assert not live(Device, tenant, site__remote_id=sites[1]).exists()
    assert live(Site, tenant).count() == 1


def test_maintenance_fails_the_sync_saying_so_and_deletes_nothing(ecsim):
    tenant = eccloud_tenant(ecsim)
    assert sync_tenant(tenant_id=tenant.pk).status == "succeeded"
    ecsim.set_maintenance(True)
    run = sync_tenant(tenant_id=tenant.pk)
    assert run.status == "failed" and "maintenance" in run.error and "deleted nothing" in run.error
    tenant.refresh_from_db()
    assert tenant.sync_status == "failed" and "maintenance" in tenant.sync_error
    assert live(Device, tenant).count() == 6 and live(Site, tenant).count() == 2


def test_a_listing_failing_midway_deletes_nothing(ecsim):
    tenant = eccloud_tenant(ecsim)
    sync_tenant(tenant_id=tenant.pk)
    ecsim.cloud.delete_device(next(iter(ecsim.cloud.devices)))
    ecsim.fail_next(count=10, status=502, endpoint="GET /sites/")  # the second listing fails after its retries
    run = sync_tenant(tenant_id=tenant.pk)
    assert run.status == "failed"
    assert live(Device, tenant).count() == 6


def test_bad_key_fails_saying_so(ecsim):
    from accounts.models import Credential
    from accounts.services import credential_save

    tenant = eccloud_tenant(ecsim)
    credential_save(tenant=tenant, provider="eccloud", base_url=ecsim.base_url,
                    secrets_in={"api_key": "tsecret-wrong-0123456789"},
                    credential=Credential.objects.get(tenant=tenant, provider="eccloud"))
    run = sync_tenant(tenant_id=tenant.pk)
    assert run.status == "failed" and "401" in run.error


def test_mixed_tenant_syncs_both_vendors_in_one_run(ecsim, sims, operator, client_for):
    ncm = sims.start(routers=4, seed=3)
    tenant = tenant_on(ncm)
    eccloud_credential(tenant, ecsim)
    client = client_for(operator)
    answer = client.post(f"/api/v1/tenants/{tenant.pk}/sync/")
    assert answer.status_code == 202, answer.content
    run = sync_tenant(tenant_id=tenant.pk, run_id=answer.json()["id"])
    assert run.status == "succeeded", run.error
    listing = client.get(f"/api/v1/devices/?tenant={tenant.pk}&limit=100").json()
    providers = sorted(d["provider"] for d in listing["results"])
    assert providers.count("ncm") == 4 and providers.count("eccloud") == 6
    ncm_row = next(d for d in listing["results"] if d["provider"] == "ncm")
    assert ncm_row["router"] and ncm_row["group"] is not None or ncm_row["site"] is None
    only_ec = client.get(f"/api/v1/devices/?tenant={tenant.pk}&provider=eccloud").json()
    assert only_ec["count"] == 6
    assert client.get(f"/api/v1/sites/?tenant={tenant.pk}").json()["count"] == 2
