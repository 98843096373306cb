"""``python -m eccloud_sim``: serve a simulated ecCloud API at http://HOST:PORT/pub/v1 (contract.md §3)."""
from __future__ import annotations

import argparse
import signal
import sys

from .server import SimServer, default_key


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m eccloud_sim",
                                description="Serve a simulated IgniteNet ecCloud API at http://HOST:PORT/pub/v1. "
                                            "Deterministic per --seed; controls under /_sim/.")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8770, help="port (0 picks a free one)")
    p.add_argument("--sites", type=int, default=3)
    p.add_argument("--devices-per-site", type=int, default=5)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--rate-limit", type=int, default=200, help="requests per window per source address (200)")
    p.add_argument("--rate-window", type=float, default=10.0, help="seconds (10)")
    p.add_argument("--config-task-seconds", type=float, default=5.0, help="seconds a config task takes on an online device")
    p.add_argument("--latency-ms", type=int, default=0)
    p.add_argument("--verbose", action="store_true")
    return p


def _interrupt(_signum, _frame):
    raise KeyboardInterrupt


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    sim = SimServer(args.sites, args.devices_per_site, args.seed, api_key=default_key(), host=args.host,
                    port=args.port, rate_limit=args.rate_limit, rate_window=args.rate_window,
                    config_task_s=args.config_task_seconds, latency_ms=args.latency_ms, verbose=args.verbose)
    signal.signal(signal.SIGTERM, _interrupt)
    sim.start()
    print(f"eccloud_sim: ecCloud API at {sim.base_url} ({args.sites} sites x {args.devices_per_site} devices, "
          f"seed {args.seed})")
    print(f"eccloud_sim: expects x-api-key: {sim.api_key} (owner), {sim.guest_key} (guest, read-only)")
    print(f"eccloud_sim: try  curl -H 'x-api-key: {sim.api_key}' {sim.base_url}/sites")
    sys.stdout.flush()
    try:
        sim.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        sim.stop()
    print("eccloud_sim: stopped")
    return 0


if __name__ == "__main__":
    sys.exit(main())
