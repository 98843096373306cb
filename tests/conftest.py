"""Shared fixtures. Every API response and log record in the suite is checked for leaked test secrets."""
from __future__ import annotations

import logging

import pytest
from rest_framework.test import APIClient

from tests.factories import SECRET_MARK, build_world, make_token


class SecretCheckingAPIClient(APIClient):
    """An APIClient that fails the test if any response body or header carries a test secret."""

    def request(self, **kwargs):
        response = super().request(**kwargs)
        body = response.content.decode(errors="replace") if not getattr(response, "streaming", False) else ""
        assert SECRET_MARK not in body, f"secret leaked in response to {kwargs.get('PATH_INFO')}"
        assert SECRET_MARK not in str(response.headers), "secret leaked in response headers"
        return response


@pytest.fixture(autouse=True)
def _no_secret_in_logs(caplog):
    """No log record anywhere in the suite may contain a credential secret."""
    caplog.set_level(logging.DEBUG)
    yield
    leaked = [r.getMessage() for r in caplog.records if SECRET_MARK in r.getMessage()]
    assert not leaked, f"secret leaked into a log record: {leaked[:1]}"


@pytest.fixture(autouse=True)
def _clear_cache():
    from django.core.cache import cache

    cache.clear()
    yield


@pytest.fixture
def api_client() -> SecretCheckingAPIClient:
    return SecretCheckingAPIClient()


@pytest.fixture
def client_for():
    """client_for(user) -> an API client authenticated with a fresh token of `user`."""

    def make(user) -> SecretCheckingAPIClient:
        client = SecretCheckingAPIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Token {make_token(user)}")
        return client

    return make


@pytest.fixture
def world(db):
    return build_world()


@pytest.fixture
def operator(db):
    from accounts.models import User

    return User.objects.create_superuser("operator", "op@example.com", "operator-password-123")


@pytest.fixture
def sims():
    """Start NCM simulators with `sims.start(routers=..., seed=...)`; all stop after the test."""
    from ncm_sim.testing import SimFleet

    with SimFleet() as fleet:
        yield fleet


@pytest.fixture(autouse=True)
def _fast_retries(settings):
    """NCM retries back off in milliseconds in tests (production: 0.5 s doubling, or NCM's Retry-After)."""
    settings.NCM_RETRY_BACKOFF = 0.005
