"""Administration pages: users & memberships, NCM credentials (+ test connection against the simulator),
maintenance windows, webhooks and their delivery log. Scoping (404), roles (403, buttons absent), audit, and
no secret in any page."""
from __future__ import annotations

import re

import pytest

from accounts.models import AuditEvent, Credential, Membership, User
from accounts.roles import Role
from jobs.models import MaintenanceWindow
from tests.factories import SECRET_MARK, make_user, secret_values
from tests.ui.test_pages import body, login
from webhooks import services as webhook_services
from webhooks.models import DeliveryStatus, Webhook, WebhookDelivery

pytestmark = pytest.mark.django_db


def page_of(response) -> str:
    text = body(response)
    assert SECRET_MARK not in text, "a test secret leaked into a page"
    return text


def get(client, url, **params) -> tuple[int, str]:
    response = client.get(url, params)
    return response.status_code, page_of(response)


def post(client, url, data=None, **extra):
    response = client.post(url, data or {}, **extra)
    page_of(response)
    return response


def ui_audit(object_type: str, action: str | None = None):
    qs = AuditEvent.objects.filter(object_type=object_type, source="ui")
    return qs.filter(action=action) if action else qs


#
# Users and memberships
#
def test_users_page_is_for_admins_and_lists_only_their_scope(world):
    admin = login(world.actor(Role.ADMIN, "org", 0).user)
    status, page = get(admin, "/org/users/")
    assert status == 200 and 'id="new-user"' in page
    assert "msp-alpha-read_only" in page and f"{world.tenants[0].slug}-admin" in page
    assert "msp-beta-read_only" not in page and f"{world.tenants[2].slug}-admin" not in page
    assert 'id="nav-users"' in body(admin.get("/"))
    # Roles without manage_users: no link, and the pages refuse.
    for role in (Role.FULL_ACCESS, Role.DIAGNOSTIC, Role.READ_ONLY):
        client = login(world.actor(role, "org", 0).user)
        assert 'id="nav-users"' not in body(client.get("/"))
        assert client.get("/org/users/").status_code == 403
        assert client.get("/org/users/new/").status_code == 403
    target = world.actor(Role.READ_ONLY, "tenant", 0).user
    assert login(world.actor(Role.FULL_ACCESS, "org", 0).user).post(f"/org/users/{target.pk}/active/", {"active": "0"}).status_code == 403
    # Another MSP's admin: the user does not exist for them.
    other = login(world.actor(Role.ADMIN, "org", 1).user)
    assert other.get(f"/org/users/{target.pk}/").status_code == 404
    assert other.post(f"/org/users/{target.pk}/active/", {"active": "0"}).status_code == 404
    target.refresh_from_db()
    assert target.is_active
    # CSV export of the same scope.
    csv_text = body(admin.get("/org/users/", {"export": "csv"}))
    assert "msp-alpha-admin" in csv_text and "msp-beta-admin" not in csv_text


def test_admin_creates_user_with_a_first_role_audited(world):
    org = world.orgs[0]
    admin = login(world.actor(Role.ADMIN, "org", 0).user)
    status, form = get(admin, "/org/users/new/")
    assert status == 200 and f'value="org:{org.pk}"' in form and f'value="tenant:{world.tenants[0].pk}"' in form
    assert f'value="org:{world.orgs[1].pk}"' not in form and f'value="tenant:{world.tenants[2].pk}"' not in form
    data = {"username": "new-tech", "email": "t@example.com", "password": "a-long-enough-pass-42",
            "scope": f"tenant:{world.tenants[1].pk}", "role": Role.DIAGNOSTIC}
    response = post(admin, "/org/users/new/", data)
    user = User.objects.get(username="new-tech")
    assert response.status_code == 302 and response.url == f"/org/users/{user.pk}/"
    assert user.home_tenant == world.tenants[1] and user.check_password("a-long-enough-pass-42")
    assert list(user.memberships.values_list("tenant_id", "role")) == [(world.tenants[1].pk, Role.DIAGNOSTIC)]
    assert ui_audit("accounts.user", "create").filter(object_id=str(user.pk)).exists()
    assert ui_audit("accounts.membership", "create").exists()
    assert "a-long-enough-pass-42" not in repr(list(AuditEvent.objects.values_list("changes", flat=True)))
    detail = body(admin.get(response.url))
    assert "new-tech" in detail and "Diagnostic" in detail and 'id="deactivate-user"' in detail
    # Another MSP's organization or tenant is not a choice; a weak password is refused by the service.
    bad = post(admin, "/org/users/new/", {**data, "username": "sneaky", "scope": f"org:{world.orgs[1].pk}"})
    assert bad.status_code == 400 and not User.objects.filter(username="sneaky").exists()
    weak = post(admin, "/org/users/new/", {**data, "username": "weak", "password": "123"})
    assert weak.status_code == 400 and "password" in body(weak).lower() and not User.objects.filter(username="weak").exists()
    taken = post(admin, "/org/users/new/", {**data})
    assert taken.status_code == 400 and "taken" in body(taken)


def test_customer_admin_manages_only_its_own_tenant(world):
    tenant, other = world.tenants[0], world.tenants[1]
    customer = login(world.actor(Role.ADMIN, "tenant", 0).user)
    status, page = get(customer, "/org/users/")
    assert status == 200
    assert f"{tenant.slug}-read_only" in page
    assert f"{other.slug}-read_only" not in page and "msp-alpha-admin" not in page
    status, form = get(customer, "/org/users/new/")
    assert f'value="tenant:{tenant.pk}"' in form and "org:" not in form and f"tenant:{other.pk}" not in form
    # Sibling tenant's user: invisible. Its own user: an organization role cannot be granted.
    assert customer.get(f"/org/users/{world.actor(Role.READ_ONLY, 'tenant', 1).user.pk}/").status_code == 404
    mine = world.actor(Role.READ_ONLY, "tenant", 0).user
    response = post(customer, f"/org/users/{mine.pk}/memberships/", {"scope": f"org:{world.orgs[0].pk}", "role": Role.ADMIN})
    assert response.status_code == 302 and not Membership.objects.filter(user=mine, organization__isnull=False).exists()
    response = post(customer, f"/org/users/{mine.pk}/memberships/", {"scope": f"tenant:{other.pk}", "role": Role.ADMIN})
    assert not Membership.objects.filter(user=mine, tenant=other).exists()
    # The MSP's technician who also holds a role on this tenant is visible but cannot be deactivated from here.
    tech = make_user("msp-tech-x", org=world.orgs[0], role=Role.FULL_ACCESS)
    Membership.objects.create(user=tech, tenant=tenant, role=Role.READ_ONLY)
    status, detail = get(customer, f"/org/users/{tech.pk}/")
    assert status == 200 and 'id="deactivate-user"' not in detail
    roles = detail.split('id="memberships"')[1].split("</table>")[0]
    assert "organization (all its tenants)" not in roles and "1 more role outside your scope" in detail
    assert customer.post(f"/org/users/{tech.pk}/active/", {"active": "0"}).status_code == 403
    tech.refresh_from_db()
    assert tech.is_active


def test_membership_change_remove_and_deactivate(world):
    admin_user = world.actor(Role.ADMIN, "org", 0).user
    admin = login(admin_user)
    member = world.actor(Role.READ_ONLY, "tenant", 0).user
    membership = member.memberships.get()
    response = post(admin, f"/org/users/{member.pk}/memberships/{membership.pk}/", {f"m{membership.pk}-role": Role.DIAGNOSTIC})
    assert response.status_code == 302
    membership.refresh_from_db()
    assert membership.role == Role.DIAGNOSTIC
    event = ui_audit("accounts.membership", "update").get(object_id=str(membership.pk))
    assert event.changes["role"] == [Role.READ_ONLY, Role.DIAGNOSTIC]
    # Add a second role, remove the first.
    assert post(admin, f"/org/users/{member.pk}/memberships/", {"scope": f"tenant:{world.tenants[1].pk}", "role": Role.READ_ONLY}).status_code == 302
    duplicate = post(admin, f"/org/users/{member.pk}/memberships/", {"scope": f"tenant:{world.tenants[1].pk}", "role": Role.ADMIN})
    assert duplicate.status_code == 302 and member.memberships.get(tenant=world.tenants[1]).role == Role.READ_ONLY
    assert post(admin, f"/org/users/{member.pk}/memberships/{membership.pk}/remove/").status_code == 302
    assert not Membership.objects.filter(pk=membership.pk).exists()
    assert ui_audit("accounts.membership", "delete").filter(object_id=str(membership.pk)).exists()
    # Another MSP cannot touch the remaining one.
    remaining = member.memberships.get()
    other = login(world.actor(Role.ADMIN, "org", 1).user)
    assert other.post(f"/org/users/{member.pk}/memberships/{remaining.pk}/remove/").status_code == 404
    # Deactivate: the user can no longer sign in; activate again.
    assert post(admin, f"/org/users/{member.pk}/active/", {"active": "0"}).status_code == 302
    member.refresh_from_db()
    assert not member.is_active and ui_audit("accounts.user", "update").filter(object_id=str(member.pk)).exists()
    assert login(admin_user).get(f"/org/users/{member.pk}/").status_code == 200
    assert post(admin, f"/org/users/{member.pk}/active/", {"active": "1"}).status_code == 302
    member.refresh_from_db()
    assert member.is_active
    # Nobody deactivates or re-roles themselves here.
    own = admin_user.memberships.get()
    assert admin.post(f"/org/users/{admin_user.pk}/active/", {"active": "0"}).status_code == 403
    assert admin.post(f"/org/users/{admin_user.pk}/memberships/{own.pk}/remove/").status_code == 403


#
# Credentials
#
@pytest.fixture
def sim_fleet(settings):
    from ncm_sim.testing import SimFleet

    settings.NCM_RETRY_BACKOFF = 0.005
    with SimFleet() as fleet:
        yield fleet


def test_credentials_page_is_write_only_and_role_gated(world):
    tenant = world.tenants[0]
    url = f"/t/{tenant.pk}/credentials/"
    admin = login(world.actor(Role.ADMIN, "org", 0).user)
    status, page = get(admin, url)
    assert status == 200 and 'id="no-credential"' in page and 'id="nav-credentials"' in page
    secrets = secret_values("ui")
    response = post(admin, url, {"base_url": "https://www.cradlepointecm.com/api/v2", **secrets})
    assert response.status_code == 302
    credential = Credential.objects.get(tenant=tenant)
    status, page = get(admin, url)
    assert "••••6789" in page and 'id="test-connection"' in page and 'type="password"' in page
    event = ui_audit("accounts.credential", "create").get()
    assert SECRET_MARK not in repr(event.changes)
    # Empty inputs keep the stored values; one replaced secret changes only that one.
    from accounts.services import credential_secrets

    response = post(admin, url, {"base_url": credential.base_url, "cp_api_key": f"{SECRET_MARK}replaced-key-9999"})
    assert response.status_code == 302
    stored = credential_secrets(Credential.objects.get(pk=credential.pk))
    assert stored["cp_api_key"] == f"{SECRET_MARK}replaced-key-9999" and stored["ecm_api_key"] == secrets["ecm_api_key"]
    assert ui_audit("accounts.credential", "update").exists()
    # A bad base URL is refused and nothing typed is rendered back.
    bad = post(admin, url, {"base_url": "https://evil.example.com/api/v2", "cp_api_id": f"{SECRET_MARK}typed-0000"})
    assert bad.status_code == 400 and "not allowed" in body(bad)
    # Roles without manage_credentials: no link, 403; another MSP's tenant: 404.
    for role in (Role.FULL_ACCESS, Role.READ_ONLY):
        client = login(world.actor(role, "org", 0).user)
        assert 'id="nav-credentials"' not in body(client.get(f"/t/{tenant.pk}/"))
        assert client.get(url).status_code == 403
        assert client.post(f"/t/{tenant.pk}/credentials/test/").status_code == 403
    assert login(world.actor(Role.ADMIN, "org", 1).user).get(url).status_code == 404
    assert login(world.actor(Role.ADMIN, "tenant", 1).user).get(url).status_code == 404
    assert login(world.actor(Role.ADMIN, "tenant", 0).user).get(url).status_code == 200


def test_test_connection_against_the_simulator(world, sim_fleet):
    from tests.fleet import sim_keys, tenant_on

    sim = sim_fleet.start(routers=7, seed=5, keys=sim_keys("uic"))
    tenant = tenant_on(sim, world.orgs[0], "Sim Customer")
    admin = login(world.actor(Role.ADMIN, "org", 0).user)
    url = f"/t/{tenant.pk}/credentials/test/"
    response = post(admin, url, HTTP_HX_REQUEST="true")
    text = body(response)
    assert response.status_code == 200 and text.lstrip().startswith('<div id="connection-result"')
    assert re.search(r"Connected: \d+ accounts?, e\.g\. “[^”]+”; 7 routers", text), text
    credential = Credential.objects.get(tenant=tenant)
    assert credential.last_verified_at is not None
    assert ui_audit("accounts.credential", "action").filter(changes___details__ok=True).exists()
    # Without htmx the whole page comes back with the result in it.
    full = body(post(admin, url))
    assert "<html" in full and "Connected:" in full

    # Wrong keys: a clear message, no secret, no stack trace, last_verified_at untouched.
    from accounts.services import credential_save

    credential_save(tenant=tenant, provider="ncm", base_url=sim.base_url, credential=credential,
                    secrets_in={"ecm_api_key": f"{SECRET_MARK}wrong-key-0123456789"})
    verified = Credential.objects.get(pk=credential.pk).last_verified_at
    text = body(post(admin, url, HTTP_HX_REQUEST="true"))
    assert "NCM rejected the API keys" in text and "Traceback" not in text and 'data-ok="0"' in text
    assert Credential.objects.get(pk=credential.pk).last_verified_at == verified

    # NCM down: says so.
    sim.stop()
    text = body(post(admin, url, HTTP_HX_REQUEST="true"))
    assert "NCM did not answer" in text


def test_test_connection_without_credential_says_what_to_do(world):
    admin = login(world.actor(Role.ADMIN, "org", 0).user)
    text = body(post(admin, f"/t/{world.tenants[0].pk}/credentials/test/", HTTP_HX_REQUEST="true"))
    assert "No credential yet" in text


#
# Maintenance windows
#
def test_maintenance_windows_crud_by_role_and_scope(world):
    tenant, other = world.tenants[0], world.tenants[1]
    tenant.timezone = "Europe/Berlin"
    tenant.save()
    url = f"/t/{tenant.pk}/maintenance/"
    viewer = login(world.actor(Role.READ_ONLY, "tenant", 0).user)
    status, page = get(viewer, url)
    assert status == 200 and "Europe/Berlin" in page and 'id="window-form"' not in page and "No maintenance windows" in page
    assert viewer.post(url, {"weekday": 6, "start_time": "02:00", "duration_minutes": 120, "enabled": "on"}).status_code == 403
    assert not MaintenanceWindow.objects.exists()

    tech = login(world.actor(Role.FULL_ACCESS, "org", 0).user)
    status, page = get(tech, url)
    assert 'id="window-form"' in page
    response = post(tech, url, {"name": "Sunday night", "weekday": 6, "start_time": "02:00", "duration_minutes": 90, "enabled": "on"})
    assert response.status_code == 302
    window = MaintenanceWindow.objects.get()
    assert window.tenant == tenant and window.weekday == 6 and window.start_time.strftime("%H:%M") == "02:00"
    assert ui_audit("jobs.maintenancewindow", "create").exists()
    page = body(tech.get(url))
    assert "Sunday night" in page and "Sunday 03:30" in page and "Next window opens" in page
    bad = post(tech, url, {"weekday": 9, "start_time": "25:00", "duration_minutes": 0})
    assert bad.status_code == 400 and MaintenanceWindow.objects.count() == 1
    # Edit and delete.
    edit = f"/t/{tenant.pk}/maintenance/{window.pk}/"
    assert post(tech, edit, {"name": "Sunday late", "weekday": 6, "start_time": "23:00", "duration_minutes": 120}).status_code == 302
    window.refresh_from_db()
    assert window.name == "Sunday late" and not window.enabled
    assert ui_audit("jobs.maintenancewindow", "update").get().changes["enabled"] == [True, False]
    assert viewer.get(edit).status_code == 403
    # Out of scope: another tenant's window, or under another tenant's id.
    assert tech.get(f"/t/{other.pk}/maintenance/{window.pk}/").status_code == 404
    customer = login(world.actor(Role.ADMIN, "tenant", 1).user)
    assert customer.get(edit).status_code == 404 and customer.post(f"{edit}delete/").status_code == 404
    assert login(world.actor(Role.ADMIN, "org", 1).user).get(url).status_code == 404
    assert post(tech, f"{edit}delete/").status_code == 302
    assert not MaintenanceWindow.objects.exists() and ui_audit("jobs.maintenancewindow", "delete").exists()


#
# Webhooks
#
def test_webhook_created_shows_secret_once_and_is_scoped(world):
    admin = login(world.actor(Role.ADMIN, "org", 0).user)
    status, page = get(admin, "/org/webhooks/")
    assert status == 200 and "No webhooks yet" in page and 'id="nav-webhooks"' in page
    status, form = get(admin, "/org/webhooks/new/")
    assert f'value="org:{world.orgs[0].pk}"' in form and f"org:{world.orgs[1].pk}" not in form
    response = admin.post("/org/webhooks/new/", {"scope": f"tenant:{world.tenants[0].pk}", "url": "https://hooks.example.com/in",
                                                 "events": ["job.finished", "sync.failed"], "description": "ops", "enabled": "on"})
    assert response.status_code == 201
    webhook = Webhook.objects.get()
    secret = re.search(r'id="secret-value">(whsec_[^<]+)<', body(response)).group(1)
    from portal.crypto import decrypt_json

    assert decrypt_json(webhook.secret_encrypted)["secret"] == secret
    detail = body(admin.get(f"/org/webhooks/{webhook.pk}/"))
    assert "hooks.example.com" in detail and secret not in detail and secret not in body(admin.get("/org/webhooks/"))
    assert secret not in repr(list(AuditEvent.objects.values_list("changes", flat=True)))
    assert ui_audit("webhooks.webhook", "create").exists()
    # Bad input: no event, another MSP's tenant.
    bad = admin.post("/org/webhooks/new/", {"scope": f"tenant:{world.tenants[2].pk}", "url": "https://hooks.example.com/x"})
    assert bad.status_code == 400 and Webhook.objects.count() == 1
    # Edit: switch off, change events.
    response = admin.post(f"/org/webhooks/{webhook.pk}/", {"url": "https://hooks.example.com/in2", "events": ["alert.created"]})
    assert response.status_code == 302
    webhook.refresh_from_db()
    assert webhook.url.endswith("/in2") and webhook.events == ["alert.created"] and not webhook.enabled
    assert ui_audit("webhooks.webhook", "update").exists()
    # Roles and scope.
    for role in (Role.FULL_ACCESS, Role.READ_ONLY):
        client = login(world.actor(role, "org", 0).user)
        assert 'id="nav-webhooks"' not in body(client.get("/"))
        assert client.get("/org/webhooks/").status_code == 403 and client.get(f"/org/webhooks/{webhook.pk}/").status_code == 403
    assert login(world.actor(Role.ADMIN, "org", 1).user).get(f"/org/webhooks/{webhook.pk}/").status_code == 404
    assert login(world.actor(Role.ADMIN, "tenant", 1).user).get(f"/org/webhooks/{webhook.pk}/").status_code == 404
    customer = login(world.actor(Role.ADMIN, "tenant", 0).user)
    status, form = get(customer, "/org/webhooks/new/")
    assert f'value="tenant:{world.tenants[0].pk}"' in form and "org:" not in form
    assert customer.get(f"/org/webhooks/{webhook.pk}/").status_code == 200
    org_hook, _ = webhook_services.webhook_save(url="https://hooks.example.com/org", events=["sync.failed"], organization=world.orgs[0])
    assert customer.get(f"/org/webhooks/{org_hook.pk}/").status_code == 404
    assert post(admin, f"/org/webhooks/{webhook.pk}/delete/").status_code == 302
    assert not Webhook.objects.filter(pk=webhook.pk).exists() and ui_audit("webhooks.webhook", "delete").exists()


def test_delivery_log_redeliver_and_disabled_reason(world):
    webhook, _ = webhook_services.webhook_save(url="https://hooks.example.com/in", events=["sync.failed"], tenant=world.tenants[0])
    (delivery,) = webhook_services.emit_event(tenant=world.tenants[0], event="sync.failed", data={"run": 1})
    WebhookDelivery.objects.filter(pk=delivery.pk).update(status=DeliveryStatus.FAILED, attempts=10, response_code=503,
                                                          error="Receiver answered HTTP 503.", next_attempt_at=None)
    Webhook.objects.filter(pk=webhook.pk).update(enabled=False, consecutive_failures=5,
                                                 disabled_reason="Disabled after 5 deliveries failed every retry; fix the receiver.")
    admin = login(world.actor(Role.ADMIN, "org", 0).user)
    listing = body(admin.get("/org/webhooks/"))
    assert 'id="webhooks-disabled"' in listing
    status, detail = get(admin, f"/org/webhooks/{webhook.pk}/")
    assert 'id="disabled-reason"' in detail and "Disabled after 5 deliveries failed every retry" in detail
    rows = detail.split('id="deliveries-table"')[1]
    assert "Receiver answered HTTP 503." in rows and ">503<" in rows and f'data-redeliver="{delivery.pk}"' in rows
    response = post(admin, f"/org/webhooks/{webhook.pk}/deliveries/{delivery.pk}/redeliver/")
    assert response.status_code == 302
    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.PENDING and delivery.error == ""
    assert ui_audit("webhooks.webhookdelivery", "action").filter(changes___details__action="redeliver").exists()
    # Roles and scope for redelivery.
    assert login(world.actor(Role.FULL_ACCESS, "org", 0).user).post(
        f"/org/webhooks/{webhook.pk}/deliveries/{delivery.pk}/redeliver/").status_code == 403
    assert login(world.actor(Role.ADMIN, "org", 1).user).post(
        f"/org/webhooks/{webhook.pk}/deliveries/{delivery.pk}/redeliver/").status_code == 404
    # Re-enabling through the form clears the reason.
    admin.post(f"/org/webhooks/{webhook.pk}/", {"url": webhook.url, "events": ["sync.failed"], "enabled": "on"})
    webhook.refresh_from_db()
    assert webhook.enabled and webhook.disabled_reason == "" and webhook.consecutive_failures == 0
    csv_text = body(admin.get(f"/org/webhooks/{webhook.pk}/", {"export": "csv"}))
    assert "sync.failed" in csv_text and "Redeliver" not in csv_text


@pytest.mark.django_db
def test_sign_in_security_link_only_for_organization_admins(world):
    from django.test import Client

    for actor, shown in ((world.actor("admin", "org", 0), True), (world.actor("admin", "tenant", 0), False)):
        client = Client()
        client.force_login(actor.user)
        page = client.get("/").content.decode()
        assert ("Sign-in security" in page) is shown, actor
