"""Test helpers: start simulators on free ports, build SDK clients against them.

Usable from any test suite without Django::

    from ncm_sim.testing import sim_server, sdk_client

    def test_something():
        with sim_server(routers=50, seed=3) as sim:
            client = sdk_client(sim)
            assert len(client.get_routers(limit="all")) == 50

For pytest, ``SimFleet`` starts several tenants' simulators and stops them all::

    @pytest.fixture
    def fleets():
        with SimFleet() as f:
            yield f
    # f.start(routers=20, seed=1); f.start(routers=20, seed=2)
"""
from __future__ import annotations

from contextlib import contextmanager
from typing import Iterator

from .server import SimServer, default_keys


@contextmanager
def sim_server(routers: int = 50, seed: int = 1, **kwargs) -> Iterator[SimServer]:
    """A running :class:`SimServer` on a free port; stopped on exit.

    Defaults suit tests: fast config sync and speed tests unless overridden.
    """
    kwargs.setdefault("speed_test_duration_s", 0.5)
    kwargs.setdefault("config_sync_s", 0.2)
    kwargs.setdefault("reboot_s", 0.3)
    kwargs.setdefault("upgrade_s", 0.5)
    sim = SimServer(routers=routers, seed=seed, **kwargs)
    with sim:
        yield sim


def sdk_client(sim: SimServer, retries: int = 0, retry_backoff_factor: float = 0, **kwargs):
    """An official ``ncm`` SDK v2 client pointed at *sim* (not the module singleton).

    Retries default to 0 so tests see faults directly; pass ``retries=5`` to get the
    SDK's production behaviour (it honours Retry-After).
    """
    from ncm.ncm import NcmClientv2  # imported lazily: the SDK is a test dependency

    kwargs.setdefault("log_events", False)
    return NcmClientv2(api_keys=dict(sim.keys), base_url=sim.base_url, retries=retries,
                       retry_backoff_factor=retry_backoff_factor, **kwargs)


class SimFleet:
    """Several simulators (one per tenant), all stopped together."""

    def __init__(self):
        self.servers: list[SimServer] = []

    def start(self, routers: int = 20, seed: int = 1, **kwargs) -> SimServer:
        kwargs.setdefault("speed_test_duration_s", 0.5)
        kwargs.setdefault("config_sync_s", 0.2)
        kwargs.setdefault("reboot_s", 0.3)
        kwargs.setdefault("upgrade_s", 0.5)
        sim = SimServer(routers=routers, seed=seed, **kwargs).start()
        self.servers.append(sim)
        return sim

    def stop(self) -> None:
        while self.servers:
            self.servers.pop().stop()

    def __enter__(self) -> "SimFleet":
        return self

    def __exit__(self, *exc) -> None:
        self.stop()


__all__ = ["SimFleet", "SimServer", "default_keys", "sdk_client", "sim_server"]
