"""Generic privilege-escalation test over every write operation of the API router.

For each write operation (POST on a list, PUT/PATCH/DELETE on a detail, every custom POST action), as a
user of every role at organization and tenant level of two organizations, once with an unbound token and
once with a token bound to one of the user's tenants, it sends the operation's ordinary body and then that
body with each scope-bearing field (`organization`, `tenant`, `user`, `role`, `write_enabled`,
`is_superuser`, `is_staff`) set to a wider value: the caller's own organization instead of a tenant, a
sibling tenant, another organization's tenant, the caller itself as the `user`, the `admin` role.

Whatever each write answers, afterwards:
- no membership grants anything the caller (through the credential it used) does not hold on that scope,
  and no membership of the caller itself was created, changed or removed;
- no new API token reaches further than the credential that created it (binding, write access, expiry),
  and a tenant-bound token revoked no token beyond its tenant;
- no platform flag (`is_superuser`, `is_staff`) changed, and the caller's visible scope is the same;
- nothing answered 5xx.

A new endpoint is covered without editing this file: operations come from the router, bodies from
tests/api_specs.py (the Spec the isolation test already requires).
"""
from __future__ import annotations

import itertools
import os
from dataclasses import dataclass

import pytest
from django.db import transaction

import portal.urls  # noqa: F401  (registers every viewset on the router)
import tests.specs_registry  # noqa: F401  (apps' specs)
from accounts.authorization import actions_on
from accounts.models import ApiToken, Membership, Organization, Tenant, User
from accounts.roles import ROLE_ACTIONS, Action
from portal.api.router import router
from portal.scoping import allowed_organizations, allowed_tenants
from tests.api_specs import SPECS
from tests.factories import make_token

SCOPE_FIELDS = ("organization", "tenant", "user", "role", "write_enabled", "is_superuser", "is_staff")


@dataclass(frozen=True)
class Operation:
    prefix: str
    viewset: type
    method: str  # post, put, patch, delete
    detail: bool
    action: str  # create, update, partial_update, destroy, or a custom action's url_path

    @property
    def id(self) -> str:
        return f"{self.method.upper()} {self.prefix}{'/{id}' if self.detail else ''}" + (
            "" if self.action in ("create", "update", "partial_update", "destroy") else f"/{self.action}")


def discover_operations() -> list[Operation]:
    operations = []
    for prefix, viewset, _basename in router.registry:
        if hasattr(viewset, "create"):
            operations.append(Operation(prefix, viewset, "post", False, "create"))
        if hasattr(viewset, "update"):
            operations.append(Operation(prefix, viewset, "put", True, "update"))
        if hasattr(viewset, "partial_update"):
            operations.append(Operation(prefix, viewset, "patch", True, "partial_update"))
        if hasattr(viewset, "destroy"):
            operations.append(Operation(prefix, viewset, "delete", True, "destroy"))
        for extra in viewset.get_extra_actions():
            for method in extra.mapping:
                if method not in ("get", "head", "options"):
                    operations.append(Operation(prefix, viewset, method, extra.detail, extra.url_path))
    return operations


OPERATIONS = discover_operations()


def test_write_operations_are_discovered():
    ids = {op.id for op in OPERATIONS}
    assert "POST memberships" in ids and "PATCH memberships/{id}" in ids and "POST tokens" in ids
    assert "POST tenants/{id}/sync" in ids and "DELETE tokens/{id}" in ids
    assert len(OPERATIONS) >= 20


#
# The state that decides who can reach what
#
def _as_principal(user: User, token: ApiToken | None) -> User:
    """The user as a request authenticated with `token` sees itself (binding, read-only)."""
    principal = User.objects.get(pk=user.pk)
    if token is not None:
        principal.token_tenant_id = token.tenant_id
        principal.token_read_only = not token.write_enabled
        principal.request_token = token
    return principal


def _reach_state():
    memberships = {m[0]: m[1:] for m in Membership.objects.values_list("id", "user_id", "organization_id", "tenant_id", "role")}
    tokens = {t[0]: t[1:] for t in ApiToken.objects.values_list("id", "user_id", "tenant_id", "write_enabled", "expires_at",
                                                                  "revoked_at")}
    flags = set(User.objects.filter(is_superuser=True).values_list("id", flat=True)), set(
        User.objects.filter(is_staff=True).values_list("id", flat=True))
    return memberships, tokens, flags


def _visible_scope(user: User):
    return {
        action: (set(allowed_tenants(user, action).values_list("id", flat=True)),
                 set(allowed_organizations(user, action).values_list("id", flat=True)))
        for action in Action.values
    }


def violations(before, after, principal: User, credential: ApiToken) -> list[str]:
    """What the write granted beyond the principal's reach (empty: nothing)."""
    found = []
    (m_before, t_before, flags_before), (m_after, t_after, flags_after) = before, after
    if flags_before != flags_after:
        found.append(f"platform flags changed: {flags_before} -> {flags_after}")
    for pk in set(m_before) | set(m_after):
        old, new = m_before.get(pk), m_after.get(pk)
        if old == new:
            continue
        if principal.pk in {(old or (None,))[0], (new or (None,))[0]}:
            found.append(f"the caller's own membership changed: {old} -> {new}")
            continue
        if new is None:
            continue
        user_id, org_id, tenant_id, role = new
        scope = {"organization": Organization.objects.get(pk=org_id)} if org_id else {
            "tenant": Tenant.objects.get(pk=tenant_id)}
        held = actions_on(principal, **scope)
        if not ROLE_ACTIONS[role] <= held or Action.MANAGE_USERS not in held:
            found.append(f"membership {pk} grants {role} on {scope} beyond the caller's {sorted(held)}")
    for pk in set(t_after) - set(t_before):
        user_id, tenant_id, write_enabled, expires_at, _revoked = t_after[pk]
        if credential.tenant_id is not None and tenant_id != credential.tenant_id:
            found.append(f"token {pk} (tenant {tenant_id}) is wider than its tenant-{credential.tenant_id} creator")
        if write_enabled and not credential.write_enabled:
            found.append(f"token {pk} can write, its creator cannot")
        if credential.expires_at and (expires_at is None or expires_at > credential.expires_at):
            found.append(f"token {pk} outlives its creator")
    for pk in set(t_before) & set(t_after):
        was, now = t_before[pk], t_after[pk]
        if was[4] is None and now[4] is not None and credential.tenant_id is not None and pk != credential.pk \
                and was[1] != credential.tenant_id:
            found.append(f"a tenant-{credential.tenant_id} token revoked token {pk} beyond its tenant")
    return found


#
# Bodies
#
def _base_body(op: Operation, tenant) -> dict:
    spec = SPECS[op.viewset.queryset.model]
    if op.action == "create":
        return dict(spec.create_payload(tenant)) if spec.create_payload else {}
    if op.action in ("update", "partial_update"):
        return dict(spec.update_payload()) if spec.update_payload else {}
    return {}


def _scope_fields(op: Operation) -> list[str]:
    serializer_class = op.viewset.serializer_class
    if serializer_class is None:  # chosen per request (jobs): its body names the tenant through `tenant`
        return ["tenant"] if op.action == "create" else []
    fields = serializer_class().fields
    return [name for name in SCOPE_FIELDS if name in fields and not getattr(fields[name], "read_only", False)]


def candidate_bodies(op: Operation, base: dict, actor, world, power_user: User) -> list[dict]:
    """The ordinary body, then each scope-bearing field set to a wider value (and the worst combination)."""
    if op.action not in ("create", "update", "partial_update"):
        return [base]  # deletes and custom actions name their target in the URL only
    fields = _scope_fields(op)
    own_org = actor.org
    other_org = next(o for o in world.orgs if o.pk != own_org.pk)
    values = {
        "organization": [own_org.pk, other_org.pk],
        "tenant": [t.pk for t in world.tenants] + [None],
        "user": [actor.user.pk, power_user.pk],
        "role": ["admin"],
        "write_enabled": [True],
        "is_superuser": [True],
        "is_staff": [True],
    }
    bodies = [base]
    for name in fields:
        for value in values[name]:
            body = {**base, name: value}
            # Scopes are exclusive: naming one clears the other (as an attacker would send it).
            if name == "organization" and "tenant" in fields:
                body["tenant"] = None
            if name == "tenant" and value is not None and "organization" in fields:
                body["organization"] = None
            bodies.append(body)
    if "user" in fields and ("organization" in fields or "tenant" in fields):
        for org in (own_org.pk, other_org.pk):  # bug 1: oneself, admin, on the whole organization
            bodies.append({**base, "user": actor.user.pk, "organization": org, "tenant": None, "role": "admin"})
    return bodies


#
# The test
#
@pytest.mark.django_db
def test_the_escalation_test_catches_bug_1(world, monkeypatch):
    """Reintroduce issue 11's bug 1 (scope ids checked for `view` only, the role checked after the save):
    the generic test must catch a customer's admin making itself admin of its MSP organization."""
    import accounts.services
    from portal.api.viewsets import TenantScopedViewSet

    monkeypatch.setattr(accounts.services, "require_can_grant", lambda *a, **k: None)
    monkeypatch.setattr(accounts.services, "require_manages_user", lambda *a, **k: None)
    monkeypatch.setattr(TenantScopedViewSet, "_authorize_targets", lambda self, serializer: None)
    op = next(op for op in OPERATIONS if op.id == "POST memberships")
    customer_admin = world.actor("admin", "tenant", 0)
    with pytest.raises(AssertionError, match="grants admin on|own membership"):
        with transaction.atomic():
            _try_as(customer_admin, False, op, SPECS[Membership], world, world.actor("admin", "org", 0).user)


def _actors(world):
    """Every role at organization level, on a tenant of that organization, and on another organization's
    tenant (the same rules hold for the world's other scopes, which the isolation test walks)."""
    return [a for a in world.actors if (a.level == "org" and a.org == world.orgs[0])
            or (a.level == "tenant" and a.tenant in (world.tenants[0], world.tenants[2]))]


def _own_tenant(actor, world):
    return actor.tenant or next(t for t in world.tenants if t.organization_id == actor.org.pk)


@pytest.mark.django_db
@pytest.mark.parametrize("op", OPERATIONS, ids=[op.id for op in OPERATIONS])
def test_no_write_widens_anyones_reach(world, op):
    spec = SPECS[op.viewset.queryset.model]
    power_user = world.actor("admin", "org", 0).user
    checked = 0
    answers: dict[str, set[int]] = {}
    for actor, bound in itertools.product(_actors(world), (False, True)):
        # Each caller starts from the same world: what an earlier caller created or deleted is rolled back.
        with transaction.atomic():
            checked += _try_as(actor, bound, op, spec, world, power_user, answers)
            transaction.set_rollback(True)
    assert checked >= len(_actors(world)) * 2
    _report(op, answers)


def _report(op: Operation, answers: dict[str, set[int]]) -> None:
    """With ESCALATION_REPORT=<file>, append what each operation answered per caller (for the issue note)."""
    path = os.environ.get("ESCALATION_REPORT")
    if path:
        with open(path, "a") as out:
            out.write(f"{op.id}: " + "; ".join(f"{who} {sorted(codes)}" for who, codes in sorted(answers.items())) + "\n")


def _try_as(actor, bound: bool, op: Operation, spec, world, power_user, answers=None) -> int:
    from tests.conftest import SecretCheckingAPIClient

    checked = 0
    made = None  # the in-scope object detail operations act on (made again once deleted)
    tenant = _own_tenant(actor, world)
    clear = make_token(actor.user, tenant=tenant if bound else None)
    credential = ApiToken.objects.get(prefix=clear[:11], user=actor.user)
    client = SecretCheckingAPIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {clear}")
    principal = _as_principal(actor.user, credential)
    scope_before = _visible_scope(actor.user)
    tenants_before = set(Tenant.objects.values_list("id", flat=True))
    model = op.viewset.queryset.model
    for body in candidate_bodies(op, _base_body(op, tenant), actor, world, power_user):
        if op.detail:
            if made is None or not model.objects.filter(pk=made.pk).exists():
                made = actor.org if model is Organization else spec.make(tenant)
            url = f"/api/v1/{op.prefix}/{made.pk}/"
        else:
            url = f"/api/v1/{op.prefix}/"
        if op.action not in ("create", "update", "partial_update", "destroy"):
            url += f"{op.action}/"
        before = _reach_state()
        response = getattr(client, op.method)(url, body, format="json")
        assert response.status_code < 500, (op.id, str(actor), bound, body, response.content[:300])
        if answers is not None:
            answers.setdefault(f"{actor.role}@{actor.level}{'+bound' if bound else ''}", set()).add(response.status_code)
        found = violations(before, _reach_state(), principal, credential)
        assert not found, (op.id, str(actor), "bound" if bound else "unbound", body, response.status_code, found)
        checked += 1
    # The caller sees no more than before, except tenants it created itself in its own organization.
    for action, (tenants, orgs) in _visible_scope(actor.user).items():
        gained = (tenants - scope_before[action][0]) & tenants_before, orgs - scope_before[action][1]
        assert gained == (set(), set()), (op.id, str(actor), f"visible scope for {action} widened by {gained}")
    return checked
