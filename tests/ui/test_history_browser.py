"""Browser test of the history charts (uPlot): sign in, click from the MSP overview (licence cards) to a tenant
and on to a router by following links, and find its signal, usage and uptime charts drawn on a canvas with
data, in light and dark mode. Data: a tenant synced from ncm_sim with 7 days of history and v3 licences."""
from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from tests.ui.test_browser import ARTIFACTS, CHROMIUM, browser, page, sign_in  # noqa: F401  (fixtures)

pytestmark = [
    pytest.mark.browser,
    pytest.mark.xdist_group("browser"),
    pytest.mark.skipif(not __import__("pathlib").Path(CHROMIUM).exists(),
                       reason="Debian's chromium is not installed (apt-get install -y chromium)"),
]


@pytest.fixture
def history_world(transactional_db):
    from accounts.models import Credential
    from accounts.roles import Role
    from accounts.services import credential_save
    from history.licences import sync_licences
    from history.services import collect_tenant
    from ncm_sim.testing import SimFleet
    from ncm_sync.services import sync_tenant
    from tests.factories import make_org, make_user
    from tests.fleet import sim_keys, tenant_on

    with SimFleet() as fleet:
        org = make_org("Northwind MSP")
        sim = fleet.start(routers=6, seed=41, keys=sim_keys("b41"), v3_token="tsecret-v3-browser-0123456789")
        tenant = tenant_on(sim, org, "Bakery Chain")
        credential_save(tenant=tenant, provider="ncm", base_url=sim.base_url, secrets_in={"api_token": sim.v3_token},
                        credential=Credential.objects.get(tenant=tenant))
        sync_tenant(tenant_id=tenant.pk)
        collect_tenant(tenant, days=7, max_calls=0)
        sync_licences(tenant)
        make_user("msp-tech", org=org, role=Role.FULL_ACCESS)
        yield {"tenant": tenant, "sim": sim}


def _points(pg, selector: str) -> int:
    pg.wait_for_selector(f"{selector}[data-points]")
    return int(pg.get_attribute(selector, "data-points") or 0)


def test_router_page_charts_reached_by_clicking(page, live_server, history_world):  # noqa: F811
    from history.models import Licence

    tenant = history_world["tenant"]
    sign_in(page, live_server.url, "msp-tech")
    page.wait_for_selector("#tenants-table")
    # MSP overview: licences expiring (30/60/90 days) and usage per tenant.
    now = timezone.now()
    within_30 = Licence.objects.filter(tenant=tenant, end_time__gt=now, end_time__lte=now + timedelta(days=30)).count()
    assert within_30 > 0 and page.inner_text("[data-key=licences-30] .value") == str(within_30)
    assert int(page.inner_text("[data-key=licences-90] .value")) > 0
    assert _points(page, "#chart-usage-tenants") == 1
    assert page.locator("#chart-usage-tenants canvas").count() == 1

    page.click("#tenants-table td[data-col=name] a:text-is('Bakery Chain')")
    page.wait_for_url(f"**/t/{tenant.pk}/")
    assert _points(page, "#chart-usage-months") >= 1
    page.click("#routers-table tbody tr[data-id] td[data-col=name] a >> nth=0")
    page.wait_for_url("**/routers/*/")
    for chart in ("#chart-signal", "#chart-usage", "#chart-uptime"):
        assert _points(page, chart) > 24, chart  # 7 days of hourly samples
        assert page.locator(f"{chart} canvas").count() == 1, chart
    # The canvas really has pixels drawn (not a blank box).
    drawn = page.eval_on_selector("#chart-signal canvas", """c => {
        const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
        let n = 0; for (let i = 3; i < d.length; i += 4) if (d[i] > 0) n++; return n; }""")
    assert drawn > 500
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "router-history.png"), full_page=True)
    # Dark mode re-draws the charts; 24 h range by clicking.
    page.click("#theme-toggle")
    page.wait_for_function("document.body.classList.contains('dark-mode')")
    assert _points(page, "#chart-signal") > 24
    page.screenshot(path=str(ARTIFACTS / "router-history-dark.png"), full_page=True)
    page.click("#history .range-links a[data-range='24h']")
    page.wait_for_url("**range=24h**")
    assert 0 < _points(page, "#chart-usage") <= 25
    # Table fallback.
    page.click("#history details summary")
    assert page.locator("#history-table tbody tr").count() >= 20
    page.click("#theme-toggle")
