"""The projection of NCM routers into the vendor-neutral device list (PostgreSQL's set-based path), split into
statements run at once on their own connections: the same devices, created, updated and tombstoned exactly once."""
from __future__ import annotations

import pytest

from devices.models import Device
from devices.services.sync import _project_ncm_routers_sql
from ncm_sync.models import Router
from tests.factories import make_org, make_tenant
from tests.fleet import mirror_rows


def _devices(tenant) -> dict:
    return {d.remote_id: (d.name, d.status, d.deleted_at is None, d.router_id)
            for d in Device.objects.filter(tenant=tenant, provider="ncm")}


@pytest.mark.django_db(transaction=True)  # the parts run on connections of their own: nothing may be uncommitted
@pytest.mark.parametrize("parts", [1, 3])
def test_projection_in_parts_writes_each_router_once(parts):
    org = make_org()
    tenant, other = make_tenant(org), make_tenant(org)
    routers = mirror_rows(Router, tenant, 25, state="online")
    mirror_rows(Router, other, 3, state="online")

    first = _project_ncm_routers_sql(tenant.pk, parts=parts)
    assert (first["created"], first["updated"], first["deleted"], first["fetched"]) == (25, 0, 0, 25)
    devices = _devices(tenant)
    assert set(devices) == {r.ncm_id for r in routers}
    assert all(router_id == r.pk for r in routers for name, status, live, router_id in [devices[r.ncm_id]])
    assert not Device.objects.filter(tenant=other).exists()  # another tenant's routers are not projected

    again = _project_ncm_routers_sql(tenant.pk, parts=parts)
    assert (again["created"], again["updated"], again["unchanged"]) == (0, 0, 25)

    Router.objects.filter(pk=routers[0].pk).update(name="renamed", state="offline")
    Router.objects.filter(pk=routers[1].pk).update(deleted_at=routers[1].last_seen_at)
    changed = _project_ncm_routers_sql(tenant.pk, parts=parts)
    assert (changed["created"], changed["updated"], changed["deleted"], changed["unchanged"]) == (0, 1, 1, 23)
    devices = _devices(tenant)
    assert devices[routers[0].ncm_id][:3] == ("renamed", "offline", True)
    assert devices[routers[1].ncm_id][2] is False
