"""The routers' and net devices' searches (API SearchFilter, UI tables: `icontains`) are served by the trigram
indexes of migration 0007: if Django's SQL for icontains and the indexed expression drift apart, PostgreSQL can
no longer use them (correct, but every search reads the whole mirror)."""
from __future__ import annotations

import pytest
from django.db import connection
from django.db.models import Q

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


def test_router_and_net_device_searches_use_trigram_indexes():
    search = Q(name__icontains="store-12") | Q(serial_number__icontains="store-12") | Q(mac__icontains="store-12") | Q(
        ipv4_address__icontains="store-12")
    plan = _plan(Router.objects.filter(search).order_by())
    for column in ("name", "serial_number", "mac", "ipv4_address"):
        assert f"router_{column}_trgm" in plan, plan
    plan = _plan(NetDevice.objects.filter(Q(imei__icontains="3512") | Q(iccid__icontains="3512") | Q(carrier__icontains="3512")).order_by())
    for column in ("imei", "iccid", "carrier"):
        assert f"netdevice_{column}_trgm" in plan, plan
