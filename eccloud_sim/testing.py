"""Test helpers: ``with eccloud_server(sites=2, devices_per_site=3) as sim: ...`` (free port, fast tasks)."""
from __future__ import annotations

from contextlib import contextmanager
from typing import Iterator

from .server import SimServer


@contextmanager
def eccloud_server(sites: int = 2, devices_per_site: int = 3, seed: int = 1, **kwargs) -> Iterator[SimServer]:
    kwargs.setdefault("config_task_s", 0.2)
    with SimServer(sites, devices_per_site, seed, **kwargs) as sim:
        yield sim


__all__ = ["SimServer", "eccloud_server"]
