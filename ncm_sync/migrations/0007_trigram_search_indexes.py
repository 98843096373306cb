"""Trigram indexes (pg_trgm) for the searches the API and UI offer on routers and net devices: DRF's SearchFilter
and the UI tables search with `icontains`, which PostgreSQL runs as `UPPER(col::text) LIKE UPPER('%…%')`; a GIN
index with gin_trgm_ops on that very expression serves it (a B-tree cannot serve a leading wildcard), so a search
costs about the same in a mirror of 1,000 or 100,000 routers. PostgreSQL only: elsewhere (the SQLite demo)
nothing. pg_trgm is a trusted extension (PostgreSQL 13+): the database owner may create it."""
from django.db import migrations

INDEXES = {
    "ncm_sync_router": ["name", "serial_number", "mac", "ipv4_address"],
    "ncm_sync_netdevice": ["name", "serial", "mac", "iccid", "imei", "carrier"],
}


def _name(table: str, column: str) -> str:
    return f"{table.removeprefix('ncm_sync_')}_{column}_trgm"


def create(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    for table, columns in INDEXES.items():
        for column in columns:
            schema_editor.execute(
                f"CREATE INDEX IF NOT EXISTS {_name(table, column)} ON {table} USING gin ((UPPER({column}::text)) gin_trgm_ops)"
            )


def drop(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for table, columns in INDEXES.items():
        for column in columns:
            schema_editor.execute(f"DROP INDEX IF EXISTS {_name(table, column)}")


class Migration(migrations.Migration):

    dependencies = [
        ("ncm_sync", "0006_open_alert_indexes"),
    ]

    operations = [migrations.RunPython(create, drop)]
