from accounts.services import credential_save
from tests.factories import make_org, make_tenant

from .conftest import EC_GUEST, EC_KEY


def eccloud_credential(tenant, sim, *, guest: bool = False):
    return credential_save(tenant=tenant, provider="eccloud", base_url=sim.base_url,
                           secrets_in={"api_key": EC_GUEST if guest else EC_KEY})


def eccloud_tenant(sim, org=None, *, guest: bool = False, **fields):
    tenant = make_tenant(org or make_org(), **fields)
    eccloud_credential(tenant, sim, guest=guest)
    return tenant
