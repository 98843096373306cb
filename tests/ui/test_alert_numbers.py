"""Open alerts mean one thing everywhere (issue 13 items 6, 7, 13): the MSP overview, the tenant dashboard, the
alerts page and /api/v1/alerts/counts/ show the same number for a tenant; events are never open; the alert
workflow (acknowledge, reopen, status filters, types in words) in the UI."""
from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.utils import timezone

from accounts.models import AuditEvent
from accounts.roles import Role
from ncm_sync.models import Alert
from tests.fleet import mirrored
from tests.fleet import make_fleet
from tests.ui.test_pages import body, login, region

pytestmark = pytest.mark.django_db


def _alert(tenant, type, router=None, info=None, age=timedelta(0), friendly_info="", **fields):
    alert = mirrored(Alert, type=type)(tenant)
    alert.data = {**alert.data, "info": info} if info is not None else alert.data
    alert.router, alert.friendly_info, alert.ncm_created_at = router, friendly_info, timezone.now() - age
    for name, value in fields.items():
        setattr(alert, name, value)
    alert.save()
    return alert


@pytest.fixture
def alerts(world):
    """Tenant 0: 4 open alerts (one from the fleet, one 30 days old, one without a router), 1 acknowledged,
    1 event. Open alerts on 2 routers. Tenant 1 (same MSP): the fleet's 1 open alert."""
    t0 = world.tenants[0]
    alpha, bravo, charlie, _delta = make_fleet(t0, prefix=t0.slug, base=1000)
    make_fleet(world.tenants[1], prefix=world.tenants[1].slug, base=2000)
    made = {
        "event": _alert(t0, "connection_state", alpha, {"state": "online"}, friendly_info="alpha-came-online"),
        "tunnel": _alert(t0, "ipsec_tunnel_down", charlie, {"tunnel": "vti"}, friendly_info="charlie-tunnel-down"),
        "old": _alert(t0, "memory_utilization", bravo, {"utilization": 97}, age=timedelta(days=30),
                      friendly_info="bravo-memory-high"),
        "account": _alert(t0, "pdp_account_overage", None, {}, friendly_info="data-plan-80"),
        "acked": _alert(t0, "cpu_utilization", charlie, {"utilization": 90}, friendly_info="charlie-cpu-acked",
                        acknowledged_at=timezone.now()),
    }
    return made


def overview_open(page: str, tenant) -> int:
    rows = region(page, "tenants-table")
    row = rows[rows.index(f'<tr data-id="{tenant.pk}"'):]
    row = row[: row.index("</tr>")]
    return int(re.search(r'data-col="alerts"[^>]*data-text="(\d+)"', row).group(1))


def card(page: str, key: str) -> int:
    match = re.search(rf'data-card="{key}"[^>]*>\s*<div class="value">(\d+)</div><div class="label">([^<]*)</div>', page)
    assert match, f"no card {key}"
    return int(match.group(1))


def card_label(page: str, key: str) -> str:
    return re.search(rf'data-card="{key}"[^>]*>\s*<div class="value">\d+</div><div class="label">([^<]*)</div>', page).group(1)


def numbers(world, client_for, tenant, user):
    client = login(user)
    overview = overview_open(body(client.get("/")), tenant)
    dashboard = body(client.get(f"/t/{tenant.pk}/"))
    alerts_page = body(client.get(f"/t/{tenant.pk}/alerts/"))
    api = {row["tenant"]: row for row in client_for(user).get("/api/v1/alerts/counts/").json()}[tenant.pk]
    return {"overview": overview, "dashboard": card(dashboard, "open-alerts"), "alerts page": card(alerts_page, "open"),
            "api": api["open"]}, dashboard, api


def test_overview_dashboard_alerts_page_and_api_agree(world, alerts, client_for):
    t0, t1 = world.tenants[0], world.tenants[1]
    user = world.actor(Role.READ_ONLY, "org", 0).user
    figures, dashboard, api = numbers(world, client_for, t0, user)
    assert figures == {"overview": 4, "dashboard": 4, "alerts page": 4, "api": 4}
    assert (api["acknowledged"], api["events"], api["total"]) == (1, 1, 6)
    # The routers card counts routers with open alerts (bravo twice, charlie once), and says so.
    assert card(dashboard, "alerting") == 2 and card_label(dashboard, "alerting") == "Routers with open alerts"
    assert numbers(world, client_for, t1, user)[0] == {"overview": 1, "dashboard": 1, "alerts page": 1, "api": 1}
    # The MSP total is the sum over tenants, under the same name.
    page = body(login(user).get("/"))
    assert card(page, "alerting") == 5 and card_label(page, "alerting") == "Open alerts"
    assert "Alerts (24 h)" not in dashboard and "Alerting (24 h)" not in dashboard


def test_acknowledging_in_the_ui_changes_every_figure(world, alerts, client_for):
    t0 = world.tenants[0]
    tech = world.actor(Role.FULL_ACCESS, "tenant", 0).user
    client = login(tech)
    page = body(client.get(f"/t/{t0.pk}/alerts/", {"status": "open"}))
    assert f'/t/{t0.pk}/alerts/{alerts["tunnel"].pk}/acknowledge/' in page
    response = client.post(f"/t/{t0.pk}/alerts/{alerts['tunnel'].pk}/acknowledge/",
                           {"next": f"/t/{t0.pk}/alerts/?status=open"})
    assert response.status_code == 302 and response["Location"] == f"/t/{t0.pk}/alerts/?status=open"
    tunnel = Alert.objects.get(pk=alerts["tunnel"].pk)
    assert tunnel.acknowledged_by == tech and tunnel.acknowledged_at is not None
    audit = AuditEvent.objects.get(tenant=t0, changes___details__action="acknowledge")
    assert audit.source == "ui" and audit.actor == tech
    figures, _, api = numbers(world, client_for, t0, world.actor(Role.ADMIN, "org", 0).user)
    assert figures == {"overview": 3, "dashboard": 3, "alerts page": 3, "api": 3} and api["acknowledged"] == 2
    # A second acknowledgement changes nothing and audits nothing.
    client.post(f"/t/{t0.pk}/alerts/{alerts['tunnel'].pk}/acknowledge/")
    assert AuditEvent.objects.filter(tenant=t0, changes___details__action="acknowledge").count() == 1
    # Reopen: open again, audited.
    assert client.post(f"/t/{t0.pk}/alerts/{alerts['tunnel'].pk}/reopen/").status_code == 302
    assert Alert.objects.get(pk=alerts["tunnel"].pk).acknowledged_at is None
    assert AuditEvent.objects.get(tenant=t0, changes___details__action="unacknowledge").source == "ui"
    assert numbers(world, client_for, t0, world.actor(Role.READ_ONLY, "org", 0).user)[0] == {
        "overview": 4, "dashboard": 4, "alerts page": 4, "api": 4}


def test_acknowledge_needs_change_rights_and_scope(world, alerts):
    t0, t2 = world.tenants[0], world.tenants[2]
    tunnel = alerts["tunnel"]
    reader = login(world.actor(Role.READ_ONLY, "tenant", 0).user)
    page = body(reader.get(f"/t/{t0.pk}/alerts/"))
    assert "/acknowledge/" not in page and "may not acknowledge" in page
    assert reader.post(f"/t/{t0.pk}/alerts/{tunnel.pk}/acknowledge/").status_code == 403
    diagnostic = login(world.actor(Role.DIAGNOSTIC, "org", 0).user)
    assert diagnostic.post(f"/t/{t0.pk}/alerts/{tunnel.pk}/acknowledge/").status_code == 403
    # Another MSP's admin: the tenant is not theirs (404), nor is the alert under their own tenant's URL.
    other = login(world.actor(Role.ADMIN, "org", 1).user)
    assert other.post(f"/t/{t0.pk}/alerts/{tunnel.pk}/acknowledge/").status_code == 404
    assert other.post(f"/t/{t2.pk}/alerts/{tunnel.pk}/acknowledge/").status_code == 404
    # GET never acknowledges; a foreign "next" is not followed.
    tech = login(world.actor(Role.FULL_ACCESS, "org", 0).user)
    assert tech.get(f"/t/{t0.pk}/alerts/{tunnel.pk}/acknowledge/").status_code == 405
    assert Alert.objects.get(pk=tunnel.pk).acknowledged_at is None
    response = tech.post(f"/t/{t0.pk}/alerts/{tunnel.pk}/acknowledge/", {"next": "https://evil.example/"})
    assert response.status_code == 302 and response["Location"] == f"/t/{t0.pk}/alerts/"


def test_status_filters_cards_and_types_in_words(world, alerts):
    t0 = world.tenants[0]
    client = login(world.actor(Role.READ_ONLY, "org", 0).user)
    rows = lambda **params: region(body(client.get(f"/t/{t0.pk}/alerts/", params)), "alerts-table")  # noqa: E731
    open_rows = rows(status="open")
    for name in ("charlie-tunnel-down", "bravo-memory-high", "data-plan-80", f"{t0.slug}-bravo went offline"):
        assert name in open_rows, name
    assert "alpha-came-online" not in open_rows and "charlie-cpu-acked" not in open_rows
    acked = rows(status="acknowledged")
    assert "charlie-cpu-acked" in acked and "charlie-tunnel-down" not in acked
    events = rows(status="event")
    assert "alpha-came-online" in events and "charlie-tunnel-down" not in events
    # Types in words, NCM's type kept on hover.
    assert "Router came online" in events and "IPsec tunnel down" in open_rows and "Data plan usage" in open_rows
    assert 'title="NCM type: ipsec_tunnel_down"' in open_rows
    # Cards: each filters the table; the active one is marked.
    page = body(client.get(f"/t/{t0.pk}/alerts/", {"status": "acknowledged"}))
    assert (card(page, "open"), card(page, "acknowledged"), card(page, "event"), card(page, "all")) == (4, 1, 1, 6)
    assert re.search(r'class="stat-card ok active" href="\?status=acknowledged"', page)
    # The router filter (the routers table links its open-alert count here) and the type filter.
    charlie = alerts["tunnel"].router
    by_router = rows(status="open", router=charlie.pk)
    assert "charlie-tunnel-down" in by_router and "bravo-memory-high" not in by_router
    by_type = rows(type="memory_utilization")
    assert "bravo-memory-high" in by_type and "charlie-tunnel-down" not in by_type
    # A value the filter refuses filters nothing rather than failing.
    assert client.get(f"/t/{t0.pk}/alerts/", {"status": "bogus"}).status_code == 200


def test_router_and_modem_cards_say_what_they_count(world, alerts):
    t0 = world.tenants[0]
    client = login(world.actor(Role.READ_ONLY, "org", 0).user)
    dashboard = body(client.get(f"/t/{t0.pk}/"))
    assert card_label(dashboard, "online") == "Routers online" and card(dashboard, "online") == 3
    assert card_label(dashboard, "offline") == "Routers offline" and card(dashboard, "offline") == 1
    cellular = body(client.get(f"/t/{t0.pk}/cellular/"))
    assert card_label(cellular, "total") == "Modems" and card(cellular, "total") == 4
    assert card_label(cellular, "online") == "Modems on online routers" and card(cellular, "online") == 3
    assert card_label(cellular, "poor") == "Modems in poor health" and card(cellular, "poor") == 1
    # The routers table's filters are the API's (RouterFilterSet): ?alerting=1 = has_open_alerts.
    alerting = region(body(client.get(f"/t/{t0.pk}/", {"alerting": "1"})), "routers-table")
    assert f"{t0.slug}-bravo" in alerting and f"{t0.slug}-charlie" in alerting and f"{t0.slug}-alpha" not in alerting


def test_modems_in_poor_health_agree_between_overview_and_cellular(world, alerts):
    from ncm_sync.models import NetDevice, NetDeviceHealth, NetDeviceMetrics

    t0 = world.tenants[0]
    bravo = alerts["old"].router
    now = timezone.now()

    def row(model, ncm_id, **fields):
        return model.objects.create(tenant=t0, ncm_id=ncm_id, first_seen_at=now, last_seen_at=now, content_hash="x", **fields)

    # No category from NCM, a low health score but a strong signal: the band (signal fallback) is excellent.
    strong = row(NetDevice, "m-strong", name="mdm-int2", type="mdm", router=bravo)
    row(NetDeviceHealth, "h-strong", net_device=strong, cellular_health_score=10, cellular_health_category="")
    row(NetDeviceMetrics, "s-strong", net_device=strong, signal_strength=80)
    # A modem NCM no longer lists, whose health row is still live: not a modem any page shows.
    gone = row(NetDevice, "m-gone", name="mdm-int3", type="mdm", router=bravo, deleted_at=now)
    row(NetDeviceHealth, "h-gone", net_device=gone, cellular_health_score=5, cellular_health_category="poor")
    # A poor modem with an older, better health row: the latest row decides.
    weak = row(NetDevice, "m-weak", name="mdm-int4", type="mdm", router=bravo)
    row(NetDeviceHealth, "h-weak-old", net_device=weak, cellular_health_score=90, cellular_health_category="excellent")
    NetDeviceHealth.objects.filter(ncm_id="h-weak-old").update(last_seen_at=now - timedelta(hours=2))
    row(NetDeviceHealth, "h-weak", net_device=weak, cellular_health_score=15, cellular_health_category="Poor")

    # No category, a weak signal: poor by the signal fallback, on both pages.
    faint = row(NetDevice, "m-faint", name="mdm-int5", type="mdm", router=bravo)
    row(NetDeviceHealth, "h-faint", net_device=faint, cellular_health_score=70, cellular_health_category="")
    row(NetDeviceMetrics, "s-faint", net_device=faint, signal_strength=10)

    client = login(world.actor(Role.READ_ONLY, "org", 0).user)
    rows = region(body(client.get("/")), "tenants-table")
    row_html = rows[rows.index(f'<tr data-id="{t0.pk}"'):]
    overview = int(re.search(r'data-col="poor"[^>]*data-text="(\d+)"', row_html[: row_html.index("</tr>")]).group(1))
    cellular = card(body(client.get(f"/t/{t0.pk}/cellular/")), "poor")
    assert overview == cellular == 3  # the fleet's bravo modem, "weak" and "faint"


def test_acknowledge_every_open_alert_shown(world, alerts, client_for):
    t0, t1 = world.tenants[0], world.tenants[1]
    tech = world.actor(Role.FULL_ACCESS, "org", 0).user
    client = login(tech)
    # Only what the table shows: here the open memory alert (search + filter), not the other open ones.
    page = body(client.get(f"/t/{t0.pk}/alerts/", {"type": "memory_utilization"}))
    assert "Acknowledge the 1 open alert shown" in page
    response = client.post(f"/t/{t0.pk}/alerts/acknowledge/", {"query": "type=memory_utilization"})
    assert response.status_code == 302 and response["Location"] == f"/t/{t0.pk}/alerts/?type=memory_utilization"
    assert Alert.objects.get(pk=alerts["old"].pk).acknowledged_by == tech
    assert Alert.objects.get(pk=alerts["tunnel"].pk).acknowledged_at is None
    # Then every open alert of the tenant: events stay events, the other tenant is untouched.
    assert "Acknowledge the 3 open alerts shown" in body(client.get(f"/t/{t0.pk}/alerts/", {"status": "open"}))
    client.post(f"/t/{t0.pk}/alerts/acknowledge/", {"query": "status=open"})
    figures, _, api = numbers(world, client_for, t0, tech)
    assert figures == {"overview": 0, "dashboard": 0, "alerts page": 0, "api": 0}
    assert (api["acknowledged"], api["events"]) == (5, 1)
    assert Alert.objects.get(pk=alerts["event"].pk).acknowledged_at is None
    assert numbers(world, client_for, t1, tech)[0]["api"] == 1
    assert AuditEvent.objects.filter(tenant=t0, changes___details__action="acknowledge", source="ui").count() == 4
    assert "open alerts shown" not in body(client.get(f"/t/{t0.pk}/alerts/"))
    # Roles without change rights get neither the button nor the action; another MSP gets 404.
    reader = login(world.actor(Role.READ_ONLY, "org", 0).user)
    assert reader.post(f"/t/{t1.pk}/alerts/acknowledge/", {"query": ""}).status_code == 403
    assert login(world.actor(Role.ADMIN, "org", 1).user).post(f"/t/{t1.pk}/alerts/acknowledge/").status_code == 404
    assert Alert.objects.filter(tenant=t1, acknowledged_at__isnull=False).count() == 0
