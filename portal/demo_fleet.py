"""The demo's tenants and their simulator fleets (no Django imports: scripts/demo.py reads it before setup)."""
import os

# (name, slug, timezone, routers, seed): fleets of different sizes, one simulator each.
DEMO_TENANTS = [
    ("Bakery Chain", "bakery", "America/Chicago", 25, 1),
    ("City Clinic", "clinic", "Europe/Berlin", 120, 2),
    ("Logistics Co", "logistics", "Australia/Sydney", 600, 3),
]
SIM_KEYS = {"cp_api_id": "demo-cp-id", "cp_api_key": "demo-cp-key", "ecm_api_id": "demo-ecm-id", "ecm_api_key": "demo-ecm-key"}


def sim_port(index: int) -> int:
    return int(os.environ.get("DEMO_SIM_BASE_PORT", "8765")) + index


# The IgniteNet ecCloud simulator: the first demo tenant (the bakery) runs both vendors, its routers at the WAN
# edge and ecCloud access points behind them. (tenant slug, sites, devices per site, seed)
ECCLOUD_DEMO = ("bakery", 4, 3, 1)
ECCLOUD_DEMO_KEY = "demo-eccloud-key"


def eccloud_port() -> int:
    return int(os.environ.get("DEMO_ECCLOUD_PORT", "8760"))
