"""Accounts API flows: organizations, tenants, users, memberships, credentials, tokens, audit; bad input."""
from __future__ import annotations

import pytest
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext

from accounts.models import ApiToken, AuditEvent, Credential, Membership, User
from tests.factories import SECRET_MARK, make_credential, make_tenant, make_user, secret_values

pytestmark = pytest.mark.django_db


def test_operator_builds_an_msp_with_customers_and_users(operator, client_for):
    api = client_for(operator)
    org = api.post("/api/v1/organizations/", {"name": "Acme MSP", "slug": "acme"}, format="json")
    assert org.status_code == 201, org.content
    tenant = api.post(
        "/api/v1/tenants/",
        {"organization": org.json()["id"], "name": "Bakery", "slug": "bakery", "timezone": "Europe/Berlin"},
        format="json",
    ).json()
    assert tenant["sync_status"] == "never" and tenant["timezone"] == "Europe/Berlin"
    user = api.post(
        "/api/v1/users/",
        {"username": "baker", "email": "b@example.com", "password": "a-long-enough-pass-42", "tenant": tenant["id"]},
        format="json",
    )
    assert user.status_code == 201, user.content
    assert "password" not in user.json()
    membership = api.post(
        "/api/v1/memberships/", {"user": user.json()["id"], "tenant": tenant["id"], "role": "read_only"}, format="json"
    )
    assert membership.status_code == 201, membership.content
    # The new customer login sees its own tenant only.
    customer = User.objects.get(username="baker")
    listing = client_for(customer).get("/api/v1/tenants/").json()
    assert [t["id"] for t in listing["results"]] == [tenant["id"]]


def test_org_admin_creates_user_defaulting_to_its_organization(world, client_for):
    admin = world.actor("admin", "org", 0)
    response = client_for(admin.user).post(
        "/api/v1/users/", {"username": "newbie", "password": "a-long-enough-pass-42"}, format="json"
    )
    assert response.status_code == 201, response.content
    assert User.objects.get(username="newbie").home_organization == world.orgs[0]
    # Visible to its admins, invisible to the other MSP.
    assert client_for(admin.user).get(f"/api/v1/users/{response.json()['id']}/").status_code == 200
    other = world.actor("admin", "org", 1)
    assert client_for(other.user).get(f"/api/v1/users/{response.json()['id']}/").status_code == 404


def test_tenant_admin_cannot_grant_organization_membership(world, client_for):
    tenant_admin = world.actor("admin", "tenant", 0)
    target = make_user(tenant=world.tenants[0])
    response = client_for(tenant_admin.user).post(
        "/api/v1/memberships/", {"user": target.pk, "organization": world.orgs[0].pk, "role": "admin"}, format="json"
    )
    # The MSP is visible to its customer (by name) but not manageable: refused and rolled back.
    assert response.status_code == 403
    assert not Membership.objects.filter(user=target, organization=world.orgs[0]).exists()


def test_membership_needs_exactly_one_scope(world, client_for):
    admin = world.actor("admin", "org", 0)
    target = make_user(org=None)
    target.home_organization = world.orgs[0]
    target.save()
    response = client_for(admin.user).post(
        "/api/v1/memberships/",
        {"user": target.pk, "organization": world.orgs[0].pk, "tenant": world.tenants[0].pk, "role": "admin"},
        format="json",
    )
    assert response.status_code == 400 and "organization" in response.json()


def test_patch_moving_tenant_to_foreign_org_is_refused(world, client_for):
    admin = world.actor("admin", "org", 0)
    tenant = world.tenants[0]
    response = client_for(admin.user).patch(
        f"/api/v1/tenants/{tenant.pk}/", {"organization": world.orgs[1].pk}, format="json"
    )
    assert response.status_code == 400
    tenant.refresh_from_db()
    assert tenant.organization == world.orgs[0]


#
# Credentials
#
def test_credential_secrets_are_write_only_and_encrypted(world, client_for):
    admin = world.actor("admin", "org", 0)
    tenant = world.tenants[0]
    secrets = secret_values("api")
    response = client_for(admin.user).post(
        "/api/v1/credentials/", {"tenant": tenant.pk, **secrets}, format="json"
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["base_url"] == "https://www.cradlepointecm.com/api/v2"  # the default
    assert set(body["hints"]) >= {"cp_api_id", "cp_api_key"} and body["hints"]["cp_api_key"].startswith("••••")
    for name in secrets:
        assert name not in body
    # At rest: no clear secret anywhere in the row.
    with connection.cursor() as cursor:
        cursor.execute("SELECT * FROM accounts_credential")
        assert SECRET_MARK not in repr(cursor.fetchall())
    # Audit entry exists and is redacted.
    event = AuditEvent.objects.get(object_type="accounts.credential", action="create")
    assert SECRET_MARK not in repr(event.changes)


def test_credential_update_keeps_unsent_secrets(world, client_for):
    from accounts.services import credential_secrets

    credential = make_credential(world.tenants[0])
    original = credential_secrets(credential)
    admin = world.actor("admin", "org", 0)
    response = client_for(admin.user).patch(
        f"/api/v1/credentials/{credential.pk}/", {"cp_api_key": "tsecret-new-key-0123456789"}, format="json"
    )
    assert response.status_code == 200, response.content
    credential.refresh_from_db()
    updated = credential_secrets(credential)
    assert updated["cp_api_key"] == "tsecret-new-key-0123456789"
    assert updated["ecm_api_key"] == original["ecm_api_key"]


@pytest.mark.parametrize(
    "base_url",
    ["ftp://www.cradlepointecm.com/api/v2", "https://evil.example.com/api/v2", "http://169.254.169.254/latest",
     "https://user:pw@www.cradlepointecm.com/api/v2", "not a url", "https://www.cradlepointecm.com.evil.com/api/v2"],
)
def test_credential_base_url_outside_allowlist_is_400(world, client_for, base_url):
    admin = world.actor("admin", "org", 0)
    response = client_for(admin.user).post(
        "/api/v1/credentials/", {"tenant": world.tenants[0].pk, "base_url": base_url, **secret_values("x")}, format="json"
    )
    assert response.status_code == 400
    assert "base_url" in response.json()
    assert not Credential.objects.exists()


def test_credentials_hidden_from_roles_without_credential_rights(world, client_for):
    make_credential(world.tenants[0])
    full = world.actor("full_access", "org", 0)
    assert client_for(full.user).get("/api/v1/credentials/").status_code == 403


def test_credential_missing_secret_names_the_field(world, client_for):
    admin = world.actor("admin", "org", 0)
    response = client_for(admin.user).post(
        "/api/v1/credentials/", {"tenant": world.tenants[0].pk, "cp_api_id": "tsecret-only-one-0123"}, format="json"
    )
    assert response.status_code == 400
    assert {"cp_api_key", "ecm_api_id", "ecm_api_key"} <= set(response.json())


def test_rotate_encryption_keys_reencrypts_under_new_key(world, settings):
    from cryptography.fernet import Fernet

    from accounts.services import credential_secrets
    from portal.crypto import get_fernet

    credential = make_credential(world.tenants[0])
    old_token = credential.secrets_encrypted
    new_key = Fernet.generate_key().decode()
    settings.PORTAL_ENCRYPTION_KEYS = [new_key, *settings.PORTAL_ENCRYPTION_KEYS]
    get_fernet.cache_clear()
    try:
        call_command("rotate_encryption_keys")
        credential.refresh_from_db()
        assert credential.secrets_encrypted != old_token
        settings.PORTAL_ENCRYPTION_KEYS = [new_key]  # the old key can now be dropped
        get_fernet.cache_clear()
        assert credential_secrets(credential)["cp_api_key"].startswith(SECRET_MARK)
    finally:
        get_fernet.cache_clear()


def test_malformed_encryption_key_is_a_clear_startup_error(settings):
    from django.core.exceptions import ImproperlyConfigured

    from portal.crypto import get_fernet

    settings.PORTAL_ENCRYPTION_KEYS = ["not-a-fernet-key"]
    get_fernet.cache_clear()
    try:
        with pytest.raises(ImproperlyConfigured, match="key #1"):
            get_fernet()
    finally:
        get_fernet.cache_clear()


def test_missing_encryption_keys_refuse_to_start():
    import os
    import subprocess
    import sys

    env = {k: v for k, v in os.environ.items() if k != "PORTAL_ENCRYPTION_KEYS"}
    env.update(DJANGO_SETTINGS_MODULE="portal.settings", DJANGO_DEBUG="1")
    result = subprocess.run([sys.executable, "manage.py", "check"], env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode != 0
    assert "PORTAL_ENCRYPTION_KEYS is not set" in result.stderr


#
# Tokens
#
def test_create_api_token_command_prints_only_the_token(world, client_for, capsys):
    user = world.actor("read_only", "org", 0).user
    call_command("create_api_token", user.username, "--name", "ci", "--expires-days", "3")
    out = capsys.readouterr().out
    token = out.strip()
    assert out.count("\n") == 1 and token.startswith("ncmp_") and len(token) == 47
    stored = ApiToken.objects.get(user=user, name="ci")
    assert token not in repr(list(ApiToken.objects.values()))  # only a digest is stored
    assert stored.prefix == token[:11]
    from rest_framework.test import APIClient

    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    assert api.get("/api/v1/tenants/").status_code == 200
    stored.refresh_from_db()
    assert stored.last_used_at is not None


def test_expired_and_revoked_tokens_answer_401(world, time_machine):
    from datetime import timedelta

    from django.utils import timezone
    from rest_framework.test import APIClient

    from accounts.services import api_token_create

    user = world.actor("read_only", "org", 0).user
    token, clear = api_token_create(user=user, expires_days=1)
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {clear}")
    assert api.get("/api/v1/tenants/").status_code == 200
    time_machine.move_to(timezone.now() + timedelta(days=2))
    assert api.get("/api/v1/tenants/").status_code == 401

    token2, clear2 = api_token_create(user=user)
    api.credentials(HTTP_AUTHORIZATION=f"Token {clear2}")
    assert api.delete(f"/api/v1/tokens/{token2.pk}/").status_code == 204
    assert api.get("/api/v1/tenants/").status_code == 401


def test_admin_revokes_a_users_token_but_not_other_msps(world, client_for):
    from accounts.services import api_token_create

    member = world.actor("read_only", "tenant", 0).user
    token, _ = api_token_create(user=member, name="theirs")
    admin = client_for(world.actor("admin", "org", 0).user)
    listing = admin.get("/api/v1/tokens/").json()
    assert token.pk in {row["id"] for row in listing["results"]}
    assert all("token" not in row or row["token"] is None for row in listing["results"])
    assert client_for(world.actor("admin", "org", 1).user).delete(f"/api/v1/tokens/{token.pk}/").status_code == 404
    assert admin.delete(f"/api/v1/tokens/{token.pk}/").status_code == 204
    token.refresh_from_db()
    assert token.revoked_at is not None


def test_token_created_through_api_is_shown_once(world, client_for):
    api = client_for(world.actor("diagnostic", "org", 0).user)
    created = api.post("/api/v1/tokens/", {"name": "integration", "expires_days": 30}, format="json")
    assert created.status_code == 201
    clear = created.json()["token"]
    assert clear.startswith("ncmp_")
    assert api.get(f"/api/v1/tokens/{created.json()['id']}/").json()["token"] is None


#
# Audit
#
def test_changes_are_audited_with_actor_and_scope(world, client_for):
    admin = world.actor("admin", "org", 0)
    tenant = world.tenants[0]
    api = client_for(admin.user)
    assert api.patch(f"/api/v1/tenants/{tenant.pk}/", {"sync_interval_minutes": 30}, format="json").status_code == 200
    events = api.get("/api/v1/audit-events/", {"tenant": tenant.pk}).json()["results"]
    assert events[0]["action"] == "update"
    assert events[0]["changes"]["sync_interval_minutes"] == [15, 30]
    assert events[0]["actor_username"] == admin.user.username
    assert events[0]["request_id"]
    # Read-only roles and other MSPs see none of it; nobody can edit it.
    assert client_for(world.actor("read_only", "org", 0).user).get("/api/v1/audit-events/").status_code == 403
    assert client_for(world.actor("admin", "org", 1).user).get("/api/v1/audit-events/").json()["count"] == 0
    assert api.delete(f"/api/v1/audit-events/{events[0]['id']}/").status_code == 405


#
# Bad input
#
def test_malformed_json_is_400(world, client_for):
    api = client_for(world.actor("admin", "org", 0).user)
    response = api.generic("POST", "/api/v1/tenants/", "{not json", content_type="application/json")
    assert response.status_code == 400
    assert "detail" in response.json()


def test_wrong_types_name_the_field(world, client_for):
    api = client_for(world.actor("admin", "org", 0).user)
    response = api.post(
        "/api/v1/tenants/",
        {"organization": world.orgs[0].pk, "name": "x", "slug": "x", "sync_interval_minutes": "often", "timezone": "Mars/Base"},
        format="json",
    )
    assert response.status_code == 400
    assert {"sync_interval_minutes", "timezone"} <= set(response.json())


def test_unknown_tenant_id_is_400(world, client_for):
    api = client_for(world.actor("admin", "org", 0).user)
    response = api.post("/api/v1/credentials/", {"tenant": 999999, **secret_values("z")}, format="json")
    assert response.status_code == 400 and "tenant" in response.json()


@pytest.mark.parametrize("params,field", [({"limit": 1001}, "limit"), ({"limit": "ten"}, "limit"), ({"offset": -1}, "offset")])
def test_oversized_or_bad_pages_are_400(world, client_for, params, field):
    response = client_for(world.actor("admin", "org", 0).user).get("/api/v1/tenants/", params)
    assert response.status_code == 400
    assert field in response.json()


def test_unauthenticated_is_401_json(api_client):
    response = api_client.get("/api/v1/tenants/")
    assert response.status_code in (401, 403)
    assert "detail" in response.json()


#
# N+1
#
@pytest.mark.parametrize("path", ["/api/v1/tenants/", "/api/v1/users/", "/api/v1/memberships/", "/api/v1/credentials/",
                                  "/api/v1/tokens/", "/api/v1/audit-events/", "/api/v1/organizations/"])
def test_list_query_count_is_constant(world, client_for, path):
    admin = world.actor("admin", "org", 0)
    api = client_for(admin.user)

    def grow():
        for _ in range(3):
            tenant = make_tenant(world.orgs[0])
            make_credential(tenant)
            make_user(tenant=tenant)
            api.patch(f"/api/v1/tenants/{tenant.pk}/", {"sync_interval_minutes": 20}, format="json")

    api.get(path)
    grow()
    with CaptureQueriesContext(connection) as small:
        assert api.get(path).status_code == 200
    grow()
    grow()
    with CaptureQueriesContext(connection) as large:
        assert api.get(path).status_code == 200
    assert len(large) == len(small), f"{path}: {len(small)} → {len(large)} queries"


def test_customer_admin_cannot_change_msp_staff_on_its_tenant(world, client_for):
    """MSP staff holding a role on a customer's tenant stay out of reach of that customer's admin."""
    from accounts.models import Membership

    staff = world.actor("full_access", "org", 0).user
    Membership.objects.create(user=staff, tenant=world.tenants[0], role="read_only")
    customer_admin = client_for(world.actor("admin", "tenant", 0).user)
    assert customer_admin.get(f"/api/v1/users/{staff.pk}/").status_code == 200  # visible: they share the tenant
    assert customer_admin.delete(f"/api/v1/users/{staff.pk}/").status_code == 403
    assert customer_admin.patch(f"/api/v1/users/{staff.pk}/", {"email": "x@evil.example"}, format="json").status_code == 403
    staff.refresh_from_db()
    assert staff.is_active and staff.email != "x@evil.example"
    # The customer's own users remain manageable.
    own = world.actor("read_only", "tenant", 0).user
    assert customer_admin.patch(f"/api/v1/users/{own.pk}/", {"email": "own@example.com"}, format="json").status_code == 200


def test_token_bound_to_one_tenant_sees_only_that_tenant(world, client_for, operator):
    from accounts.services import api_token_create
    from rest_framework.test import APIClient

    def client(user, **kwargs):
        api = APIClient()
        api.credentials(HTTP_AUTHORIZATION=f"Token {api_token_create(user=user, **kwargs)[1]}")
        return api

    own, sibling, foreign = world.tenants[0], world.tenants[1], world.tenants[2]
    admin = world.actor("admin", "org", 0).user
    bound = client(admin, tenant=own)
    assert [t["id"] for t in bound.get("/api/v1/tenants/").json()["results"]] == [own.pk]
    assert bound.get(f"/api/v1/tenants/{sibling.pk}/").status_code == 404
    assert bound.patch(f"/api/v1/tenants/{sibling.pk}/", {"name": "x"}, format="json").status_code == 404
    assert bound.patch(f"/api/v1/tenants/{own.pk}/", {"name": "Renamed"}, format="json").status_code == 200
    # No organization-wide rights through a tenant-bound token.
    assert bound.post("/api/v1/users/", {"username": "nope", "password": "a-long-enough-pass-42",
                                          "organization": world.orgs[0].pk}, format="json").status_code in (400, 403)
    # An operator's bound token is bound too.
    op = client(operator, tenant=foreign)
    assert [t["id"] for t in op.get("/api/v1/tenants/").json()["results"]] == [foreign.pk]
    assert op.post("/api/v1/organizations/", {"name": "New MSP", "slug": "new-msp"}, format="json").status_code == 403
    # A tenant outside the owner's roles cannot be bound.
    response = client_for(admin).post("/api/v1/tokens/", {"name": "x", "tenant": foreign.pk}, format="json")
    assert response.status_code == 400 and "tenant" in response.json()


def test_read_only_token_cannot_write(world, client_for):
    from accounts.services import api_token_create
    from rest_framework.test import APIClient

    admin = world.actor("admin", "org", 0).user
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {api_token_create(user=admin, write_enabled=False)[1]}")
    assert api.get("/api/v1/tenants/").status_code == 200
    response = api.patch(f"/api/v1/tenants/{world.tenants[0].pk}/", {"name": "x"}, format="json")
    assert response.status_code == 403 and "read-only" in response.json()["detail"]
    world.tenants[0].refresh_from_db()
    assert world.tenants[0].name != "x"
    created = client_for(admin).post("/api/v1/tokens/", {"name": "noc", "write_enabled": False}, format="json")
    assert created.status_code == 201 and created.json()["write_enabled"] is False


def test_create_api_token_command_binds_tenant_and_read_only(world, capsys):
    from accounts.models import ApiToken

    user = world.actor("admin", "org", 0).user
    call_command("create_api_token", user.username, "--tenant", str(world.tenants[0].pk), "--read-only")
    token = capsys.readouterr().out.strip()
    assert token.startswith("ncmp_")
    stored = ApiToken.objects.get(prefix=token[:11])
    assert stored.tenant == world.tenants[0] and stored.write_enabled is False
