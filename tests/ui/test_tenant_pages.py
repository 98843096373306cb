"""Tenant pages over mirrored data: dashboard cards and table, cellular health, router detail, sync, scoping."""
from __future__ import annotations

import csv
import io

import pytest

from accounts.models import AuditEvent
from accounts.roles import Role
from ncm_sync.models import SyncRun
from tests.fleet import make_fleet
from tests.ui.test_pages import body, login, region

pytestmark = pytest.mark.django_db


@pytest.fixture
def fleets(world):
    return {t.pk: make_fleet(t, prefix=t.slug, base=1000 * (i + 1)) for i, t in enumerate(world.tenants)}


def test_overview_shows_fleet_figures(world, fleets):
    page = body(login(world.actor(Role.READ_ONLY, "org", 0).user).get("/"))
    rows = region(page, "tenants-table")
    assert world.tenants[0].name in rows and world.tenants[2].name not in rows
    assert 'data-card="offline"' in page
    filtered = region(body(login(world.actor(Role.READ_ONLY, "org", 0).user).get("/", {"poor": "1"})), "tenants-table")
    assert world.tenants[0].name in filtered


def test_dashboard_cards_filter_and_table(world, fleets):
    tenant = world.tenants[0]
    client = login(world.actor(Role.READ_ONLY, "tenant", 0).user)
    page = body(client.get(f"/t/{tenant.pk}/"))
    assert f"{tenant.slug}-alpha" in region(page, "routers-table")
    offline = region(body(client.get(f"/t/{tenant.pk}/", {"state": "offline"})), "routers-table")
    assert f"{tenant.slug}-charlie" in offline and f"{tenant.slug}-alpha" not in offline
    outdated = region(body(client.get(f"/t/{tenant.pk}/", {"outdated": "1"})), "routers-table")
    assert f"{tenant.slug}-delta" in outdated and f"{tenant.slug}-alpha" not in outdated
    alerting = region(body(client.get(f"/t/{tenant.pk}/", {"alerting": "1"})), "routers-table")
    assert f"{tenant.slug}-bravo" in alerting and f"{tenant.slug}-alpha" not in alerting
    grouped = region(body(client.get(f"/t/{tenant.pk}/", {"group": "firmware"})), "routers-table")
    assert 'class="group-row"' in grouped and "7.22.0" in grouped
    desc = region(body(client.get(f"/t/{tenant.pk}/", {"sort": "-name"})), "routers-table")
    assert desc.index(f"{tenant.slug}-delta") < desc.index(f"{tenant.slug}-alpha")
    search = region(body(client.get(f"/t/{tenant.pk}/", {"q": "charlie"})), "routers-table")
    assert f"{tenant.slug}-charlie" in search and f"{tenant.slug}-bravo" not in search
    # Sync now is not shown to a read-only customer.
    assert 'id="sync-now"' not in page


def test_router_csv_export_matches_filter(world, fleets):
    tenant = world.tenants[0]
    response = login(world.actor(Role.ADMIN, "org", 0).user).get(f"/t/{tenant.pk}/", {"export": "csv", "state": "online", "sort": "name"})
    rows = list(csv.reader(io.StringIO(body(response).lstrip("\ufeff"))))
    assert rows[0][0] == "Name" and "Firmware out of date" in rows[0]
    assert [r[0] for r in rows[1:]] == [f"{tenant.slug}-alpha", f"{tenant.slug}-bravo", f"{tenant.slug}-delta"]
    assert 'attachment; filename="' in response["Content-Disposition"]


def test_cellular_health_bands_and_filters(world, fleets):
    tenant = world.tenants[0]
    client = login(world.actor(Role.DIAGNOSTIC, "org", 0).user)
    page = body(client.get(f"/t/{tenant.pk}/cellular/"))
    table = region(page, "modems-table")
    assert "Verizon" in table and "-80" in table
    poor = region(body(client.get(f"/t/{tenant.pk}/cellular/", {"band": "poor"})), "modems-table")
    assert f"{tenant.slug}-bravo" in poor and f"{tenant.slug}-alpha" not in poor
    by_rsrp = region(body(client.get(f"/t/{tenant.pk}/cellular/", {"sort": "rsrp"})), "modems-table")
    assert by_rsrp.index(f"{tenant.slug}-delta") < by_rsrp.index(f"{tenant.slug}-alpha")
    assert client.get(f"/t/{tenant.pk}/cellular/", {"export": "pdf"}).content.startswith(b"%PDF")


def test_router_detail_shows_layers_modems_location_alerts(world, fleets):
    tenant = world.tenants[0]
    alpha = fleets[tenant.pk][0]
    page = body(login(world.actor(Role.READ_ONLY, "org", 0).user).get(f"/t/{tenant.pk}/routers/{alpha.pk}/"))
    assert "system.system_id" in page and "alpha-custom" in page and "overrides group value" in page
    assert "hunter2" not in page  # secrets in configuration are masked
    assert 'data-layer="group"' in page and "system.timezone" not in page.split('id="config-table"')[1].split("</table>")[0]
    assert "41.88" in page and "Verizon" in page


def test_sync_now_for_allowed_roles_only(world, fleets, monkeypatch):
    from ncm_sync.services import runs

    monkeypatch.setattr(runs, "_enqueue", lambda run: None)
    tenant = world.tenants[0]
    tech = login(world.actor(Role.FULL_ACCESS, "org", 0).user)
    assert 'id="sync-now"' in body(tech.get(f"/t/{tenant.pk}/sync/"))
    response = tech.post(f"/t/{tenant.pk}/sync/now/")
    assert response.status_code == 302
    run = SyncRun.objects.get(tenant=tenant)
    assert AuditEvent.objects.filter(tenant=tenant, source="ui", changes___details__sync_run=run.pk).exists()
    page = body(tech.get(f"/t/{tenant.pk}/sync/"))
    assert 'id="sync-active"' in page and 'hx-trigger="every 2s"' in page
    viewer = login(world.actor(Role.READ_ONLY, "org", 0).user)
    assert 'id="sync-now"' not in body(viewer.get(f"/t/{tenant.pk}/sync/"))
    assert viewer.post(f"/t/{tenant.pk}/sync/now/").status_code == 403
    assert SyncRun.objects.filter(tenant=tenant).count() == 1


TENANT_PAGES = ["/t/{t}/", "/t/{t}/cellular/", "/t/{t}/alerts/", "/t/{t}/sync/", "/t/{t}/routers/{r}/",
                "/t/{t}/?export=csv", "/t/{t}/cellular/?export=pdf"]


@pytest.mark.parametrize("pattern", TENANT_PAGES)
def test_customer_cannot_reach_another_tenant(world, fleets, pattern):
    """Editing the URL to another tenant (or another tenant's router under one's own) answers 404."""
    mine, other = world.tenants[0], world.tenants[1]
    client = login(world.actor(Role.ADMIN, "tenant", 0).user)
    own_router = fleets[mine.pk][0]
    other_router = fleets[other.pk][0]
    assert client.get(pattern.format(t=mine.pk, r=own_router.pk)).status_code == 200
    assert client.get(pattern.format(t=other.pk, r=other_router.pk)).status_code == 404
    # Another tenant's router under one's own tenant id is not found either.
    if "{r}" in pattern:
        assert client.get(pattern.format(t=mine.pk, r=other_router.pk)).status_code == 404
    # An MSP of another organization sees nothing of this one.
    assert login(world.actor(Role.ADMIN, "org", 1).user).get(pattern.format(t=mine.pk, r=own_router.pk)).status_code == 404


def test_customer_cannot_sync_another_tenant(world, fleets):
    client = login(world.actor(Role.ADMIN, "tenant", 0).user)
    assert client.post(f"/t/{world.tenants[1].pk}/sync/now/").status_code == 404
    assert not SyncRun.objects.exists()


def test_sync_page_says_when_no_dispatcher_runs_scheduled_syncs(world):
    """Without beat (or a worker on its queue) nothing syncs on schedule: the sync page says so, and stops
    saying it once the dispatcher has run."""
    from ncm_sync.services.runs import dispatch_due_syncs

    tenant = world.tenants[0]
    client = login(world.actor(Role.READ_ONLY, "org", 0).user)
    page = body(client.get(f"/t/{tenant.pk}/sync/"))
    assert 'id="dispatcher-stale"' in page and "celery -A portal beat" in page
    dispatch_due_syncs()
    assert 'id="dispatcher-stale"' not in body(client.get(f"/t/{tenant.pk}/sync/"))
