"""Pages: every vendor's devices side by side (vendor column and filter), the ecCloud device page with merged
configuration and origins, sites, and the ecCloud config push (preview, then a job)."""
import pytest

from accounts.roles import Role
from devices.models import Device
from jobs.models import Job
from ncm_sync.services.runs import sync_tenant
from tests.fleet import tenant_on
from tests.factories import make_user
from tests.ui.test_pages import body, login, region

from .helpers import eccloud_credential

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def mixed(ecsim, sims):
    tenant = tenant_on(sims.start(routers=3, seed=9))
    eccloud_credential(tenant, ecsim)
    assert sync_tenant(tenant_id=tenant.pk).status == "succeeded"
    return tenant


def admin_of(tenant):
    return make_user(tenant=tenant, role=Role.ADMIN)


def test_devices_page_lists_both_vendors_with_filter(mixed):
    client = login(admin_of(mixed))
    table = region(body(client.get(f"/t/{mixed.pk}/devices/")), "devices-table")
    assert 'data-vendor="ncm"' in table and 'data-vendor="eccloud"' in table
    only = region(body(client.get(f"/t/{mixed.pk}/devices/", {"vendor": "eccloud"})), "devices-table")
    assert 'data-vendor="ncm"' not in only and 'data-vendor="eccloud"' in only
    assert "ecCloud sites" in body(client.get(f"/t/{mixed.pk}/devices/"))


def test_eccloud_device_page_shows_origins(mixed):
    device = Device.objects.filter(tenant=mixed, provider="eccloud").first()
    page = body(login(admin_of(mixed)).get(f"/t/{mixed.pk}/devices/{device.pk}/"))
    config = region(page, "config-table")
    assert 'data-origin="site"' in config and 'data-origin="site-device"' in config and 'data-origin="device"' in config
    ncm = Device.objects.filter(tenant=mixed, provider="ncm").first()
    assert login(admin_of(mixed)).get(f"/t/{mixed.pk}/devices/{ncm.pk}/").status_code == 302  # the router page


def test_push_from_the_page_previews_then_creates_a_job(mixed, ecsim):
    device = Device.objects.filter(tenant=mixed, provider="eccloud").first()
    client = login(admin_of(mixed))
    data = {"devices": [device.pk], "changes": "radio/r5/channel = 149\nhotspot/landingURL = https://x.example"}
    preview = client.post(f"/t/{mixed.pk}/devices/push/", {**data, "step": "preview"})
    assert preview.status_code == 200 and "radio/r5/channel" in region(body(preview), "preview")
    assert ecsim.writes() == []
    done = client.post(f"/t/{mixed.pk}/devices/push/", {**data, "step": "confirm"})
    assert done.status_code == 302
    job = Job.objects.get(tenant=mixed)
    assert job.target_device_ids == [device.pk] and job.parameters == {"changes": {
        "radio/r5/channel": "149", "hotspot/landingURL": "https://x.example"}}


def test_msp_overview_has_a_vendor_column_and_filter(mixed, ecsim):
    from tests.factories import make_tenant

    only_ncm = make_tenant(mixed.organization)
    client = login(make_user(org=mixed.organization, role=Role.READ_ONLY))
    rows = region(body(client.get("/")), "tenants-table")
    assert 'data-vendors="Cradlepoint + IgniteNet"' in rows
    filtered = region(body(client.get("/", {"vendor": "eccloud"})), "tenants-table")
    assert mixed.name in filtered and only_ncm.name not in filtered


def test_eccloud_credential_page_saves_a_write_only_key(ecsim):
    from accounts.models import Credential
    from accounts.services import credential_secrets
    from tests.factories import make_org, make_tenant

    tenant = make_tenant(make_org())
    client = login(make_user(tenant=tenant, role=Role.ADMIN))
    r = client.post(f"/t/{tenant.pk}/credentials/eccloud/", {"base_url": ecsim.base_url, "api_key": "tsecret-ui-key-0123456789"})
    assert r.status_code == 302
    cred = Credential.objects.get(tenant=tenant, provider="eccloud")
    assert credential_secrets(cred)["api_key"] == "tsecret-ui-key-0123456789"
    page = body(client.get(f"/t/{tenant.pk}/credentials/eccloud/"))
    assert "tsecret-ui-key" not in page and "••••6789" in page
    bad = client.post(f"/t/{tenant.pk}/credentials/eccloud/", {"base_url": "https://evil.example/pub/v1", "api_key": "x" * 12})
    assert bad.status_code == 400 and "ECCLOUD_ALLOWED_BASE_URLS" in body(bad)
    viewer = login(make_user(tenant=tenant, role=Role.READ_ONLY))
    assert viewer.get(f"/t/{tenant.pk}/credentials/eccloud/").status_code in (403, 404)


def test_tenant_dashboard_shows_the_other_vendor(mixed):
    page = body(login(admin_of(mixed)).get(f"/t/{mixed.pk}/"))
    assert 'data-card="eccloud-devices"' in page and "IgniteNet devices" in page
