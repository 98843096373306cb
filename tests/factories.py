"""Test data builders: organizations, tenants, users of every role, credentials, tokens.

Every secret written by tests starts with SECRET_MARK, so the suite can prove none ever leaks.
"""
from __future__ import annotations

import itertools
from dataclasses import dataclass, field

from accounts.models import Membership, Organization, Tenant, User
from accounts.roles import Role
from accounts.services import api_token_create, credential_save

SECRET_MARK = "tsecret-"
_counter = itertools.count(1)


def unique(prefix: str) -> str:
    return f"{prefix}{next(_counter)}"


def make_org(name: str | None = None) -> Organization:
    name = name or unique("org")
    return Organization.objects.create(name=name, slug=name.lower().replace(" ", "-"))


def make_tenant(org: Organization, name: str | None = None, **fields) -> Tenant:
    name = name or unique("tenant")
    return Tenant.objects.create(organization=org, name=name, slug=name.lower().replace(" ", "-"), **fields)


def make_user(username: str | None = None, *, org=None, tenant=None, role=Role.READ_ONLY, **fields) -> User:
    user = User.objects.create_user(username=username or unique("user"), password="correct-horse-battery", **fields)
    if org is not None:
        Membership.objects.create(user=user, organization=org, role=role)
    if tenant is not None:
        Membership.objects.create(user=user, tenant=tenant, role=role)
    return user


def secret_values(tag: str) -> dict[str, str]:
    return {name: f"{SECRET_MARK}{name}-{tag}-0123456789" for name in ("cp_api_id", "cp_api_key", "ecm_api_id", "ecm_api_key")}


def make_credential(tenant: Tenant, base_url: str = "https://www.cradlepointecm.com/api/v2", secrets: dict | None = None):
    return credential_save(
        tenant=tenant, provider="ncm", base_url=base_url, secrets_in=secrets or secret_values(str(tenant.pk))
    )


def make_token(user: User, **kwargs) -> str:
    return api_token_create(user=user, **kwargs)[1]


@dataclass
class Actor:
    user: User
    role: str
    level: str  # "org" or "tenant"
    org: Organization
    tenant: Tenant | None = None

    def tenants(self, world: "World") -> set[int]:
        """Tenant ids this actor may view."""
        if self.level == "org":
            return {t.pk for t in world.tenants if t.organization_id == self.org.pk}
        return {self.tenant.pk}

    def __str__(self) -> str:
        return f"{self.role}@{self.level}:{self.tenant.name if self.tenant else self.org.name}"


@dataclass
class World:
    """Two MSP organizations with two tenants each, and a user of every role at both levels."""

    orgs: list[Organization]
    tenants: list[Tenant]
    actors: list[Actor] = field(default_factory=list)

    def actor(self, role: str, level: str = "org", index: int = 0) -> Actor:
        return next(a for a in self.actors if a.role == role and a.level == level and (a.tenant or a.org) in (
            [self.tenants[index]] if level == "tenant" else [self.orgs[index]]))


def build_world() -> World:
    orgs = [make_org("MSP Alpha"), make_org("MSP Beta")]
    tenants = [make_tenant(org, f"{org.slug}-cust{i}") for org in orgs for i in (1, 2)]
    world = World(orgs=orgs, tenants=tenants)
    for role in Role.values:
        for org in orgs:
            world.actors.append(Actor(make_user(f"{org.slug}-{role}", org=org, role=role), role, "org", org))
        for tenant in tenants:
            world.actors.append(
                Actor(make_user(f"{tenant.slug}-{role}", tenant=tenant, role=role), role, "tenant", tenant.organization, tenant)
            )
    return world
