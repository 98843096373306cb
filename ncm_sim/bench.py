"""``python -m ncm_sim.bench [--routers N]``: time simulator start-up and a full SDK page-through.

Prints the figures quoted in README.md: start-up time for the fleet, and how long the
official ``ncm`` SDK takes for ``get_routers(limit='all')`` (with the simulator's own
share of that time measured server-side).
"""
from __future__ import annotations

import argparse
import json
import time

from .server import SimServer
from .testing import sdk_client


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m ncm_sim.bench")
    p.add_argument("--routers", type=int, default=10_000)
    p.add_argument("--seed", type=int, default=1)
    args = p.parse_args(argv)

    t0 = time.perf_counter()
    sim = SimServer(routers=args.routers, seed=args.seed).start()
    startup = time.perf_counter() - t0
    try:
        client = sdk_client(sim)
        t1 = time.perf_counter()
        routers = client.get_routers(limit="all")
        sdk_s = time.perf_counter() - t1
        pages = sim.state.calls["GET routers"]
        # Server-side share: the same pages handled in-process, without HTTP or client parsing.
        t2 = time.perf_counter()
        offset = 0
        while True:
            resp = sim.api.handle("GET", f"/api/v2/routers/?limit=500&offset={offset}", sim.keys, b"", sim.netloc)
            json.dumps(resp.body, separators=(",", ":"))
            offset += 500
            if not resp.body["meta"]["next"]:
                break
        server_s = time.perf_counter() - t2
    finally:
        sim.stop()
    print(f"routers={args.routers} startup={startup:.2f}s sdk_get_routers_all={sdk_s:.2f}s "
          f"rows={len(routers)} pages={pages} server_time={server_s:.3f}s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
