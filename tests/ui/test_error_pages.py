"""Portal-styled 403/404/500 pages with a way back, with DJANGO_DEBUG on and off (issue 13 item 19); the API
keeps JSON errors."""
from __future__ import annotations

import pytest
from django.test import Client

from accounts.roles import Role
from tests.factories import make_org, make_tenant, make_user

pytestmark = pytest.mark.django_db


@pytest.fixture
def scene():
    org = make_org("Northwind MSP")
    own, other = make_tenant(org, "Bakery Chain"), make_tenant(org, "City Clinic")
    customer = make_user("bakery-viewer", tenant=own, role=Role.READ_ONLY)
    client = Client(raise_request_exception=False)
    client.force_login(customer)
    return own, other, client


def assert_portal_page(response, status: int) -> str:
    page = response.content.decode()
    assert response.status_code == status
    assert f'class="card error-page" data-status="{status}"' in page
    assert "portal.css" in page and 'class="btn primary"' in page  # styled, with a way back
    for leak in ("Traceback", "URLconf", "technical", "DJANGO_SETTINGS", "Django tried these URL patterns"):
        assert leak not in page
    return page


@pytest.mark.parametrize("debug", [False, True])
def test_out_of_scope_and_unknown_pages_answer_the_portal_404(scene, settings, debug):
    settings.DEBUG = debug
    own, other, client = scene
    page = assert_portal_page(client.get(f"/t/{other.pk}/"), 404)
    assert "City Clinic" not in page and "Page not found" in page
    assert "Go to your dashboard" in page and "MSP" not in page
    assert_portal_page(client.get("/no/such/page/"), 404)
    assert_portal_page(client.get(f"/t/{own.pk}/routers/999999/"), 404)
    # A missing trailing slash is still added (CommonMiddleware), then the page answers.
    response = client.get(f"/t/{own.pk}")
    assert response.status_code == 301 and response["Location"] == f"/t/{own.pk}/"


@pytest.mark.parametrize("debug", [False, True])
def test_forbidden_action_answers_the_portal_403_with_the_reason(scene, settings, debug):
    settings.DEBUG = debug
    own, _other, client = scene
    response = client.post(f"/t/{own.pk}/sync/now/", HTTP_REFERER=f"http://testserver/t/{own.pk}/sync/")
    page = assert_portal_page(response, 403)
    assert "You are not allowed to do that" in page and "does not allow" in page
    assert f'href="http://testserver/t/{own.pk}/sync/"' in page  # back to where the person was


@pytest.mark.parametrize("debug", [False, True])
def test_a_crash_answers_the_portal_500(scene, settings, monkeypatch, debug):
    settings.DEBUG = debug
    own, _other, client = scene
    from ui.views import tenant

    def boom(*args, **kwargs):
        raise RuntimeError("internal-detail-xyz")

    monkeypatch.setattr(tenant.ncm, "router_figures", boom)
    response = client.get(f"/t/{own.pk}/")
    page = response.content.decode()
    assert response.status_code == 500
    assert 'data-status="500"' in page and "Something went wrong" in page
    assert "RuntimeError" not in page and "internal-detail-xyz" not in page and "Traceback" not in page


def test_api_errors_stay_json(scene, settings):
    _own, other, client = scene
    response = client.get("/api/v1/no-such-thing/")
    assert response.status_code == 404 and response["Content-Type"].startswith("application/json")
    assert response.json()["detail"]


def test_a_stale_form_answers_a_portal_page(scene):
    own, _other, _client = scene
    client = Client(enforce_csrf_checks=True)
    client.force_login(make_user(tenant=own))
    response = client.post(f"/t/{own.pk}/sync/now/")
    page = response.content.decode()
    assert response.status_code == 403 and 'class="card error-page"' in page and "Please try again" in page
    assert "CSRF verification failed" not in page
