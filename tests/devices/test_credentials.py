"""eccloud credentials through the API: write-only api_key, allowed base URLs, one per provider per tenant."""
import pytest

from accounts.models import Credential
from accounts.services import credential_secrets
from tests.factories import make_credential, make_org, make_tenant

pytestmark = pytest.mark.django_db


def test_create_eccloud_credential_beside_ncm(operator, client_for):
    tenant = make_tenant(make_org())
    make_credential(tenant)
    api = client_for(operator)
    r = api.post("/api/v1/credentials/", {"tenant": tenant.pk, "provider": "eccloud",
                                           "api_key": "tsecret-ec-key-0123456789"}, format="json")
    assert r.status_code == 201, r.content
    body = r.json()
    assert body["base_url"] == "https://cloud.ignitenet.com/pub/v1" and "api_key" not in body
    assert body["hints"]["api_key"] == "••••6789"
    cred = Credential.objects.get(pk=body["id"])
    assert credential_secrets(cred)["api_key"] == "tsecret-ec-key-0123456789"
    assert Credential.objects.filter(tenant=tenant).count() == 2
    again = api.post("/api/v1/credentials/", {"tenant": tenant.pk, "provider": "eccloud", "api_key": "x" * 12}, format="json")
    assert again.status_code == 400


def test_eccloud_base_url_and_key_are_checked(operator, client_for):
    tenant = make_tenant(make_org())
    api = client_for(operator)
    r = api.post("/api/v1/credentials/", {"tenant": tenant.pk, "provider": "eccloud", "api_key": "k" * 12,
                                           "base_url": "https://evil.example/pub/v1"}, format="json")
    assert r.status_code == 400 and "ECCLOUD_ALLOWED_BASE_URLS" in r.json()["base_url"][0]
    r = api.post("/api/v1/credentials/", {"tenant": tenant.pk, "provider": "eccloud"}, format="json")
    assert r.status_code == 400 and "api_key" in r.json()
    # an NCM base URL is not an ecCloud one
    r = api.post("/api/v1/credentials/", {"tenant": tenant.pk, "provider": "eccloud", "api_key": "k" * 12,
                                           "base_url": "https://www.cradlepointecm.com/api/v2"}, format="json")
    assert r.status_code == 400
