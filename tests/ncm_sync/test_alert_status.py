"""What an open alert is, in SQL (`open_alert_q`, counts, `?status=`) and in Python (`alert_status`, the API's
`status`): both agree on every kind of alert NCM sends."""
from __future__ import annotations

import pytest
from django.utils import timezone

from ncm_sync import selectors
from ncm_sync.models import Alert
from tests.factories import make_org, make_tenant, make_user
from tests.fleet import mirrored

pytestmark = pytest.mark.django_db

# (type, info, acknowledged) -> expected status
CASES = [
    ("connection_state", {"state": "offline"}, False, "open"),
    ("connection_state", {"state": "online"}, False, "event"),
    ("connection_state", {"state": "online"}, True, "acknowledged"),
    ("connection_state", None, False, "open"),  # no info: shown, not hidden
    ("connection_state", {"state": "initialized"}, False, "open"),
    ("modem_wan_connected", {"status": "connected"}, False, "event"),
    ("modem_wan_disconnected", {"status": "disconnected"}, False, "open"),
    ("reboot_status_change", {"type": "reboot_status_change"}, False, "event"),
    ("config_changed", [{"system": {"ui_activated": True}}, []], False, "event"),  # info is a list
    ("wan_service_type", {"from": "LTE", "to": "5G"}, False, "event"),
    ("firmware_upgrade", {"state": "complete", "success": True}, False, "event"),
    ("firmware_upgrade", {"state": "failed", "success": False}, False, "open"),
    ("ipsec_tunnel_down", {"tunnel": "vti"}, False, "open"),
    ("cpu_utilization", {"utilization": 95}, True, "acknowledged"),
    ("pdp_account_overage", {}, False, "open"),
    ("some_future_ncm_type", {}, False, "open"),
]


@pytest.fixture
def cases():
    tenant = make_tenant(make_org())
    made = []
    for type_, info, acked, expected in CASES:
        alert = mirrored(Alert, type=type_)(tenant)
        if info is not None:
            alert.data = {**alert.data, "info": info}
        alert.acknowledged_at = timezone.now() if acked else None
        alert.save()
        made.append((alert, expected))
    return tenant, made


def test_sql_and_python_agree(cases):
    tenant, made = cases
    for alert, expected in made:
        assert selectors.alert_status(alert) == expected, (alert.type, alert.data, expected)
    open_ids = set(Alert.objects.filter(selectors.open_alert_q()).values_list("pk", flat=True))
    assert open_ids == {a.pk for a, expected in made if expected == "open"}
    for status in ("open", "acknowledged", "event"):
        ids = set(Alert.objects.filter(selectors.alert_status_q(status)).values_list("pk", flat=True))
        assert ids == {a.pk for a, expected in made if expected == status}, status
    counts, = selectors.alert_counts(Alert.objects.filter(tenant=tenant))
    expected = {s: sum(1 for _, e in made if e == s) for s in ("open", "acknowledged", "event")}
    assert (counts["open"], counts["acknowledged"], counts["events"], counts["total"]) == (
        expected["open"], expected["acknowledged"], expected["event"], len(made))


def test_api_status_filter_and_fields(cases, client_for):
    tenant, made = cases
    client = client_for(make_user(tenant=tenant, role="read_only"))
    for status in ("open", "acknowledged", "event"):
        rows = client.get("/api/v1/alerts/", {"status": status, "limit": 100}).json()["results"]
        assert {r["id"] for r in rows} == {a.pk for a, e in made if e == status}, status
        assert {r["status"] for r in rows} == {status}
    assert client.get("/api/v1/alerts/", {"status": "bogus"}).status_code == 400
    by_id = {r["id"]: r for r in client.get("/api/v1/alerts/", {"limit": 100}).json()["results"]}
    words = {by_id[a.pk]["type_label"] for a, _ in made}
    assert {"Router went offline", "Router came online", "IPsec tunnel down", "Firmware upgrade failed",
            "Some future ncm type"} <= words


def test_type_labels():
    assert selectors.alert_type_label("connection_state", {"state": "offline"}) == "Router went offline"
    assert selectors.alert_type_label("connection_state", None) == "Connection state changed"
    assert selectors.alert_type_label("memory_utilization") == "High memory use"
    assert selectors.alert_type_label("brand_new_thing") == "Brand new thing"
