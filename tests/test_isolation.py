"""Generic tenant-isolation test over every endpoint on the API router.

Two organizations with two tenants each, and a user of every role at organization and tenant level. For
each endpoint: lists show no out-of-scope row; foreign details answer 404; writes on foreign objects fail
with the row unchanged; a create naming a foreign tenant fails; roles without the write action get 403.
A new endpoint is covered without editing this file (it only needs a Spec in tests/api_specs.py).
"""
from __future__ import annotations

import pytest
from django.forms.models import model_to_dict

import portal.urls  # noqa: F401  (registers every viewset on the router)
import tests.specs_registry  # noqa: F401  (apps' specs)
from accounts.models import Organization
from accounts.roles import ROLE_ACTIONS
from portal.api.router import router
from portal.api.viewsets import TenantScopedViewSet
from tests.api_specs import SPECS

ENDPOINTS = [(prefix, viewset) for prefix, viewset, _ in router.registry]


def test_router_has_endpoints():
    assert len(ENDPOINTS) >= 7


@pytest.mark.parametrize("prefix,viewset", ENDPOINTS, ids=[p for p, _ in ENDPOINTS])
def test_every_viewset_is_scoped(prefix, viewset):
    assert issubclass(viewset, TenantScopedViewSet), f"{prefix} bypasses the scoped base viewset"
    assert viewset.queryset.model in SPECS, f"add a Spec for {viewset.queryset.model.__name__} in tests/api_specs.py"


def test_scoping_methods_cannot_be_overridden():
    from rest_framework import mixins

    for name in ("get_queryset", "get_object", "get_permissions", "initial", "perform_create"):
        with pytest.raises(TypeError):
            type("Sneaky", (TenantScopedViewSet,), {name: lambda self: None})
    # A mixin listed before the base would shadow its checked perform_create: refused too.
    with pytest.raises(TypeError):
        type("Shadowed", (mixins.CreateModelMixin, TenantScopedViewSet), {})


def _results(response):
    data = response.json()
    return data["results"] if isinstance(data, dict) and "results" in data else data


def _is_foreign(actor, world, obj_tenant) -> bool:
    return obj_tenant.pk not in actor.tenants(world)


@pytest.mark.django_db
@pytest.mark.parametrize("prefix,viewset", ENDPOINTS, ids=[p for p, _ in ENDPOINTS])
def test_endpoint_isolation(world, client_for, prefix, viewset, operator):
    model = viewset.queryset.model
    spec = SPECS[model]
    objects = [(tenant, spec.make(tenant)) for tenant in world.tenants]
    url = f"/api/v1/{prefix}/"
    can_update = hasattr(viewset, "partial_update")
    can_delete = hasattr(viewset, "destroy")
    can_create = hasattr(viewset, "create")

    for actor in world.actors:
        client = client_for(actor.user)
        if model is Organization:
            foreign = [o for t, o in objects if t.organization_id != actor.org.pk]
        else:
            foreign = [o for t, o in objects if _is_foreign(actor, world, t)]
        own = [o for t, o in objects if o not in foreign]

        listing = client.get(url, {"limit": 1000})
        assert listing.status_code in (200, 403), (actor, listing.status_code)
        if listing.status_code == 200:
            ids = {row["id"] for row in _results(listing)}
            leaked = ids & {o.pk for o in foreign}
            assert not leaked, f"{actor} sees foreign {prefix} {leaked}"
            if actor.role == "admin" and actor.level == "org":
                assert {o.pk for o in own} <= ids, f"{actor} misses own {prefix}"
        else:
            assert viewset.read_action not in ROLE_ACTIONS[actor.role]

        for obj in foreign:
            before = model_to_dict(type(obj).objects.get(pk=obj.pk))
            detail = f"{url}{obj.pk}/"
            assert client.get(detail).status_code == 404, (actor, detail)
            if can_update:
                body = spec.update_payload() if spec.update_payload else {}
                assert client.patch(detail, body, format="json").status_code == 404, (actor, detail)
            if can_delete:
                assert client.delete(detail).status_code == 404, (actor, detail)
            assert model_to_dict(type(obj).objects.get(pk=obj.pk)) == before, f"{actor} changed foreign {detail}"

        if can_create and spec.create_payload and spec.names_tenant:
            foreign_tenant = next(t for t in world.tenants if _is_foreign(actor, world, t))
            count = type(objects[0][1]).objects.count()
            response = client.post(url, spec.create_payload(foreign_tenant), format="json")
            assert response.status_code in (400, 403, 404), (actor, response.status_code, response.content[:300])
            assert type(objects[0][1]).objects.count() == count

        if viewset.write_action not in ROLE_ACTIONS[actor.role] and own:
            obj = own[0]
            detail = f"{url}{obj.pk}/"
            if can_delete:
                expected = 404 if viewset.read_action not in ROLE_ACTIONS[actor.role] else 403
                assert client.delete(detail).status_code == expected, (actor, detail)
            if can_create and spec.create_payload:
                own_tenant = actor.tenant or next(t for t in world.tenants if t.organization_id == actor.org.pk)
                assert client.post(url, spec.create_payload(own_tenant), format="json").status_code == 403, actor

    # The payloads are valid: the right role in the right scope succeeds (so the refusals above mean something).
    if can_create and spec.create_payload:
        tenant = world.tenants[0]
        admin = operator if viewset.create_requires_operator else world.actor("admin", "org", 0).user
        response = client_for(admin).post(url, spec.create_payload(tenant), format="json")
        assert response.status_code == 201, response.content[:500]
