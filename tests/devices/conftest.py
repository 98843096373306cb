import pytest

from eccloud_sim.testing import eccloud_server

EC_KEY = "tsecret-eccloud-owner-0123456789"
EC_GUEST = "tsecret-eccloud-guest-0123456789"


@pytest.fixture
def ecsim():
    """An ecCloud simulator (2 sites x 3 devices) whose keys are marked test secrets."""
    with eccloud_server(sites=2, devices_per_site=3, seed=7, api_key=EC_KEY, guest_key=EC_GUEST) as sim:
        yield sim


@pytest.fixture(autouse=True)
def _eccloud_settings(settings):
    settings.ECCLOUD_RETRY_SECONDS = 0.01
    settings.ECCLOUD_TASK_POLL_SECONDS = 0.05
    settings.ECCLOUD_TASK_TIMEOUT_SECONDS = 5
