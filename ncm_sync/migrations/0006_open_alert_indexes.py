"""Partial indexes over open alerts only (ncm_sync.selectors.open_alert_q), per tenant and per router: the MSP
overview, the dashboards and alerts/counts count open alerts by visiting open alerts, not every alert NCM ever
sent. The condition repeats open_alert_q's SQL word for word so PostgreSQL can prove a query implies it
(tests/ncm_sync/test_list_queries.py checks the planner uses them). PostgreSQL only: elsewhere nothing."""
from django.db import migrations

OPEN = (
    "acknowledged_at IS NULL AND NOT (CASE WHEN (type IN ('config_changed', 'device_claimed', 'device_unclaimed', "
    "'ethernet_wan_connected', 'ipsec_tunnel_up', 'modem_wan_connected', 'reboot_status_change', "
    "'wan_failover_restored', 'wan_service_type', 'wwan_connected') "
    "OR ((data #> '{info,state}') = '\"online\"'::jsonb AND type = 'connection_state') "
    "OR ((data #> '{info,success}') = 'true'::jsonb AND type = 'firmware_upgrade')) THEN true ELSE false END)"
)
INDEXES = [("ncm_alert_open_tenant", "tenant_id"), ("ncm_alert_open_router", "router_id")]


def create(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for name, column in INDEXES:
        schema_editor.execute(f"CREATE INDEX IF NOT EXISTS {name} ON ncm_sync_alert ({column}) WHERE {OPEN}")


def drop(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for name, _column in INDEXES:
        schema_editor.execute(f"DROP INDEX IF EXISTS {name}")


class Migration(migrations.Migration):

    dependencies = [
        ("ncm_sync", "0005_latest_row_indexes"),
    ]

    operations = [migrations.RunPython(create, drop)]
