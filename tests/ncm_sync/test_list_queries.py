"""Lists and pages cost a constant number of queries whatever the number of rows (issues 14/18: net-devices was
paid per row), and a modem's latest health has one definition, shared by the API and the UI (issue 12)."""
from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from accounts.roles import Role
from ncm_sync import selectors
from ncm_sync.models import Alert, NetDevice, NetDeviceHealth, NetDeviceMetrics, Router
from tests.factories import make_org, make_tenant, make_user
from tests.fleet import mirror_rows
from tests.ui.test_pages import body, login, region

pytestmark = pytest.mark.django_db

def _rows(model, tenant, count, **fields):
    return mirror_rows(model, tenant, count, data={"mac": "00:30:44:aa:bb:cc"}, **fields)


def add_fleet(tenant, routers: int):
    """`routers` routers, each with a modem (health, metrics), an open alert and an event."""
    made = _rows(Router, tenant, routers, name="r", state="online")
    for router in made:
        modem, = _rows(NetDevice, tenant, 1, name="mdm-int1", type="mdm", router=router, carrier="Verizon")
        _rows(NetDeviceHealth, tenant, 1, net_device=modem, cellular_health_score=60, cellular_health_category="good")
        _rows(NetDeviceMetrics, tenant, 1, net_device=modem, signal_strength=60, rsrp=-90.0)
        _rows(Alert, tenant, 1, type="ipsec_tunnel_down", router=router, ncm_created_at=timezone.now())
        event, = _rows(Alert, tenant, 1, type="connection_state", router=router, ncm_created_at=timezone.now())
        event.data["info"] = {"state": "online"}
        event.save()


@pytest.fixture
def fleet():
    org = make_org()
    tenant, other = make_tenant(org), make_tenant(org)
    add_fleet(other, 3)
    return org, tenant, other


def _count(client, url, **params) -> int:
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(url, params)
    assert response.status_code == 200, response.content[:300]
    return len(ctx.captured_queries)


API_LISTS = ["/api/v1/net-devices/", "/api/v1/routers/", "/api/v1/alerts/", "/api/v1/groups/", "/api/v1/locations/",
             "/api/v1/accounts/"]
CSV_LISTS = ["/api/v1/net-devices/", "/api/v1/routers/", "/api/v1/alerts/"]
PAGES = ["/", "/t/{t}/", "/t/{t}/cellular/", "/t/{t}/alerts/"]


def test_api_lists_cost_the_same_queries_for_4_and_40_rows(fleet, client_for, django_assert_max_num_queries):
    org, tenant, _ = fleet
    client = client_for(make_user(org=org, role=Role.READ_ONLY))
    client.get("/api/v1/routers/")  # the token's first use of the minute writes last_used_at
    add_fleet(tenant, 4)
    small = {url: _count(client, url, limit=1000) for url in API_LISTS}
    add_fleet(tenant, 36)
    for url in API_LISTS:
        with django_assert_max_num_queries(small[url]):
            response = client.get(url, {"limit": 1000})
        assert response.status_code == 200
        assert small[url] <= 4, (url, small[url])  # session/token, scope, count, page
    # A filter on the latest health and the CSV export do not add per-row queries either.
    with django_assert_max_num_queries(small["/api/v1/net-devices/"]):
        assert client.get("/api/v1/net-devices/", {"limit": 1000, "health_category": "good", "tenant": tenant.pk}).json()["count"] == 40
    for url in CSV_LISTS:
        with django_assert_max_num_queries(small[url]):
            body(client.get(url, {"format": "csv"}))


def test_a_deep_page_costs_the_same_queries_and_shows_the_same_rows(fleet, client_for, django_assert_max_num_queries):
    """A page deep into an annotated list (latest health, open alerts) is picked by id first, so PostgreSQL
    computes the annotations for the rows shown, not for every row skipped; same rows, same order, one query."""
    org, tenant, _ = fleet
    client = client_for(make_user(org=org, role=Role.READ_ONLY))
    client.get("/api/v1/routers/")
    add_fleet(tenant, 12)
    for url in API_LISTS[:3]:
        everything = client.get(url, {"limit": 1000}).json()["results"]
        first = _count(client, url, limit=5)
        with django_assert_max_num_queries(first):
            page = client.get(url, {"limit": 5, "offset": 7}).json()
        assert page["results"] == everything[7:12], url
        assert page["count"] == len(everything)
    ordered = client.get("/api/v1/net-devices/", {"limit": 1000, "ordering": "-health_score,id"}).json()["results"]
    page = client.get("/api/v1/net-devices/", {"limit": 4, "offset": 3, "ordering": "-health_score,id"}).json()["results"]
    assert [row["id"] for row in page] == [row["id"] for row in ordered[3:7]]
    sql = []
    with CaptureQueriesContext(connection) as ctx:
        client.get("/api/v1/net-devices/", {"limit": 5, "offset": 7})
    sql = [q["sql"] for q in ctx.captured_queries if "ncm_sync_netdevicehealth" in q["sql"]]
    assert len(sql) == 1 and "OFFSET 7" in sql[0].split(" IN (SELECT", 1)[1], sql


def test_pages_cost_the_same_queries_for_4_and_40_routers(fleet):
    org, tenant, _ = fleet
    client = login(make_user(org=org, role=Role.READ_ONLY))
    add_fleet(tenant, 4)
    small = {url: _count(client, url.format(t=tenant.pk), size=100) for url in PAGES}
    add_fleet(tenant, 36)
    large = {url: _count(client, url.format(t=tenant.pk), size=100) for url in PAGES}
    assert large == small


def test_latest_health_is_one_definition_for_api_and_ui(fleet, client_for):
    org, tenant, _ = fleet
    router, = _rows(Router, tenant, 1, name="solo", state="online")
    modem, = _rows(NetDevice, tenant, 1, name="mdm-int1", type="mdm", router=router)
    earlier = timezone.now() - timedelta(hours=1)
    # Written last by NCM, though its portal id is lower: this is the latest.
    latest, = _rows(NetDeviceHealth, tenant, 1, net_device=modem, cellular_health_score=91, cellular_health_category="excellent")
    older, = _rows(NetDeviceHealth, tenant, 1, net_device=modem, cellular_health_score=12, cellular_health_category="poor")
    NetDeviceHealth.objects.filter(pk=older.pk).update(last_seen_at=earlier)
    # A tombstoned row, however new, is never the latest.
    _rows(NetDeviceHealth, tenant, 1, net_device=modem, cellular_health_score=33, cellular_health_category="fair",
          deleted_at=timezone.now())
    metrics_latest, = _rows(NetDeviceMetrics, tenant, 1, net_device=modem, signal_strength=80, rsrp=-70.0)
    metrics_older, = _rows(NetDeviceMetrics, tenant, 1, net_device=modem, signal_strength=10, rsrp=-120.0)
    NetDeviceMetrics.objects.filter(pk=metrics_older.pk).update(last_seen_at=earlier, data={"signal_strength": 10})
    NetDeviceMetrics.objects.filter(pk=metrics_latest.pk).update(data={"signal_strength": 80})
    assert older.pk > latest.pk and metrics_older.pk > metrics_latest.pk

    user = make_user(org=org, role=Role.READ_ONLY)
    api = client_for(user).get(f"/api/v1/net-devices/{modem.pk}/").json()
    assert (api["cellular_health_score"], api["cellular_health_category"]) == (91, "excellent")
    assert api["metrics"] == {"signal_strength": 80}
    ui = selectors.modems_for(user, tenant).get(pk=modem.pk)
    assert (ui.health_score, ui.band, ui.signal_strength, ui.rsrp) == (91, "excellent", 80, -70.0)
    page = region(body(login(user).get(f"/t/{tenant.pk}/cellular/", {"q": "solo"})), "modems-table")
    assert 'data-col="score" data-text="91"' in page and "Excellent" in page
    # The API's filter on the health category sees the same row.
    ids = {row["id"] for row in client_for(user).get("/api/v1/net-devices/", {"health_category": "excellent"}).json()["results"]}
    assert modem.pk in ids
    ids = {row["id"] for row in client_for(user).get("/api/v1/net-devices/", {"health_category": "poor"}).json()["results"]}
    assert modem.pk not in ids


def test_latest_row_lookups_are_indexed():
    """Each device's latest health/metrics row is one probe of a partial index (migration 0005)."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT indexname, indexdef FROM pg_indexes WHERE indexname IN ('ncm_ndhealth_latest', 'ncm_ndmetrics_latest')")
        found = dict(cursor.fetchall())
    assert set(found) == {"ncm_ndhealth_latest", "ncm_ndmetrics_latest"}
    for definition in found.values():
        assert "(net_device_id, last_seen_at DESC, id DESC) WHERE (deleted_at IS NULL)" in definition
    assert selectors.LATEST_ORDER == ("-last_seen_at", "-id")  # the order the index serves


def _plan(queryset) -> str:
    sql, params = queryset.query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute("EXPLAIN " + sql, params)
        return "\n".join(row[0] for row in cursor.fetchall())


def test_open_alert_counts_use_the_open_alert_indexes(fleet):
    """The partial indexes of migration 0006 repeat open_alert_q's SQL: if the two drift apart, PostgreSQL can no
    longer use them (correct, but every count visits every alert again)."""
    org, tenant, _ = fleet
    per_tenant = selectors.annotate_tenant_figures(type(tenant).objects.filter(pk=tenant.pk)).values("alerts_open")
    assert "ncm_alert_open_" in _plan(per_tenant)  # either index: both carry the open-alert condition
    per_router = selectors.routers_for(make_user(org=org, role=Role.READ_ONLY), tenant).values("open_alerts")
    assert "ncm_alert_open_" in _plan(per_router)
