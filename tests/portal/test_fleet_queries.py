"""Pages and lists cost the same number of queries for a small MSP and one with many more tenants, routers, jobs
and alerts (issue 18: no per-tenant loop, no per-row query): each URL is counted at two fleet sizes."""
from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from accounts.roles import Role
from devices.services.sync import project_ncm_routers
from jobs.models import Job, JobItem
from ncm_sync.models import Router, SyncRun
from tests.factories import make_credential, make_org, make_tenant, make_user
from tests.fleet import make_fleet, mirror_rows
from tests.ui.test_pages import login

pytestmark = pytest.mark.django_db

PAGES = ["/", "/?offline=1", "/?q=zz", "/?stale=1", "/t/{t}/", "/t/{t}/cellular/", "/t/{t}/alerts/", "/t/{t}/jobs/",
         "/t/{t}/sync/", "/t/{t}/routers/{r}/", "/?vendor=eccloud", "/t/{t}/devices/", "/t/{t}/devices/?vendor=ncm"]
API = ["/api/v1/jobs/", "/api/v1/job-items/", "/api/v1/tenants/", "/api/v1/sync-runs/", "/api/v1/alerts/counts/",
       "/api/v1/routers/?state=offline", "/api/v1/routers/?search=alpha", "/api/v1/net-devices/?search=mdm",
       "/api/v1/alerts/?tenant={t}", "/api/v1/webhook-deliveries/", "/api/v1/devices/", "/api/v1/sites/"]


def _add_tenants(org, count: int, prefix: str):
    """`count` tenants of `org`, each with a fleet (routers, modems, health, alerts), routers in bulk, a job with
    items, a credential and a sync run."""
    tenants = []
    for i in range(count):
        tenant = make_tenant(org)
        make_credential(tenant)
        routers = make_fleet(tenant, prefix=f"{prefix}{i}", base=10_000 * (len(tenants) + 1) + i * 100)
        mirror_rows(Router, tenant, 6, name=f"{prefix}{i}-bulk", state="offline")
        project_ncm_routers(tenant_id=tenant.pk)  # every vendor's devices (devices app)
        job = Job.objects.create(tenant=tenant, kind="reboot", status="running", counts={"total": len(routers)})
        JobItem.objects.bulk_create([JobItem(job=job, tenant=tenant, router=r, status="succeeded") for r in routers])
        SyncRun.objects.create(tenant=tenant, status="succeeded", started_at=timezone.now(), finished_at=timezone.now())
        tenants.append(tenant)
    return tenants


def _counts(get, urls, tenant, router) -> dict[str, int]:
    out = {}
    for url in urls:
        url = url.format(t=tenant.pk, r=router.pk)
        with CaptureQueriesContext(connection) as ctx:
            response = get(url)
        assert response.status_code == 200, (url, response.status_code)
        out[url] = len(ctx.captured_queries)
    return out


def test_pages_and_lists_cost_the_same_queries_at_two_fleet_sizes(client_for):
    org = make_org()
    first = _add_tenants(org, 2, "a")
    tenant = first[0]
    router = Router.objects.filter(tenant=tenant).first()
    user = make_user(org=org, role=Role.ADMIN)
    browser = login(user)
    api = client_for(user)
    api.get("/api/v1/routers/")  # the token's first use of the minute writes last_used_at

    def api_get(url):
        return api.get(url + ("&" if "?" in url else "?") + "limit=1000")

    small = {**_counts(browser.get, PAGES, tenant, router), **_counts(api_get, API, tenant, router)}
    _add_tenants(org, 8, "b")  # five times the tenants, routers, jobs, items and alerts
    large = {**_counts(browser.get, PAGES, tenant, router), **_counts(api_get, API, tenant, router)}
    grown = {url: (small[url], large[url]) for url in small if large[url] != small[url]}
    assert not grown, grown


def test_stale_filter_in_sql_agrees_with_is_stale():
    from datetime import timedelta

    from accounts.models import Tenant
    from ui.selectors import is_stale, stale_q

    org = make_org()
    now = timezone.now()
    cases = [(None, 15), (now - timedelta(minutes=34), 15), (now - timedelta(minutes=36), 15),
             (now - timedelta(minutes=100), 60), (now - timedelta(minutes=130), 60)]
    for last, interval in cases:
        make_tenant(org, last_synced_at=last, sync_interval_minutes=interval)
    tenants = Tenant.objects.filter(organization=org)
    expected = {t.pk for t in tenants if is_stale(t)}
    assert set(tenants.filter(stale_q()).values_list("pk", flat=True)) == expected
    assert len(expected) == 3  # never synced, 36 min on 15, 130 min on 60
    user = make_user(org=org, role=Role.READ_ONLY)
    page = login(user).get("/", {"stale": "1"}).content.decode()
    assert page.count('title="No successful sync for over two intervals"') == 3
