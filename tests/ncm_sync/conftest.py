"""Sync tests use the shared simulator helpers (tests/fleet.py) and fixtures (tests/conftest.py)."""
from tests.fleet import KEY_FIELDS, sim_keys, tenant_on  # noqa: F401
