"""Browser tests that click as a person does: sign in, then only follow links and buttons (no `goto` past the
first page). Issue 13 items 0 (row links navigate), 2 (sync page refreshes by itself), 12 (customers land on
their tenant), 17 (human times), 18 (columns, phone menu) and 19 (portal error pages). Screenshots at 1440×900
and 390×844 go to test-artifacts/screenshots/.
"""
from __future__ import annotations

import re

import pytest

from accounts.roles import Role
from tests.factories import make_user
from tests.ui.test_browser import ARTIFACTS, CHROMIUM, browser, sign_in, sim_world  # noqa: F401  (fixtures)

pytestmark = [
    pytest.mark.browser,
    pytest.mark.xdist_group("browser"),
    pytest.mark.skipif(not __import__("pathlib").Path(CHROMIUM).exists(),
                       reason="Debian's chromium is not installed (apt-get install -y chromium)"),
]

DESKTOP = {"width": 1440, "height": 900}
PHONE = {"width": 390, "height": 844}
ISO = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d")


def _page(browser, viewport):  # noqa: F811
    context = browser.new_context(viewport=viewport, accept_downloads=True)
    pg = context.new_page()
    pg.set_default_timeout(15000)
    return context, pg


@pytest.fixture
def desktop(browser):  # noqa: F811
    context, pg = _page(browser, DESKTOP)
    yield pg
    context.close()


@pytest.fixture
def phone(browser):  # noqa: F811
    context, pg = _page(browser, PHONE)
    yield pg
    context.close()


def shot(pg, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    pg.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def main_text(pg) -> str:
    return pg.inner_text("main")


def no_horizontal_scroll(pg, selector: str) -> bool:
    return pg.eval_on_selector(selector, "el => el.scrollWidth <= el.clientWidth + 1")


def test_overview_to_tenant_to_router_and_back_by_clicking(desktop, live_server, sim_world):
    """Item 0: a row's link opens that page (it is not swapped into the table); sorting still updates in place."""
    from ncm_sync.models import Router

    pg, bakery = desktop, sim_world["bakery"]
    sign_in(pg, live_server.url, "msp-tech")
    pg.wait_for_selector("#tenants-table")
    shot(pg, "overview-1440")
    assert no_horizontal_scroll(pg, "#tenants-table .table-wrap"), "the overview table scrolls sideways at 1440 px"
    assert not ISO.search(main_text(pg)), "a raw ISO timestamp is shown on the overview"

    pg.click("#tenants-table td[data-col=name] a:text-is('Bakery Chain')")
    pg.wait_for_url(f"**/t/{bakery.pk}/")
    pg.wait_for_selector("#routers-table tbody tr[data-id]")
    assert pg.inner_text("main h1") == "Routers"
    assert "Bakery Chain" in pg.inner_text("main .subtitle")
    assert pg.locator("#tenants-table").count() == 0
    total = Router.objects.filter(tenant=bakery, deleted_at__isnull=True).count()
    assert pg.inner_text("#routers-table [data-total]") == str(total)
    assert no_horizontal_scroll(pg, "#routers-table .table-wrap"), "the routers table scrolls sideways at 1440 px"
    shot(pg, "tenant-dashboard-1440")

    # Sorting is a table control: it updates the region in place (and the URL).
    pg.click("#routers-table th[data-col=name] a")
    pg.wait_for_selector("#routers-table th[data-col=name][aria-sort=descending]")  # the default is ascending
    assert "sort=" in pg.url and pg.locator("#stat-cards").count() == 1

    first = pg.locator("#routers-table td[data-col=name] a").first
    name = first.inner_text()
    first.click()
    pg.wait_for_selector("#configuration")
    router = Router.objects.get(tenant=bakery, name=name)
    assert re.search(rf"/t/{bakery.pk}/routers/{router.pk}/$", pg.url)
    assert pg.inner_text("main h1").startswith(name)
    assert pg.locator("#routers-table").count() == 0
    assert not ISO.search(main_text(pg)), "a raw ISO timestamp is shown on the router page"
    shot(pg, "router-detail-1440")

    pg.go_back()
    pg.wait_for_selector("#routers-table tbody tr[data-id]")
    assert pg.inner_text("main h1") == "Routers" and "sort=" in pg.url
    pg.go_back()
    pg.wait_for_selector("#routers-table tbody tr[data-id]")
    pg.go_back()
    pg.wait_for_selector("#tenants-table tbody tr")
    assert "Bakery Chain" in pg.inner_text("#tenants-table")

    # The breadcrumb and the sidebar are links too.
    pg.click("#tenants-table td[data-col=name] a:text-is('City Clinic')")
    pg.wait_for_selector("#routers-table tbody tr[data-id]")
    pg.click("nav.sidebar a:text-is('Cellular health')")
    pg.wait_for_selector("#modems-table")
    assert no_horizontal_scroll(pg, "#modems-table .table-wrap"), "the cellular table scrolls sideways at 1440 px"
    pg.locator("#modems-table td[data-col=device] a").first.click()
    pg.wait_for_selector("#configuration")


def test_phone_layout_collapses_the_sidebar(phone, live_server, sim_world):
    """Item 18 on a phone: the sidebar is behind a menu button; screenshots at 390×844."""
    pg = phone
    sign_in(pg, live_server.url, "msp-tech")
    pg.wait_for_selector("#tenants-table")
    assert not pg.is_visible("nav.sidebar")
    assert pg.is_visible("#menu-toggle")
    shot(pg, "overview-390")
    pg.click("#menu-toggle")
    pg.wait_for_selector("nav.sidebar", state="visible")
    assert pg.get_attribute("#menu-toggle", "aria-expanded") == "true"
    pg.click("#menu-toggle")
    pg.wait_for_selector("nav.sidebar", state="hidden")
    pg.click("#tenants-table td[data-col=name] a:text-is('Bakery Chain')")
    pg.wait_for_selector("#routers-table tbody tr[data-id]")
    shot(pg, "tenant-dashboard-390")
    pg.locator("#routers-table td[data-col=name] a").first.click()
    pg.wait_for_selector("#configuration")
    shot(pg, "router-detail-390")
    # Page content never makes the whole page scroll sideways on a phone (tables scroll inside their frame).
    assert pg.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1")


def test_people_choose_the_columns_they_see(desktop, live_server, sim_world):
    """Item 18: a column hidden in "Columns" stays hidden after sorting and after a reload; it can come back."""
    pg = desktop
    sign_in(pg, live_server.url, "msp-tech")
    pg.wait_for_selector("#tenants-table")
    pg.click("#tenants-table td[data-col=name] a:text-is('Bakery Chain')")
    pg.wait_for_selector("#routers-table tbody tr[data-id]")
    assert pg.is_visible("#routers-table th[data-col=product]")
    pg.click("#routers-table details.columns-menu summary")
    pg.uncheck("#routers-table input[data-col-toggle=product]")
    assert not pg.is_visible("#routers-table th[data-col=product]")
    assert not pg.is_visible("#routers-table td[data-col=product] >> nth=0")
    pg.click("#routers-table th[data-col=state] a")
    pg.wait_for_selector("#routers-table th[data-col=state][aria-sort]")
    assert not pg.is_visible("#routers-table th[data-col=product]")
    pg.reload()
    pg.wait_for_selector("#routers-table tbody tr[data-id]")
    assert not pg.is_visible("#routers-table th[data-col=product]")
    # A column hidden by default (priority 3) can be shown.
    assert not pg.is_visible("#routers-table th[data-col=ncm_id]")
    pg.click("#routers-table details.columns-menu summary")
    pg.check("#routers-table input[data-col-toggle=ncm_id]")
    assert pg.is_visible("#routers-table th[data-col=ncm_id]")
    pg.click("#routers-table [data-col-reset]")
    assert pg.is_visible("#routers-table th[data-col=product]")
    assert not pg.is_visible("#routers-table th[data-col=ncm_id]")


def test_customer_lands_on_their_tenant_without_msp_wording(desktop, live_server, sim_world):
    """Item 12: a one-tenant customer signs in straight to that tenant's dashboard; nothing says MSP."""
    pg, bakery = desktop, sim_world["bakery"]
    sign_in(pg, live_server.url, "bakery-viewer")
    pg.wait_for_url(f"**/t/{bakery.pk}/")
    pg.wait_for_selector("#routers-table tbody tr[data-id]")
    assert "MSP" not in pg.inner_text("body")
    assert "MSP" not in pg.title()
    assert "Northwind" not in pg.inner_text("body")  # the MSP's own name is the MSP's business
    assert pg.locator("#sync-now").count() == 0
    # The brand link leads back to the same dashboard, not to an MSP overview.
    pg.click("header a.brand")
    pg.wait_for_url(f"**/t/{bakery.pk}/")
    pg.wait_for_selector("#routers-table")
    assert "MSP" not in pg.inner_text("body")
    shot(pg, "customer-dashboard-1440")


def test_customer_with_two_tenants_sees_their_tenants_not_an_msp_overview(desktop, live_server, sim_world):
    """Item 12: a customer with several tenants gets a list of them, worded for a customer."""
    from accounts.models import Membership

    user = make_user("chain-owner", tenant=sim_world["bakery"], role=Role.READ_ONLY)
    Membership.objects.create(user=user, tenant=sim_world["clinic"], role=Role.READ_ONLY)
    pg = desktop
    sign_in(pg, live_server.url, "chain-owner")
    pg.wait_for_selector("#tenants-table")
    assert pg.locator("#tenants-table tbody tr").count() == 2
    assert "MSP" not in pg.inner_text("body")
    assert pg.inner_text("main h1") == "Your tenants"


def test_error_pages_are_portal_pages_with_a_way_back(desktop, live_server, sim_world, settings):
    """Item 19: 403 and 404 are portal pages (also with DEBUG on, as in the demo), with links back."""
    pg, base = desktop, live_server.url
    sign_in(pg, base, "bakery-viewer")
    pg.wait_for_selector("#routers-table")
    # 403: a read-only customer posts "Sync now" through a stale form (the server refuses).
    pg.evaluate(f"""() => {{
        const f = document.createElement('form'); f.method = 'post'; f.action = '/t/{sim_world['bakery'].pk}/sync/now/';
        const t = document.createElement('input'); t.type = 'hidden'; t.name = 'csrfmiddlewaretoken';
        t.value = document.cookie.match(/csrftoken=([^;]+)/)[1]; f.appendChild(t); document.body.appendChild(f); f.submit();
    }}""")
    pg.wait_for_selector("main .error-page[data-status='403']")
    assert "not allowed" in pg.inner_text("main").lower() or "does not allow" in pg.inner_text("main").lower()
    assert pg.locator("nav.sidebar").count() == 1
    shot(pg, "error-403")
    pg.click("main .error-page a.btn.primary")
    pg.wait_for_selector("#routers-table")

    # 404 under DEBUG=1: another tenant's page, reached from a link (the page's URL edited by hand).
    settings.DEBUG = True
    for path in (f"/t/{sim_world['clinic'].pk}/", "/no/such/page/"):
        pg.evaluate(f"""() => {{ const a = document.createElement('a'); a.href = '{path}'; a.id = 'handmade';
            a.textContent = 'x'; document.querySelector('main').appendChild(a); }}""")
        with pg.expect_navigation() as nav:
            pg.click("#handmade")
        assert nav.value.status == 404
        pg.wait_for_selector("main .error-page[data-status='404']")
        text = pg.inner_text("body")
        assert "Page not found" in text and "URLconf" not in text and "Django" not in text
        assert "City Clinic" not in text
        shot(pg, "error-404")
        pg.click("main .error-page a.btn.primary")
        pg.wait_for_selector("#routers-table")


def test_sync_page_refreshes_when_the_run_finishes(desktop, live_server, sim_world, monkeypatch):
    """Item 2: after "Sync now" the page follows the run and shows it finished without a reload."""
    from ncm_sync.models import SyncRun
    from ncm_sync.services import runs, sync_tenant

    queued = []
    monkeypatch.setattr(runs, "_enqueue", lambda run: queued.append(run.pk))  # we are the worker here
    pg, bakery = desktop, sim_world["bakery"]
    sign_in(pg, live_server.url, "msp-tech")
    pg.wait_for_selector("#tenants-table")
    pg.click("#tenants-table td[data-col=name] a:text-is('Bakery Chain')")
    pg.wait_for_selector("#routers-table")
    pg.click("nav.sidebar a:text-is('Sync')")
    pg.wait_for_selector("#sync-runs-table")
    before = pg.inner_text("#sync-runs-table [data-total]")
    pg.click("#sync-now")
    pg.wait_for_selector("#sync-active[data-status=queued]")
    assert queued, "Sync now queued nothing"
    run = SyncRun.objects.get(pk=queued[0])
    assert pg.locator(f"#sync-runs-table tr[data-id='{run.pk}']").count() == 1
    assert "Queued" in pg.inner_text(f"#sync-runs-table tr[data-id='{run.pk}']")
    url = pg.url
    sync_tenant(tenant_id=bakery.pk, run_id=run.pk)
    run.refresh_from_db()
    assert run.status == "succeeded"
    pg.wait_for_selector("#sync-active[data-status=succeeded]", timeout=10000)
    row = pg.inner_text(f"#sync-runs-table tr[data-id='{run.pk}']")
    assert "Succeeded" in row and "Queued" not in row
    assert "synced just now" in pg.inner_text("main .subtitle")
    assert int(pg.inner_text("#sync-runs-table [data-total]")) == int(before) + 1
    assert pg.url == url  # no reload, no navigation
    # Polling stops once the run is over.
    assert pg.get_attribute("#sync-active", "hx-trigger") is None
    shot(pg, "sync-finished-1440")


def test_a_first_sync_is_announced_and_the_pages_fill_in_when_it_finishes(desktop, live_server, sim_world, monkeypatch):
    """Item 3: a tenant whose first sync is queued says so (not just zeros and "never synced"), and the overview
    and its dashboard fill in by themselves when the sync finishes."""
    from ncm_sync.models import Router
    from ncm_sync.services import runs, sync_tenant
    from tests.fleet import tenant_on

    monkeypatch.setattr(runs, "_enqueue", lambda run: None)  # we are the worker here
    newcomer = tenant_on(sim_world["fleet"].start(routers=5, seed=3), sim_world["org"], "New Customer")
    run, created = runs.request_sync(tenant=newcomer)
    assert created
    pg = desktop
    sign_in(pg, live_server.url, "msp-tech")
    pg.wait_for_selector("#first-sync[data-pending='1']")
    assert "first sync from NCM is on its way for 1 tenant" in pg.inner_text("#first-sync")
    row = pg.locator("#tenants-table tbody tr", has_text="New Customer")
    assert "first sync on its way" in row.inner_text()
    shot(pg, "overview-first-sync-1440")

    pg.click("#tenants-table td[data-col=name] a:text-is('New Customer')")
    pg.wait_for_selector("#routers-table")
    assert "first sync on its way" in pg.inner_text("#tenant-subtitle")
    assert "The first sync from NCM is on its way" in pg.inner_text("#first-sync")
    assert pg.inner_text("#routers-table [data-total]") == "0"
    url = pg.url

    sync_tenant(tenant_id=newcomer.pk, run_id=run.pk)
    pg.wait_for_selector("#first-sync[data-pending='0']", timeout=10000)
    total = Router.objects.filter(tenant=newcomer, deleted_at__isnull=True).count()
    assert total == 5
    assert pg.inner_text("#routers-table [data-total]") == str(total)
    assert pg.inner_text("a.stat-card[data-card=total] .value") == str(total)
    assert "synced just now" in pg.inner_text("#tenant-subtitle")
    assert pg.url == url

    pg.go_back()
    pg.wait_for_selector("#tenants-table")
    pg.wait_for_selector("#first-sync[data-pending='0']", timeout=10000)
    row = pg.locator("#tenants-table tbody tr", has_text="New Customer")
    assert "just now" in row.inner_text() and "first sync" not in row.inner_text()


def test_times_read_in_the_viewers_time_zone_and_counts_in_words(browser, live_server, sim_world):  # noqa: F811
    """Item 17: relative times, the exact local time on hover (the browser's time zone), "1 router"."""
    from ncm_sync.models import Router

    context = browser.new_context(viewport=DESKTOP, timezone_id="America/Chicago", locale="en-US")
    pg = context.new_page()
    pg.set_default_timeout(15000)
    try:
        sign_in(pg, live_server.url, "msp-tech")
        pg.wait_for_selector("#tenants-table")
        synced = pg.locator("#tenants-table td[data-col=sync] time").first
        assert synced.inner_text() == "just now"
        title = synced.get_attribute("title")
        assert re.search(r"20\d\d", title) and re.search(r"\d{1,2}:\d\d:\d\d", title) and "CST" in title, title
        pg.click("#tenants-table td[data-col=name] a:text-is('Bakery Chain')")
        pg.wait_for_selector("#routers-table tbody tr[data-id]")
        assert "data synced just now" in pg.inner_text("#tenant-subtitle")
        since = pg.locator("#routers-table td[data-col=since] time").first
        assert "CST" in since.get_attribute("title") and not ISO.search(since.inner_text())
        serial = Router.objects.filter(tenant=sim_world["bakery"], deleted_at__isnull=True).first().serial_number
        pg.fill("form[data-search-for=routers-table] input[name=q]", serial)
        pg.wait_for_function("document.querySelector('#routers-table [data-total]').textContent.trim() === '1'")
        assert re.fullmatch(r"1 router matching “.+”", pg.inner_text("#routers-table .table-options .summary"))
    finally:
        context.close()
