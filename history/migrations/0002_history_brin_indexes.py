"""BRIN indexes on created_at (samples) and bucket (roll-ups), PostgreSQL only (the SQLite demo: nothing).

Samples arrive roughly in time order, so a BRIN of a few pages serves retention deletes (`created_at < cutoff`)
and fleet-wide time-range scans on tables of hundreds of millions of rows; a device's own range uses the
btree on (tenant, device, created_at) from 0001."""
from django.db import migrations

BRIN = {
    "history_signalsample": "created_at", "history_usagesample": "created_at", "history_statesample": "created_at",
    "history_streamusagesample": "created_at", "history_locationsample": "created_at",
    "history_routerlog": "created_at", "history_rollup": "bucket",
}


def create(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for table, column in BRIN.items():
        schema_editor.execute(f"CREATE INDEX IF NOT EXISTS {table}_{column}_brin ON {table} USING brin ({column})")


def drop(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for table, column in BRIN.items():
        schema_editor.execute(f"DROP INDEX IF EXISTS {table}_{column}_brin")


class Migration(migrations.Migration):

    dependencies = [("history", "0001_history_samples")]

    operations = [migrations.RunPython(create, drop)]
