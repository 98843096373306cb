"""Issue 11's reproductions, each refused with nothing changed, through the API, the UI forms and the admin."""
from __future__ import annotations

import base64

import pytest
from django.test import Client
from django_otp.plugins.otp_totp.models import TOTPDevice

from accounts.models import ApiToken, Membership, Tenant, User
from accounts.roles import Action
from portal.scoping import allowed_organizations, allowed_tenants
from tests.factories import make_token, make_user

pytestmark = pytest.mark.django_db


def _reach(user: User):
    return (set(allowed_tenants(user, Action.VIEW).values_list("id", flat=True)),
            set(allowed_organizations(user, Action.MANAGE_USERS).values_list("id", flat=True)),
            set(Membership.objects.filter(user=user).values_list("id", "organization_id", "tenant_id", "role")))


#
# 1. A customer's admin making itself admin of its MSP organization
#
def test_customer_admin_cannot_grant_itself_the_msp_organization(world, client_for):
    customer = world.actor("admin", "tenant", 0).user
    client = client_for(customer)
    before = _reach(customer)
    response = client.post("/api/v1/memberships/", {"user": customer.pk, "organization": world.orgs[0].pk, "role": "admin"},
                           format="json")
    assert response.status_code == 403, response.content
    assert "organization" in response.json()
    own = Membership.objects.get(user=customer)
    response = client.patch(f"/api/v1/memberships/{own.pk}/", {"organization": world.orgs[0].pk, "tenant": None},
                            format="json")
    assert response.status_code == 403, response.content
    assert client.delete(f"/api/v1/memberships/{own.pk}/").status_code == 403
    assert _reach(customer) == before
    assert client.get("/api/v1/tenants/").json()["count"] == 1


def test_customer_admin_cannot_grant_a_sock_puppet_the_organization(world, client_for):
    customer = world.actor("admin", "tenant", 0).user
    client = client_for(customer)
    created = client.post("/api/v1/users/", {"username": "puppet", "password": "a-long-enough-pass-42"}, format="json")
    assert created.status_code == 201, created.content
    puppet = User.objects.get(username="puppet")
    assert puppet.home_tenant_id == world.tenants[0].pk
    response = client.post("/api/v1/memberships/", {"user": puppet.pk, "organization": world.orgs[0].pk, "role": "admin"},
                           format="json")
    assert response.status_code == 403
    # On its own tenant, any role up to its own is fine.
    ok = client.post("/api/v1/memberships/", {"user": puppet.pk, "tenant": world.tenants[0].pk, "role": "admin"},
                     format="json")
    assert ok.status_code == 201, ok.content
    assert not Membership.objects.filter(user=puppet, organization__isnull=False).exists()


def test_org_admin_cannot_edit_its_own_memberships_but_can_others(world, client_for):
    admin = world.actor("admin", "org", 0).user
    client = client_for(admin)
    own = Membership.objects.get(user=admin)
    assert client.patch(f"/api/v1/memberships/{own.pk}/", {"role": "read_only"}, format="json").status_code == 403
    other = Membership.objects.get(user=world.actor("read_only", "tenant", 0).user)
    response = client.patch(f"/api/v1/memberships/{other.pk}/", {"role": "diagnostic"}, format="json")
    assert response.status_code == 200, response.content
    assert Membership.objects.get(pk=other.pk).role == "diagnostic"


def test_customer_admin_cannot_create_or_delete_tenants(world, client_for):
    client = client_for(world.actor("admin", "tenant", 0).user)
    count = Tenant.objects.count()
    assert client.post("/api/v1/tenants/", {"organization": world.orgs[0].pk, "name": "Mine", "slug": "mine"},
                       format="json").status_code == 403
    assert client.delete(f"/api/v1/tenants/{world.tenants[0].pk}/").status_code == 403
    assert Tenant.objects.count() == count


def test_ui_refuses_a_membership_on_a_scope_the_admin_does_not_manage(world):
    """The UI form offers only managed scopes; a forged POST hits the same service rule."""
    customer = world.actor("admin", "tenant", 0).user
    member = make_user(tenant=world.tenants[0])
    client = Client()
    client.force_login(customer)
    response = client.post(f"/org/users/{member.pk}/memberships/", {"scope": f"org:{world.orgs[0].pk}", "role": "admin"})
    assert response.status_code in (302, 400, 403)
    assert not Membership.objects.filter(user=member, organization__isnull=False).exists()
    own = client.post(f"/org/users/{customer.pk}/memberships/", {"scope": f"tenant:{world.tenants[0].pk}", "role": "admin"})
    assert own.status_code == 403
    assert Membership.objects.filter(user=customer).count() == 1


#
# 2. Tokens never create tokens wider than themselves
#
def test_bound_token_cannot_mint_an_unbound_token(world, api_client):
    admin = world.actor("admin", "org", 0).user
    bound = make_token(admin, tenant=world.tenants[0])
    api_client.credentials(HTTP_AUTHORIZATION=f"Token {bound}")
    count = ApiToken.objects.count()
    response = api_client.post("/api/v1/tokens/", {"name": "escape"}, format="json")
    assert response.status_code == 400 and "tenant" in response.json()
    response = api_client.post("/api/v1/tokens/", {"name": "escape", "tenant": world.tenants[1].pk}, format="json")
    assert response.status_code == 400
    assert ApiToken.objects.count() == count
    same = api_client.post("/api/v1/tokens/", {"name": "child", "tenant": world.tenants[0].pk, "write_enabled": False},
                           format="json")
    assert same.status_code == 201, same.content
    assert same.json()["tenant"] == world.tenants[0].pk and same.json()["write_enabled"] is False


def test_bound_token_cannot_revoke_or_see_the_owners_other_tokens(world, api_client):
    admin = world.actor("admin", "org", 0).user
    unbound = ApiToken.objects.get(prefix=make_token(admin)[:11])
    bound = make_token(admin, tenant=world.tenants[0])
    api_client.credentials(HTTP_AUTHORIZATION=f"Token {bound}")
    assert api_client.delete(f"/api/v1/tokens/{unbound.pk}/").status_code == 404
    assert unbound.pk not in {t["id"] for t in api_client.get("/api/v1/tokens/").json()["results"]}
    unbound.refresh_from_db()
    assert unbound.revoked_at is None
    # It may revoke itself.
    me = ApiToken.objects.get(prefix=bound[:11])
    assert api_client.delete(f"/api/v1/tokens/{me.pk}/").status_code == 204


def test_read_only_token_creates_nothing_and_bound_token_cannot_set_the_password(world, api_client):
    admin = world.actor("admin", "org", 0).user
    api_client.credentials(HTTP_AUTHORIZATION=f"Token {make_token(admin, write_enabled=False)}")
    assert api_client.post("/api/v1/tokens/", {"name": "x"}, format="json").status_code == 403
    api_client.credentials(HTTP_AUTHORIZATION=f"Token {make_token(admin, tenant=world.tenants[0])}")
    response = api_client.patch(f"/api/v1/users/{admin.pk}/", {"password": "another-long-pass-77"}, format="json")
    assert response.status_code in (403, 404)
    admin.refresh_from_db()
    assert admin.check_password("correct-horse-battery")


def test_operator_bound_token_is_bound(world, operator, api_client):
    api_client.credentials(HTTP_AUTHORIZATION=f"Token {make_token(operator, tenant=world.tenants[0])}")
    assert api_client.get("/api/v1/tenants/").json()["count"] == 1
    assert api_client.post("/api/v1/tokens/", {"name": "wide"}, format="json").status_code == 400
    assert api_client.post("/api/v1/memberships/", {"user": operator.pk, "organization": world.orgs[1].pk,
                                                     "role": "admin"}, format="json").status_code in (400, 403)


#
# 3. A password alone never passes two-factor sign-in
#
def _enrol(user) -> TOTPDevice:
    return TOTPDevice.objects.create(user=user, name="phone", confirmed=True)


def test_basic_auth_is_refused_for_everyone_including_two_factor_users(world, api_client):
    user = world.actor("admin", "org", 0).user
    _enrol(user)
    world.orgs[0].require_two_factor = True
    world.orgs[0].save()
    value = base64.b64encode(f"{user.username}:correct-horse-battery".encode()).decode()
    api_client.credentials(HTTP_AUTHORIZATION=f"Basic {value}")
    assert api_client.post(f"/api/v1/tenants/{world.tenants[0].pk}/sync/").status_code == 401
    assert api_client.post("/api/v1/tokens/", {"name": "from-a-password"}, format="json").status_code == 401
    assert not ApiToken.objects.filter(name="from-a-password").exists()


@pytest.mark.parametrize("how", ["device", "org-requires"])
def test_unverified_session_reaches_no_api(world, how):
    user = world.actor("admin", "org", 0).user
    if how == "device":
        _enrol(user)
    else:
        world.orgs[0].require_two_factor = True
        world.orgs[0].save()
    client = Client()
    assert client.post("/login/", {"username": user.username, "password": "correct-horse-battery"}).status_code == 302
    assert client.get("/api/v1/tenants/").status_code == 403
    assert client.post("/api/v1/tokens/", {"name": "t"}, content_type="application/json").status_code == 403
    assert client.get("/admin/").status_code == 302  # to the second factor, not the admin
    assert not ApiToken.objects.filter(user=user).exists()


def test_a_token_of_a_two_factor_user_still_works(world, client_for):
    """A token was created behind the second factor; it is the integrator's credential."""
    user = world.actor("admin", "org", 0).user
    _enrol(user)
    assert client_for(user).get("/api/v1/tenants/").status_code == 200


#
# 4. Admin: platform flags for superusers only
#
def _staff_admin_client(world):
    """An organization admin given admin-site access (staff), signed in."""
    staff = world.actor("admin", "org", 0).user
    staff.is_staff = True
    staff.save()
    client = Client()
    client.force_login(staff)
    return staff, client


def test_staff_org_admin_cannot_make_itself_superuser_in_the_admin(world):
    staff, client = _staff_admin_client(world)
    page = client.get(f"/admin/accounts/user/{staff.pk}/change/").content.decode()
    assert 'name="is_superuser"' not in page and 'name="is_staff"' not in page
    client.post(f"/admin/accounts/user/{staff.pk}/change/", {
        "username": staff.username, "is_superuser": "on", "is_staff": "on", "is_active": "on",
        "date_joined_0": "2026-01-01", "date_joined_1": "00:00:00",
    })
    staff.refresh_from_db()
    assert not staff.is_superuser


def test_staff_org_admin_cannot_grant_itself_memberships_in_the_admin(world):
    staff, client = _staff_admin_client(world)
    response = client.post("/admin/accounts/membership/add/", {"user": staff.pk, "tenant": world.tenants[1].pk,
                                                                "role": "admin"})
    assert response.status_code in (200, 403)
    assert Membership.objects.filter(user=staff).count() == 1


#
# 5. Logs and outbound targets
#
def test_alert_push_token_is_redacted_from_request_logs():
    from portal.logging import redact

    line = '"POST /hooks/ncm/Yp3kq9ZbXbT0aVw2Q/ HTTP/1.1" 202 2'
    assert "Yp3kq9ZbXbT0aVw2Q" not in redact(line) and "/hooks/ncm/[redacted]/" in redact(line)


@pytest.mark.parametrize("address", ["2002:c0a8:0101::1", "2002:7f00:1::1", "2001:0:4136:e378:8000:63bf:3fff:fdd2",
                                     "64:ff9b::a00:1", "::10.0.0.1", "::ffff:10.0.0.1", "100.64.0.1"])
def test_addresses_that_translate_to_private_ones_are_refused(address):
    from portal.safe_http import is_public_address

    assert not is_public_address(address)


def test_ordinary_public_addresses_are_still_allowed():
    from portal.safe_http import is_public_address

    assert is_public_address("2606:4700:4700::1111") and is_public_address("1.1.1.1")


def test_only_the_operator_removes_an_organization(world, client_for, operator):
    from accounts.models import Organization
    from tests.factories import make_org

    empty = make_org("Empty MSP")
    admin = make_user("empty-admin", org=empty, role="admin")
    assert client_for(admin).delete(f"/api/v1/organizations/{empty.pk}/").status_code == 403
    assert Organization.objects.filter(pk=empty.pk).exists()
    Membership.objects.filter(user=admin).delete()
    assert client_for(operator).delete(f"/api/v1/organizations/{empty.pk}/").status_code == 204
