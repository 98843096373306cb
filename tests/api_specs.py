"""How to build an in-tenant object and a create/update body for each API model.

The generic isolation test walks every endpoint on the API router; an endpoint whose model has no spec here
fails that test, so a new endpoint is covered (and must be described) the day it is added.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

from django.apps import apps

from accounts.models import ApiToken, AuditEvent, Credential, Membership, Organization, Tenant, User
from tests.factories import make_credential, make_tenant, make_user, secret_values, unique


@dataclass
class Spec:
    make: Callable[[Tenant], Any]
    create_payload: Callable[[Tenant], dict] | None = None
    update_payload: Callable[[], dict] | None = None
    # Whether the body of create_payload names the tenant (directly or through a related object).
    names_tenant: bool = True


def _user_payload(tenant: Tenant) -> dict:
    return {"username": unique("newuser"), "email": "n@example.com", "password": "a-long-enough-pass-42", "tenant": tenant.pk}


def _membership_payload(tenant: Tenant) -> dict:
    user = User.objects.create_user(unique("member"), home_tenant=tenant)
    return {"user": user.pk, "tenant": tenant.pk, "role": "read_only"}


def _credential_payload(tenant: Tenant) -> dict:
    fresh = make_tenant(tenant.organization)
    return {"tenant": fresh.pk, "base_url": "https://www.cradlepointecm.com/api/v2", **secret_values("new")}


def _token(tenant: Tenant) -> ApiToken:
    from accounts.services import api_token_create

    return api_token_create(user=make_user(tenant=tenant), name="spec")[0]


def _audit(tenant: Tenant) -> AuditEvent:
    return AuditEvent.objects.create(
        tenant=tenant, organization=tenant.organization, action="update", object_type="accounts.tenant",
        object_id=str(tenant.pk),
    )


SPECS: dict[type, Spec] = {
    Organization: Spec(
        make=lambda t: t.organization,
        create_payload=lambda t: {"name": unique("Org "), "slug": unique("org-")},
        update_payload=lambda: {"name": unique("Renamed ")},
        names_tenant=False,
    ),
    Tenant: Spec(
        make=lambda t: t,
        create_payload=lambda t: {"organization": t.organization_id, "name": unique("T "), "slug": unique("t-")},
        update_payload=lambda: {"name": unique("Renamed ")},
    ),
    User: Spec(make=lambda t: make_user(tenant=t), create_payload=_user_payload, update_payload=lambda: {"email": "x@example.com"}),
    Membership: Spec(
        make=lambda t: Membership.objects.create(user=User.objects.create_user(unique("m")), tenant=t, role="read_only"),
        create_payload=_membership_payload,
        update_payload=lambda: {"role": "diagnostic"},
    ),
    Credential: Spec(make=make_credential, create_payload=_credential_payload, update_payload=lambda: {"cp_api_key": "tsecret-rotated-0123456789"}),
    ApiToken: Spec(make=_token, create_payload=lambda t: {"name": "mine"}, update_payload=lambda: {"name": "renamed"}, names_tenant=False),
    AuditEvent: Spec(make=_audit),
}


def register(model_label: str, spec: Spec) -> None:
    """Apps add specs for their own models (see tests/<app>/specs.py)."""
    SPECS[apps.get_model(model_label)] = spec
