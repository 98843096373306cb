"""Browser test of the alert workflow (issue 13 items 6 and 13), clicking as a person does: the MSP overview's
open alerts for a tenant, its dashboard's "Open alerts" card, the alerts page's cards and an acknowledgement, all
agreeing with /api/v1/alerts/counts/. Screenshot: test-artifacts/screenshots/alerts.png."""
from __future__ import annotations

import pytest

from tests.ui.test_browser import CHROMIUM, browser, page, shot, sign_in, sim_world  # noqa: F401  (fixtures)

pytestmark = [
    pytest.mark.browser,
    pytest.mark.xdist_group("browser"),
    pytest.mark.skipif(not __import__("pathlib").Path(CHROMIUM).exists(),
                       reason="Debian's chromium is not installed (apt-get install -y chromium)"),
]


def _card(pg, key: str) -> int:
    return int(pg.inner_text(f"a.stat-card[data-card='{key}'] .value").strip())


def test_open_alerts_agree_and_acknowledge_by_clicking(page, live_server, sim_world):  # noqa: F811
    from ncm_sync import selectors
    from ncm_sync.models import Alert

    bakery = sim_world["bakery"]
    expected = Alert.objects.filter(selectors.open_alert_q(), tenant=bakery).count()
    assert expected > 0  # the simulator's fleet has problems as well as events
    assert Alert.objects.filter(tenant=bakery).count() > expected  # ... and events or acknowledged ones

    sign_in(page, live_server.url, "msp-tech")
    page.wait_for_selector("#tenants-table")
    row = page.locator("#tenants-table tbody tr", has_text="Bakery Chain")
    assert int(row.locator("td[data-col=alerts]").inner_text().strip()) == expected
    row.locator("td[data-col=name] a").click()
    page.wait_for_selector("#routers-table")
    assert _card(page, "open-alerts") == expected
    page.click("a.stat-card[data-card='open-alerts']")
    page.wait_for_selector("#alerts-table")
    assert "status=open" in page.url and _card(page, "open") == expected
    assert int(page.inner_text("#alerts-table [data-total]")) == expected
    shot(page, "alerts")

    first = page.locator("#alerts-table tbody tr").first
    alert_id = int(first.get_attribute("data-id"))
    first.locator("button[data-alert-action=acknowledge]").click()
    page.wait_for_selector(f"a.stat-card[data-card='open'] .value:text-is('{expected - 1}')")
    assert "status=open" in page.url
    assert page.locator(f"#alerts-table tbody tr[data-id='{alert_id}']").count() == 0
    assert Alert.objects.get(pk=alert_id).acknowledged_by.username == "msp-tech"
    page.click("a.stat-card[data-card='acknowledged']")
    page.wait_for_selector(f"#alerts-table tbody tr[data-id='{alert_id}']")
    # The API agrees (same session).
    counts = page.evaluate("fetch('/api/v1/alerts/counts/?tenant=%d').then(r => r.json())" % bakery.pk)
    assert counts[0]["open"] == expected - 1
