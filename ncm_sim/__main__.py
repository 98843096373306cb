"""``python -m ncm_sim``: serve a simulated NCM API v2 (see README.md and contract.md §3)."""
from __future__ import annotations

import argparse
import os
import signal
import sys
import time
from datetime import datetime, timezone

from .server import KEY_HEADERS, SimServer


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m ncm_sim",
        description="Serve a simulated Cradlepoint NCM API v2 at http://HOST:PORT/api/v2/ that the "
                    "official `ncm` SDK works against (point its base_url there). The fleet is "
                    "deterministic per --seed. Runtime controls live under /_sim/ (see ncm_sim/README.md).",
        epilog="API keys: every request must send X-CP-API-ID, X-CP-API-KEY, X-ECM-API-ID and X-ECM-API-KEY. "
               "The expected values come from --cp-api-id/--cp-api-key/--ecm-api-id/--ecm-api-key, else from "
               "the env vars X_CP_API_ID, X_CP_API_KEY, X_ECM_API_ID, X_ECM_API_KEY, else demo-cp-id, "
               "demo-cp-key, demo-ecm-id, demo-ecm-key. Wrong or missing keys answer 401.",
    )
    p.add_argument("--host", default="127.0.0.1", help="bind address (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=8765, help="port (default 8765; 0 picks a free one)")
    p.add_argument("--routers", type=int, default=200, help="routers in the fleet (default 200)")
    p.add_argument("--seed", type=int, default=1, help="fleet seed; same seed, same fleet (default 1)")
    p.add_argument("--subaccounts", type=int, default=3, help="subaccounts under the parent account (default 3)")
    p.add_argument("--rate-429", type=float, default=0.0, help="share of API calls answered 429 (0..1)")
    p.add_argument("--retry-after", type=int, default=1, help="Retry-After seconds on injected 429s; -1 omits the header")
    p.add_argument("--rate-5xx", type=float, default=0.0, help="share of API calls answered 500/502/503/504 (0..1)")
    p.add_argument("--latency-ms", type=int, default=0, help="latency added to every API call")
    p.add_argument("--ambiguous-write-rate", type=float, default=0.0,
                   help="share of successful writes (reboot, config, ...) that are applied but answered 502")
    p.add_argument("--fault-seed", type=int, default=None, help="seed of the fault RNG (default: --seed)")
    p.add_argument("--speed-test-duration", type=float, default=5.0, help="seconds a speed_test job takes (default 5)")
    p.add_argument("--config-sync-delay", type=float, default=2.0,
                   help="seconds before an online router syncs a changed config (default 2)")
    p.add_argument("--reboot-time", type=float, default=5.0,
                   help="seconds a delivered reboot takes until the router reports back (default 5)")
    p.add_argument("--upgrade-time", type=float, default=20.0,
                   help="seconds an online router takes to install its group's target firmware (default 20)")
    p.add_argument("--upgrade-failure-rate", type=float, default=0.1,
                   help="share of firmware upgrades that fail, seeded per router (default 0.1)")
    p.add_argument("--epoch", default=None,
                   help="ISO time the generated history ends at (default: now, floored to the hour)")
    p.add_argument("--no-control", action="store_true", help="do not serve the /_sim/ control API")
    p.add_argument("--verbose", action="store_true", help="log every request to stderr")
    for header, (env, _demo) in KEY_HEADERS.items():
        flag = "--" + header.lower().replace("x-", "", 1)  # X-CP-API-ID -> --cp-api-id
        p.add_argument(flag, dest=env.lower(), default=None, help=f"expected {header} (default: env {env})")
    return p


def _interrupt(_signum, _frame):
    raise KeyboardInterrupt


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    keys = {header: getattr(args, env.lower()) or os.environ.get(env) or demo
            for header, (env, demo) in KEY_HEADERS.items()}
    epoch = None
    if args.epoch:
        epoch = datetime.fromisoformat(args.epoch)
        epoch = epoch if epoch.tzinfo else epoch.replace(tzinfo=timezone.utc)
    started = time.monotonic()
    sim = SimServer(routers=args.routers, seed=args.seed, keys=keys, latency_ms=args.latency_ms,
                    host=args.host, port=args.port, subaccounts=args.subaccounts, rate_429=args.rate_429,
                    retry_after=None if args.retry_after < 0 else args.retry_after, rate_5xx=args.rate_5xx,
                    ambiguous_write_rate=args.ambiguous_write_rate, fault_seed=args.fault_seed,
                    speed_test_duration_s=args.speed_test_duration, config_sync_s=args.config_sync_delay,
                    reboot_s=args.reboot_time, upgrade_s=args.upgrade_time, upgrade_failure_rate=args.upgrade_failure_rate,
                    control=not args.no_control, epoch=epoch, verbose=args.verbose)
    signal.signal(signal.SIGTERM, _interrupt)  # stop cleanly when a supervisor terminates us
    sim.start()
    st = sim.state
    print(f"ncm_sim: NCM API v2 at {sim.base_url}/ ({args.routers} routers, seed {args.seed}, "
          f"ready in {time.monotonic() - started:.2f}s)")
    for header, value in sim.keys.items():
        print(f"ncm_sim: expects {header}: {value}")
    print(f"ncm_sim: accounts {', '.join(a['id'] + ' ' + repr(a['name']) for a in st.tables['accounts'].values())}")
    print(f"ncm_sim: NCM API v3 at {sim.v3_base_url}/ (subscriptions, asset_endpoints), Bearer token: {sim.v3_token}")
    if sim.control:
        print(f"ncm_sim: control API at {sim.control_url}/ (faults, routers, alerts, calls, reboots, writes)")
    print(f"ncm_sim: try  curl -H 'X-CP-API-ID: {keys['X-CP-API-ID']}' -H 'X-CP-API-KEY: {keys['X-CP-API-KEY']}' "
          f"-H 'X-ECM-API-ID: {keys['X-ECM-API-ID']}' -H 'X-ECM-API-KEY: {keys['X-ECM-API-KEY']}' "
          f"'{sim.base_url}/routers/?limit=2'")
    sys.stdout.flush()
    try:
        sim.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        sim.stop()
    print("ncm_sim: stopped")
    return 0


if __name__ == "__main__":
    sys.exit(main())
