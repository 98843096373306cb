"""Indexes for "the latest health / metrics row of a net device" (ncm_sync.selectors.latest_health/_metrics):
one index probe per device, whatever the planner's statistics, so a page of net devices costs the same at any
mirror size. Plain SQL (identical on PostgreSQL and SQLite) so the models' state stays as it is."""
from django.db import migrations

INDEXES = [
    ("ncm_ndhealth_latest", "ncm_sync_netdevicehealth"),
    ("ncm_ndmetrics_latest", "ncm_sync_netdevicemetrics"),
]


class Migration(migrations.Migration):

    dependencies = [
        ("ncm_sync", "0004_syncrun_heartbeat"),
    ]

    operations = [
        migrations.RunSQL(
            sql=f"CREATE INDEX IF NOT EXISTS {name} ON {table} (net_device_id, last_seen_at DESC, id DESC) "
            "WHERE deleted_at IS NULL",
            reverse_sql=f"DROP INDEX IF EXISTS {name}",
        )
        for name, table in INDEXES
    ]
