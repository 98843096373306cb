"""The routers' and net devices' searches (API SearchFilter, the job wizard) are served by the trigram index of
migration 0009: if Django's SQL and the indexed expression drift apart, PostgreSQL can no longer use it (correct,
but every search reads the whole mirror)."""
from __future__ import annotations

import pytest
from django.db import connection

from ncm_sync.models import NetDevice, Router

pytestmark = pytest.mark.django_db


def _plan(queryset) -> str:
    sql, params = queryset.query.sql_with_params()
    with connection.cursor() as cursor:
        # Empty tables: only the question "can an index serve this predicate?" is asked (bitmap scans left).
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute("SET LOCAL enable_indexscan = off")
        cursor.execute("EXPLAIN " + sql, params)
        return "\n".join(row[0] for row in cursor.fetchall())


@pytest.mark.parametrize("model", [Router, NetDevice])
def test_selector_search_uses_the_one_expression_index_and_the_column_indexes_are_gone(model):
    """`ncm_sync.selectors.search` (the job wizard's box) goes through the API's indexed expression; migration 0012
    dropped 0007's per-column trigram indexes, which nothing searched through any more and every write paid for."""
    from ncm_sync.selectors import search

    name = model._meta.model_name
    sql = str(search(model.objects.all(), "store-12 wa0").query)
    assert sql.count("LIKE") == 2 and "%STORE-12%" in sql and "%WA0%" in sql
    assert f"{name}_search_trgm" in _plan(search(model.objects.all(), "store-12").order_by())
    with connection.cursor() as cursor:
        cursor.execute("SELECT indexname FROM pg_indexes WHERE tablename = %s AND indexname LIKE '%%_trgm'",
                       [model._meta.db_table])
        assert [row[0] for row in cursor.fetchall()] == [f"{name}_search_trgm"]


@pytest.mark.parametrize("view_name", ["RouterViewSet", "NetDeviceViewSet"])
def test_api_search_filters_on_one_expression_its_index_serves(view_name):
    """The API's `?search=` filters on the view's `search_expression` (every searched column in one upper-cased
    text), one LIKE per term, which the expression index of migration 0009 serves."""
    from rest_framework.request import Request
    from rest_framework.test import APIRequestFactory

    from ncm_sync.api import views
    from portal.api.filters import SearchFilter

    view = getattr(views, view_name)()
    request = Request(APIRequestFactory().get("/", {"search": "Store-12 wa0"}))
    queryset = SearchFilter().filter_queryset(request, view.queryset.model.objects.all(), view)
    sql = str(queryset.query)
    assert sql.count("LIKE") == 2 and "%STORE-12%" in sql and "%WA0%" in sql
    assert f"{view.queryset.model._meta.model_name}_search_trgm" in _plan(queryset.order_by())


@pytest.mark.django_db
def test_api_search_finds_a_term_in_any_searched_column_never_across_two(client_for):
    from tests.factories import make_org, make_tenant, make_user
    from tests.fleet import mirror_row

    org = make_org()
    tenant = make_tenant(org)
    mirror_row(Router, tenant, name="Store 12", serial_number="WA1234", mac="00:30:44:aa:bb:cc", ipv4_address="10.0.0.1")
    mirror_row(Router, tenant, name="Depot", serial_number="MM999", mac="00:30:44:00:00:01", ipv4_address="10.9.9.9")
    client = client_for(make_user(org=org))

    def names(term):
        response = client.get("/api/v1/routers/", {"search": term})
        assert response.status_code == 200
        return sorted(r["name"] for r in response.json()["results"])

    assert names("store") == ["Store 12"]
    assert names("wa12") == ["Store 12"]  # serial, any case
    assert names("AA:BB") == ["Store 12"]  # MAC
    assert names("10.9.9") == ["Depot"]
    assert names("store wa1234") == ["Store 12"]  # every term, each in some column
    assert names("store mm999") == []
    assert names("12WA") == []  # never across two columns ("Store 12" + "WA1234")
    assert names("10%1") == [] and names("_") == []  # LIKE's wildcards are plain characters
