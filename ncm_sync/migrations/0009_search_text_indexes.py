"""One trigram index per searched list over the very expression its API search filters on
(`portal.api.filters.search_text`: the searched columns upper-cased and joined by \\x1f). A search term is then
one `LIKE '%TERM%'` over one indexed expression: with six columns ORed PostgreSQL scanned all 100k modems
(0.2 s) even with a trigram index per column. The expression is written out here, as it stood, so this
migration keeps its meaning if the code changes. PostgreSQL only (the demo's SQLite searches by scanning)."""
from django.db import migrations
from django.db.models import Value
from django.db.models.functions import Concat, Upper

SEARCHED = {
    "router": ["name", "serial_number", "mac", "ipv4_address"],
    "netdevice": ["name", "serial", "mac", "iccid", "imei", "carrier"],
}


def _expression_sql(model, schema_editor) -> str:
    """The search expression compiled as Django compiles it in queries (unqualified columns, literals inlined),
    so PostgreSQL matches the index to the query's WHERE clause."""
    from django.db.models.sql import Query

    parts = []
    for column in SEARCHED[model._meta.model_name]:
        parts += [column, Value("\x1f")]
    query = Query(model, alias_cols=False)
    expression = Upper(Concat(*parts[:-1])).resolve_expression(query)
    sql, params = query.get_compiler(connection=schema_editor.connection).compile(expression)
    return sql % tuple(schema_editor.quote_value(p) for p in params)


def create(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    for model_name in SEARCHED:
        model = apps.get_model("ncm_sync", model_name)
        schema_editor.execute(
            f"CREATE INDEX IF NOT EXISTS {model_name}_search_trgm ON {model._meta.db_table} "
            f"USING gin (({_expression_sql(model, schema_editor)}) gin_trgm_ops)"
        )


def drop(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for model_name in SEARCHED:
        schema_editor.execute(f"DROP INDEX IF EXISTS {model_name}_search_trgm")


class Migration(migrations.Migration):

    dependencies = [
        ("ncm_sync", "0008_tenant_figures"),
    ]

    operations = [migrations.RunPython(create, drop)]
