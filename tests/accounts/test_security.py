"""Login lockout, admin scoping and masking, health probes, deploy checks, log redaction."""
from __future__ import annotations

import base64
import logging
import os
import subprocess
import sys

import pytest
from django.test import Client

from tests.factories import SECRET_MARK, make_credential, make_user

pytestmark = pytest.mark.django_db


def test_login_form_locks_out_after_repeated_failures(settings):
    make_user("victim")
    client = Client()
    for _ in range(settings.AXES_FAILURE_LIMIT):
        client.post("/login/", {"username": "victim", "password": "wrong-password"})
    # Locked: even the right password is refused now.
    response = client.post("/login/", {"username": "victim", "password": "correct-horse-battery"})
    assert response.status_code == 429
    assert "_auth_user_id" not in client.session


def test_login_form_signs_in(settings):
    make_user("alice")
    client = Client()
    response = client.post("/login/", {"username": "alice", "password": "correct-horse-battery"})
    assert response.status_code == 302
    assert client.get("/").status_code == 200


def test_api_refuses_http_basic_even_with_the_right_password(api_client):
    """A password alone never authenticates the API: tokens are the integrator's credential."""
    make_user("bob")
    value = base64.b64encode(b"bob:correct-horse-battery").decode()
    response = api_client.get("/api/v1/tenants/", HTTP_AUTHORIZATION=f"Basic {value}")
    assert response.status_code == 401
    assert response.json()["detail"]


def test_admin_pages_never_show_secrets_and_follow_scope(world):
    from accounts.models import Credential

    for tenant in world.tenants:
        make_credential(tenant)
    staff = world.actor("admin", "org", 0).user
    staff.is_staff = True
    staff.save()
    client = Client()
    client.force_login(staff)
    changelist = client.get("/admin/accounts/credential/")
    assert changelist.status_code == 200
    body = changelist.content.decode()
    assert SECRET_MARK not in body
    own = Credential.objects.filter(tenant__organization=world.orgs[0]).first()
    foreign = Credential.objects.filter(tenant__organization=world.orgs[1]).first()
    change = client.get(f"/admin/accounts/credential/{own.pk}/change/")
    assert change.status_code == 200 and SECRET_MARK not in change.content.decode()
    assert client.get(f"/admin/accounts/credential/{foreign.pk}/change/").status_code in (302, 404)
    tenants_page = client.get("/admin/accounts/tenant/").content.decode()
    assert world.tenants[0].name in tenants_page and world.tenants[2].name not in tenants_page


def test_superuser_admin_credential_pages_mask_secrets(world, operator):
    credential = make_credential(world.tenants[0])
    client = Client()
    client.force_login(operator)
    for url in ("/admin/accounts/credential/", f"/admin/accounts/credential/{credential.pk}/change/",
                "/admin/accounts/auditevent/"):
        response = client.get(url)
        assert response.status_code == 200, url
        assert SECRET_MARK not in response.content.decode()


def test_log_filter_redacts_secrets():
    from portal.logging import RedactSecretsFilter

    record = logging.LogRecord("x", logging.INFO, __file__, 1, "headers %s", ({"X-CP-API-KEY": "abc123secret"},), None)
    RedactSecretsFilter().filter(record)
    assert "abc123secret" not in record.getMessage()


def test_healthz_and_readyz(client):
    assert client.get("/healthz").json() == {"status": "ok"}
    ready = client.get("/readyz")
    assert ready.status_code == 200, ready.content


def test_api_docs_and_schema_served_locally(client):
    schema = client.get("/api/schema/?format=json")
    assert schema.status_code == 200
    assert "/api/v1/tenants/" in schema.json()["paths"]
    docs = client.get("/api/docs/").content.decode()
    assert "cdn" not in docs.lower() and "unpkg" not in docs.lower()


def test_check_deploy_is_clean():
    env = dict(os.environ)
    env.update(
        DJANGO_SETTINGS_MODULE="portal.settings", DJANGO_DEBUG="0", DJANGO_SECRET_KEY="k" * 20 + "Zq9!xY7@wV5#uT3$sR1%pO" * 2,
        DJANGO_ALLOWED_HOSTS="portal.example.com",
    )
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        env=env, capture_output=True, text=True, timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_schema_documents_errors_on_every_operation(client):
    paths = client.get("/api/schema/?format=json").json()["paths"]
    for path, operations in paths.items():
        if not path.startswith("/api/v1/"):
            continue
        for method, operation in operations.items():
            if method in {"get", "post", "put", "patch", "delete"}:
                assert {"400", "401", "403"} <= set(operation["responses"]), (method, path)
                assert "{" not in path or "404" in operation["responses"], (method, path)


def test_a_nul_in_the_search_box_is_a_json_object_error(world, client_for):
    """Found by schemathesis: DRF's search filter refuses NUL with a bare list; errors are always an object."""
    response = client_for(world.actor("admin", "org", 0).user).get("/api/v1/organizations/", {"search": "a\x00b"})
    assert response.status_code == 400
    assert response.json() == {"detail": ["Null characters are not allowed."]}
