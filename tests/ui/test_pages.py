"""UI pages with Django's test client: sign-in, 2FA, overview, table helper, exports, scoping."""
from __future__ import annotations

import csv
import io

import pytest
from django.test import Client
from django_otp.oath import totp
from django_otp.plugins.otp_totp.models import TOTPDevice

from accounts.models import AuditEvent, SyncStatus
from accounts.roles import Role
from tests.factories import make_tenant, make_user

pytestmark = pytest.mark.django_db


def login(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def body(response) -> str:
    if getattr(response, "streaming", False):
        return b"".join(response.streaming_content).decode()
    return response.content.decode()


def region(page: str, table_id: str) -> str:
    """The rows of one table region (the page also names tenants in the switcher)."""
    start = page.index(f'id="{table_id}"')
    return page[page.index("<tbody>", start): page.index("</tbody>", start)]


def code_for(device: TOTPDevice, offset: int = 0) -> str:
    """The code `offset` steps from now as the device sees it: a code verified just after a step boundary is
    accepted one step back and shifts the device's drift (django-otp's OTP_TOTP_SYNC)."""
    return f"{totp(device.bin_key, step=device.step, t0=device.t0, digits=device.digits, drift=device.drift + offset):06d}"


def unthrottle(device: TOTPDevice) -> None:
    """A wrong code makes django-otp wait 1 s before the next try; tests skip the wait."""
    TOTPDevice.objects.filter(pk=device.pk).update(throttling_failure_count=0, throttling_failure_timestamp=None)
    device.refresh_from_db()


#
# Sign-in, sign-out, password change
#
def test_login_page_and_sign_in_and_out():
    make_user("alice")
    client = Client()
    page = client.get("/login/")
    assert page.status_code == 200 and 'name="password"' in page.content.decode()
    response = client.post("/login/", {"username": "alice", "password": "correct-horse-battery"})
    assert response.status_code == 302
    assert client.get("/").status_code == 200
    client.post("/logout/")
    assert client.get("/").status_code == 302


def test_anonymous_is_sent_to_login():
    response = Client().get("/")
    assert response.status_code == 302 and response.url.startswith("/login/")


def test_password_change_is_audited():
    user = make_user("bob")
    client = login(user)
    response = client.post("/account/password/", {
        "old_password": "correct-horse-battery", "new_password1": "a-new-long-passphrase-42",
        "new_password2": "a-new-long-passphrase-42"})
    assert response.status_code == 302
    user.refresh_from_db()
    assert user.check_password("a-new-long-passphrase-42")
    assert AuditEvent.objects.filter(object_id=str(user.pk), source="ui", changes___details__action="password_changed").exists()


#
# Two-factor sign-in
#
def test_required_two_factor_forces_enrolment_then_verification(world):
    org = world.orgs[0]
    org.require_two_factor = True
    org.save()
    customer = world.actor(Role.READ_ONLY, "tenant", 0).user  # a tenant login of that org
    client = Client()
    client.post("/login/", {"username": customer.username, "password": "correct-horse-battery"})
    response = client.get("/")
    assert response.status_code == 302 and response.url == "/account/2fa/setup/"
    # The session-authenticated API is closed too until the code is verified.
    assert client.get("/api/v1/tenants/").status_code == 403
    setup = client.get("/account/2fa/setup/")
    assert setup.status_code == 200 and "<svg" in setup.content.decode()
    device = TOTPDevice.objects.get(user=customer, confirmed=False)
    assert client.post("/account/2fa/setup/", {"token": "000000" if code_for(device) != "000000" else "111111"}).status_code == 200
    unthrottle(device)
    response = client.post("/account/2fa/setup/", {"token": code_for(device)})
    assert response.status_code == 302
    home = client.get("/", follow=True)  # a customer lands on its tenant's dashboard
    assert home.status_code == 200 and home.redirect_chain[-1][0] == f"/t/{world.tenants[0].pk}/"
    device.refresh_from_db()
    assert device.confirmed

    # Next sign-in: password, then a code.
    client = Client()
    client.post("/login/", {"username": customer.username, "password": "correct-horse-battery"})
    assert client.get("/").url == "/account/2fa/verify/"
    wrong = client.post("/account/2fa/verify/", {"token": "12345x"})
    assert wrong.status_code == 200
    unthrottle(device)
    response = client.post("/account/2fa/verify/", {"token": code_for(device, 1)})
    assert response.status_code == 302
    assert client.get("/", follow=True).status_code == 200


def test_user_of_other_org_is_not_asked_for_two_factor(world):
    world.orgs[0].require_two_factor = True
    world.orgs[0].save()
    other = world.actor(Role.ADMIN, "org", 1).user
    assert login(other).get("/").status_code == 200


def test_org_admin_toggles_requirement_and_others_cannot(world):
    admin = world.actor(Role.ADMIN, "org", 0).user
    client = login(admin)
    assert login(world.actor(Role.FULL_ACCESS, "org", 0).user).get("/org/security/").status_code == 403
    assert client.get("/org/security/").status_code == 200
    response = client.post("/org/security/", {"organization": world.orgs[0].pk, "require_two_factor": "on"})
    assert response.status_code == 302
    world.orgs[0].refresh_from_db()
    assert world.orgs[0].require_two_factor
    assert AuditEvent.objects.filter(object_type="accounts.organization", source="ui").exists()
    # Another org's admin cannot flip it (404).
    other = login(world.actor(Role.ADMIN, "org", 1).user)
    assert other.post("/org/security/", {"organization": world.orgs[0].pk}).status_code == 404
    world.orgs[0].refresh_from_db()
    assert world.orgs[0].require_two_factor


#
# Overview, table helper, exports
#
def test_overview_lists_only_tenants_in_scope(world):
    customer = world.actor(Role.READ_ONLY, "tenant", 0).user
    response = login(customer).get("/", follow=True)
    assert response.redirect_chain == [(f"/t/{world.tenants[0].pk}/", 302)]  # a one-tenant customer lands there
    page = body(response)
    assert world.tenants[0].name in page and "MSP" not in page
    assert world.tenants[1].name not in page and world.tenants[2].name not in page
    msp = body(login(world.actor(Role.READ_ONLY, "org", 0).user).get("/"))
    assert world.tenants[0].name in msp and world.tenants[1].name in msp and world.tenants[2].name not in msp


def test_overview_search_sort_filter_and_csv(world):
    org = world.orgs[0]
    extra = make_tenant(org, "zeta-failing", sync_status=SyncStatus.FAILED, sync_error="NCM said 401")
    client = login(world.actor(Role.ADMIN, "org", 0).user)
    page = region(body(client.get("/", {"q": "zeta"})), "tenants-table")
    assert "zeta-failing" in page and world.tenants[0].name not in page
    page = region(body(client.get("/", {"status": "failed"})), "tenants-table")
    assert "zeta-failing" in page and world.tenants[1].name not in page
    page = region(body(client.get("/", {"sort": "-name"})), "tenants-table")
    assert page.index("zeta-failing") < page.index(world.tenants[0].name)
    response = client.get("/", {"export": "csv", "sort": "name"})
    assert response["Content-Type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(body(response).lstrip("\ufeff"))))
    assert rows[0][:2] == ["Tenant", "Organization"]
    assert [r[0] for r in rows[1:]] == sorted(r[0] for r in rows[1:])
    assert any(r[0] == extra.name and "NCM said 401" in r for r in rows)
    pdf = client.get("/", {"export": "pdf"})
    assert pdf["Content-Type"] == "application/pdf" and pdf.content.startswith(b"%PDF")


def test_htmx_request_gets_the_page_and_stale_flag(world):
    client = login(world.actor(Role.ADMIN, "org", 0).user)
    page = body(client.get("/", HTTP_HX_REQUEST="true"))
    assert 'id="tenants-table"' in page and "stale" in page


def test_csv_cells_are_defused():
    from portal.exports import safe_cell

    assert safe_cell("=HYPERLINK(1)") == "'=HYPERLINK(1)"
    assert safe_cell("-5") == "-5" and safe_cell(None) == ""


def test_tenant_switcher_only_switches_within_scope(world):
    client = login(world.actor(Role.READ_ONLY, "tenant", 0).user)
    assert client.get("/switch/", {"tenant": world.tenants[0].pk}).url == f"/t/{world.tenants[0].pk}/"
    assert client.get("/switch/", {"tenant": world.tenants[2].pk}).url == "/"


def test_static_assets_are_local():
    page = Client().get("/login/").content.decode()
    assert "/static/vendor/htmx.min.js" in page
    assert "cdn" not in page.lower() and "googleapis" not in page


def test_audit_log_is_scoped_and_filterable(world):
    from accounts.audit import record_change

    mine, other = world.tenants[0], world.tenants[2]
    record_change(actor=world.actor(Role.ADMIN, "org", 0).user, action="action", instance=mine, source="ui", extra={"action": "sync"})
    record_change(actor=world.actor(Role.ADMIN, "org", 1).user, action="action", instance=other, source="api", extra={"action": "sync"})
    admin = login(world.actor(Role.ADMIN, "tenant", 0).user)
    page = region(body(admin.get("/org/audit/")), "audit-table")
    assert mine.name in page and other.name not in page
    assert region(body(admin.get("/org/audit/", {"source": "api"})), "audit-table").count("<tr") == 1  # the empty row
    assert login(world.actor(Role.FULL_ACCESS, "org", 0).user).get("/org/audit/").status_code == 403
    response = login(world.actor(Role.ADMIN, "org", 1).user).get("/org/audit/", {"export": "csv"})
    assert other.name in body(response) and mine.name not in body(response)
