"""The API token page (issue 13 item 16): create (shown once), bind to a tenant, read-only, revoke; the
token works in the API exactly as it says, and a customer can make one too."""
from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
from django.test import Client
from rest_framework.test import APIClient

from accounts.models import ApiToken, AuditEvent
from accounts.roles import Role
from tests.factories import make_org, make_tenant, make_user
from tests.ui.test_browser import CHROMIUM, browser, page, shot, sign_in  # noqa: F401  (fixtures)


def _api(token: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    return client


@pytest.mark.django_db
def test_token_page_creates_a_bound_read_only_token_shown_once_and_revokes_it():
    org = make_org()
    bakery, clinic = make_tenant(org, "Bakery"), make_tenant(org, "Clinic")
    user = make_user("tech", org=org, role=Role.FULL_ACCESS)
    client = Client()
    client.force_login(user)
    page_ = client.get("/account/tokens/")
    assert page_.status_code == 200 and "Bakery" in page_.content.decode()
    created = client.post("/account/tokens/", {"name": "billing", "tenant": bakery.pk, "read_only": "on"})
    assert created.status_code == 201
    clear = re.search(r'id="new-token">(ncmp_[A-Za-z0-9]+)<', created.content.decode()).group(1)
    token = ApiToken.objects.get(user=user, name="billing")
    assert token.tenant == bakery and not token.write_enabled
    assert AuditEvent.objects.filter(object_type="accounts.apitoken", object_id=str(token.pk), source="ui").exists()
    # It reads one tenant and writes nothing.
    assert _api(clear).get("/api/v1/tenants/").json()["count"] == 1
    assert _api(clear).post(f"/api/v1/tenants/{bakery.pk}/sync/").status_code == 403
    # Shown once: the list has the prefix only.
    listing = client.get("/account/tokens/").content.decode()
    assert clear not in listing and token.prefix in listing
    assert client.post(f"/account/tokens/{token.pk}/revoke/").status_code == 302
    assert _api(clear).get("/api/v1/tenants/").status_code == 401
    # Nobody else's token can be revoked from here.
    other = ApiToken.objects.create(user=make_user(org=org), name="theirs", prefix="ncmp_xxxxxx", digest="d" * 64)
    assert client.post(f"/account/tokens/{other.pk}/revoke/").status_code == 404
    assert clinic  # two tenants: the binding above is a real choice


@pytest.mark.django_db
def test_customer_cannot_bind_a_token_to_another_tenant():
    org = make_org()
    bakery, clinic = make_tenant(org, "Bakery"), make_tenant(org, "Clinic")
    customer = make_user("bakery-admin", tenant=bakery, role=Role.ADMIN)
    client = Client()
    client.force_login(customer)
    assert "Clinic" not in client.get("/account/tokens/").content.decode()
    response = client.post("/account/tokens/", {"name": "sneaky", "tenant": clinic.pk})
    assert response.status_code == 400
    assert not ApiToken.objects.filter(user=customer).exists()


@pytest.mark.browser
@pytest.mark.xdist_group("browser")
@pytest.mark.skipif(not Path(CHROMIUM).exists() or shutil.which("chromium") is None, reason="Debian's chromium is not installed")
def test_person_creates_uses_and_revokes_a_token_by_clicking(page, live_server, transactional_db):  # noqa: F811
    org = make_org("Northwind MSP")
    make_tenant(org, "Bakery Chain")
    make_user("msp-tech", org=org, role=Role.FULL_ACCESS)
    base = live_server.url
    sign_in(page, base, "msp-tech")
    page.wait_for_load_state()
    page.click("text=Account & 2FA")
    page.click("#api-tokens-link")
    page.fill("#id_name", "nightly export")
    page.select_option("#id_tenant", label="Bakery Chain (Northwind MSP)")
    page.check("#id_read_only")
    page.click("#token-form button[type=submit]")
    clear = page.inner_text("#new-token").strip()
    assert clear.startswith("ncmp_")
    shot(page, "api-token-created")
    assert _api(clear).get("/api/v1/tenants/").json()["count"] == 1
    row = page.locator("#tokens-table tr", has_text="nightly export")
    assert "Bakery Chain only" in row.inner_text() and "read-only" in row.inner_text()
    row.locator("button", has_text="Revoke").click()
    page.wait_for_selector("text=is revoked")
    assert _api(clear).get("/api/v1/tenants/").status_code == 401
