"""Drop the per-column trigram indexes of migration 0007. Every search now goes through the one expression per
list that migration 0009 indexes (the API's `?search=`, the job wizard: `ncm_sync.selectors.search`), so those ten
GIN indexes only cost: they were ~40 % of PostgreSQL's work writing a first sync's routers and net devices (0.85 s
of 10k routers and 15k modems). Reversible: going back recreates them."""
import importlib

from django.db import migrations

_0007 = importlib.import_module("ncm_sync.migrations.0007_trigram_search_indexes")


class Migration(migrations.Migration):

    dependencies = [
        ("ncm_sync", "0011_sync_state_full_sync"),
    ]

    operations = [migrations.RunPython(_0007.drop, _0007.create)]
