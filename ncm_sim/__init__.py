"""ncm_sim: a faithful, adversarial NCM (NetCloud Manager) API v2 simulator.

Run ``python -m ncm_sim --help`` or see README.md. Tests use
``ncm_sim.server.SimServer`` or ``ncm_sim.testing.sim_server``.
"""
from .server import SimServer, default_keys

__all__ = ["SimServer", "default_keys"]
