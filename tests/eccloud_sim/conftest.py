"""Simulator tests need neither Django nor a database nor Redis.

The suite-wide autouse ``_clear_cache`` fixture (tests/conftest.py) touches Django's
cache, i.e. Redis; the simulator has nothing cached, so it is a no-op here.
"""
import pytest


@pytest.fixture(autouse=True)
def _clear_cache():
    yield
