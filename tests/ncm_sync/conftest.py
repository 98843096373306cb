"""Fixtures for the sync tests: simulators and tenants whose credential points at them."""
from __future__ import annotations

import pytest

from accounts.services import credential_save
from tests.factories import make_org, make_tenant

KEY_FIELDS = {"cp_api_id": "X-CP-API-ID", "cp_api_key": "X-CP-API-KEY", "ecm_api_id": "X-ECM-API-ID", "ecm_api_key": "X-ECM-API-KEY"}


def tenant_on(sim, org=None, name=None, **fields):
    """A tenant whose NCM credential points at `sim`."""
    from ncm_sync.models import SyncState

    tenant = make_tenant(org or make_org(), name, **fields)
    credential_save(
        tenant=tenant, provider="ncm", base_url=sim.base_url,
        secrets_in={name: sim.keys[header] for name, header in KEY_FIELDS.items()},
    )
    SyncState.objects.get_or_create(tenant=tenant)
    return tenant


def sim_keys(tag: str) -> dict:
    """Per-simulator API keys marked as test secrets (any leak fails the suite)."""
    return {header: f"tsecret-{tag}-{header.lower()}-0123456789" for header in KEY_FIELDS.values()}


@pytest.fixture
def sims():
    from ncm_sim.testing import SimFleet

    with SimFleet() as fleet:
        yield fleet


@pytest.fixture(autouse=True)
def _fast_retries(settings):
    """Retries back off in milliseconds in tests (production: 0.5 s doubling, or NCM's Retry-After)."""
    settings.NCM_RETRY_BACKOFF = 0.005
