"""The simulated NCM account: a deterministic fleet per seed, plus its mutable state.

Everything NCM would return is stored *already in NCM's wire shape* (ids as strings,
relations as absolute URLs under ``base``) so that a 500-row page is a slice and a
``json.dumps``. Cleartext configurations (NCM encrypts passwords and shows ``"*"``)
live beside the public rows. All access goes through ``Fleet.lock``.

Ids are offset by seed (``10_000_000 * (1 + seed % 200)``) so two tenants' fleets
never share a router, group or account id and cross-tenant leakage is visible.
Products and firmwares are global in NCM and keep the same ids for every seed.
"""
from __future__ import annotations

import copy
import hashlib
import heapq
import random
import threading
import time
import uuid
from collections import Counter
from datetime import datetime, timedelta, timezone

from ncm_config import mask_passwords, merge_layers

UTC = timezone.utc
_UUID_EPOCH = datetime(1582, 10, 15, tzinfo=UTC)

# (id, name, series, full_product_name, serial prefix)
PRODUCTS = [
    (46, "IBR900", 3, "IBR900-600M", "WA"),
    (52, "IBR1700", 3, "IBR1700-1200M", "MM"),
    (57, "E300", 3, "E300-C18B", "WB"),
    (59, "E3000", 3, "E3000-C18B", "WC"),
    (61, "R1900", 3, "R1900-5GB", "N1"),
    (49, "AER2200", 3, "AER2200-600M", "WD"),
    (43, "IBR600C", 3, "IBR600C-150M-D", "WE"),
    (4, "MBR1400v2", 3, "MBR1400v2", "MB"),
]
FIRMWARE_VERSIONS = ["7.23.40", "7.24.10", "7.24.30", "7.25.0"]
COMPANIES = [
    "Acme Logistics", "Blue Ridge Transit", "Cobalt Retail", "Delta Utilities", "Evergreen Health",
    "Foxtrot Freight", "Granite Banking", "Harbor Fire District", "Ironwood Schools", "Juniper Foods",
]
REGIONS = ["East", "West", "Central", "North", "South", "Fleet", "Stores", "Depots"]
GROUP_PURPOSES = ["Vehicles", "Stores", "Kiosks", "Branches", "Depots", "Pumps", "Signage", "Backup WAN"]
SITE_WORDS = ["Store", "Truck", "Branch", "Kiosk", "Depot", "Bus", "Clinic", "Ambulance"]
LOCALITIES = ["US/Mountain", "US/Eastern", "US/Central", "US/Pacific", "Europe/London"]
CITIES = [  # (name, lat, lon)
    ("Boise", 43.615, -116.202), ("Denver", 39.739, -104.990), ("Austin", 30.267, -97.743),
    ("Chicago", 41.878, -87.630), ("Atlanta", 33.749, -84.388), ("Seattle", 47.606, -122.332),
    ("Phoenix", 33.448, -112.074), ("Boston", 42.360, -71.058), ("Columbus", 39.961, -82.999),
]
CARRIERS = [  # (carrier, carrier_id, homecarrid, iccid prefix, mcc, mnc)
    ("Verizon", "Verizon Wireless", "VZW", "891480", "311", "480"),
    ("AT&T", "AT&T", "ATT", "890141", "310", "410"),
    ("T-Mobile", "T-Mobile", "TMO", "890126", "310", "260"),
    ("FirstNet", "FirstNet", "ATT", "890141", "313", "100"),
]
SERVICE_TYPES = ["LTE", "LTE", "LTE-A", "5G", "5G NSA"]
RF_BANDS = ["Band 2", "Band 4", "Band 12", "Band 13", "Band 66", "n41", "n71"]

# Fields of a net device (seed 001, "The Net Device Object") plus the signal figures.
NET_DEVICE_FIELDS = (
    "account bsid carrier carrier_id channel connection_state dns0 dns1 esn gateway gsn homecarrid "
    "hostname iccid id imei imsi ipv4_address is_asset is_gps_supported is_upgrade_available "
    "is_upgrade_supported ltebandwidth mac manufacturer mdn meid mfg_model mn_ha_spi mn_ha_ss mode model "
    "modem_fw mtu nai name netmask pin_status port prlv mfg_product profile resource_url rfband rfchannel "
    "roam router rxchannel serial service_type ssid summary txchannel type uid updated_at uptime ver_pkg "
    "version wimax_realm signal_strength rsrp rsrq rssi sinr"
).split()
_ND_TEMPLATE = dict.fromkeys(NET_DEVICE_FIELDS)

ROUTER_ALERT_TYPES = [
    ("connection_state", 30), ("modem_wan_connected", 8), ("modem_wan_disconnected", 8),
    ("wan_service_type", 8), ("reboot_status_change", 6), ("config_changed", 4),
    ("firmware_upgrade", 3), ("cpu_utilization", 4), ("memory_utilization", 3),
    ("ipsec_tunnel_down", 3), ("login_failure", 2), ("sim_door_event", 1),
]
ACCOUNT_ALERT_TYPES = ["pdp_account_overage", "acs_expires_in_90_days", "acs_unlicensed_devices"]


def iso(dt: datetime) -> str:
    """NCM's timestamp format: ``2015-08-10T16:19:31.784055+00:00``."""
    if dt.tzinfo is not UTC:
        dt = dt.astimezone(UTC)
    return dt.isoformat(timespec="microseconds")


def utcnow() -> datetime:
    return datetime.now(UTC)


def parse_ts(value: str) -> datetime:
    """Parse an ISO timestamp as NCM accepts it (naive means UTC)."""
    dt = datetime.fromisoformat(value.strip().replace("Z", "+00:00").replace(" ", "T", 1))
    return dt if dt.tzinfo else dt.replace(tzinfo=UTC)


def timeuuid(dt: datetime, clock_seq: int, node: int) -> str:
    """A version-1 UUID whose timestamp is *dt* (NCM's ``created_at_timeuuid``)."""
    ticks = int((dt - _UUID_EPOCH).total_seconds() * 10_000_000)
    time_low = ticks & 0xFFFFFFFF
    time_mid = (ticks >> 32) & 0xFFFF
    time_hi = ((ticks >> 48) & 0x0FFF) | 0x1000
    cs = clock_seq & 0x3FFF
    return str(uuid.UUID(fields=(time_low, time_mid, time_hi, 0x80 | (cs >> 8), cs & 0xFF, node & 0xFFFFFFFFFFFF)))


def timeuuid_key(value: str) -> tuple:
    """Sort key of a timeuuid: time first, as NCM orders them. Raises ValueError."""
    u = uuid.UUID(value)
    return (u.time, str(u))


def id_from_url(value) -> str | None:
    """The trailing numeric id of an NCM URL (any host, v1 or v2) or of a bare id."""
    if value is None:
        return None
    text = str(value).strip().rstrip("/")
    tail = text.rsplit("/", 1)[-1]
    return tail if tail.isdigit() else None


def config_diff(target: list, actual: list) -> list:
    """What would have to be sent to turn *actual* into *target* (NCM's ``pending``)."""

    def walk(t, a, path, updates, removals):
        for k, v in t.items():
            if isinstance(v, dict) and isinstance(a.get(k), dict):
                sub: dict = {}
                walk(v, a[k], path + [k], sub, removals)
                if sub:
                    updates[k] = sub
            elif a.get(k, object()) != v:
                updates[k] = copy.deepcopy(v)
        for k in a:
            if k not in t:
                removals.append(path + [k])

    updates: dict = {}
    removals: list = []
    walk(target[0], actual[0], [], updates, removals)
    removals.extend(r for r in target[1] if r not in actual[1])
    return [updates, removals]


class Fleet:
    """One simulated NCM account tree (parent account + subaccounts) and its devices."""

    def __init__(self, routers: int = 100, seed: int = 1, subaccounts: int = 3,
                 base_url: str = "http://127.0.0.1:8765/api/v2", epoch: datetime | None = None,
                 speed_test_duration_s: float = 5.0, config_sync_s: float = 2.0, reboot_s: float = 5.0):
        self.lock = threading.RLock()
        self.seed = seed
        self.base = base_url.rstrip("/")
        self.speed_test_duration_s = float(speed_test_duration_s)
        self.config_sync_s = float(config_sync_s)
        self.reboot_s = float(reboot_s)
        self.reboot_alerts = True  # False: an account without the reboot alert rule (no reboot_status_change)
        self.epoch = epoch or utcnow().replace(minute=0, second=0, microsecond=0)
        self.samples_until: datetime | None = None  # time series end here (None: now); see history.py
        self.id_base = 10_000_000 * (1 + abs(int(seed)) % 200)
        self.rng = random.Random(f"ncm_sim:{seed}")
        self._node = self.rng.getrandbits(48) | 0x010000000000  # multicast bit: not a real MAC
        self._clock = 0
        self._mac_base = (abs(int(seed)) * 2654435761) % (1 << 24)

        self.tables: dict[str, dict[str, dict]] = {
            name: {} for name in (
                "accounts", "products", "firmwares", "groups", "routers", "net_devices",
                "net_device_health", "net_device_metrics", "locations", "configuration_managers", "speed_test",
            )
        }
        self.alerts: list[dict] = []          # newest first, /alerts/ shape
        self._alert_keys: list[tuple] = []    # parallel sort keys, descending
        self.router_nds: dict[str, list[str]] = {}
        self.router_cm: dict[str, str] = {}
        self.cm_router: dict[str, str] = {}
        self.router_loc: dict[str, str] = {}
        self.cm_config: dict[str, list] = {}     # individual config, cleartext
        self.cm_actual: dict[str, list | None] = {}  # last synced target, cleartext (None: = target)
        self._cm_dirty: set[str] = set()         # public rows whose config fields need rendering
        self.group_config: dict[str, list] = {}  # group config, cleartext
        self._sync_heap: list[tuple] = []
        self._reboot_heap: list[tuple] = []      # (due, router id, request id): delivered reboots in progress
        self._link_up: dict[str, float] = {}     # net device id -> monotonic time its link came back after a reboot
        self._upgrade_heap: list[tuple] = []     # (due, router id, firmware id): upgrades to a group's target
        self.upgrade_s = 20.0                    # seconds an online router takes to install its target firmware
        self.upgrade_failure_rate = 0.1          # share of upgrades that fail (seeded per router and firmware)
        self.failing_upgrades: set[str] = set()  # router ids whose upgrades always fail (tests)
        self._jobs: dict[str, dict] = {}
        self._next = {"accounts": self.id_base + 1000, "groups": self.id_base + 20_000,
                      "routers": self.id_base + 1_000_000, "net_devices": self.id_base + 3_000_000,
                      "configuration_managers": self.id_base + 6_000_000, "locations": self.id_base + 7_000_000,
                      "speed_test": self.id_base + 8_000_000, "reboot_activity": self.id_base + 9_000_000}

        # Records that tests assert on.
        self.reboots: list[dict] = []
        self.writes: list[dict] = []
        self.calls: Counter = Counter()
        # Bumped by every change a listing could show (see `touch`): the API's rendered pages are cached per
        # version, so a page is built and encoded once however often it is read.
        self.version = 0

        self._generate(routers, subaccounts)

    def touch(self) -> None:
        """Something visible changed: every cached page is stale."""
        self.version += 1

    # ------------------------------------------------------------------ helpers
    def url(self, kind: str, obj_id) -> str:
        return f"{self.base}/{kind}/{obj_id}/"

    def _new_id(self, kind: str) -> str:
        self._next[kind] += 1
        return str(self._next[kind])

    def _past(self, max_days: float, min_days: float = 0.0) -> datetime:
        return self.epoch - timedelta(seconds=self.rng.uniform(min_days * 86400, max_days * 86400))

    def _uuid_at(self, dt: datetime) -> str:
        self._clock += 1
        return timeuuid(dt, self._clock, self._node)

    def _mac(self, n: int) -> str:
        v = (self._mac_base + n) % (1 << 24)
        return f"00:30:44:{v >> 16:02X}:{(v >> 8) & 0xFF:02X}:{v & 0xFF:02X}"

    # ------------------------------------------------------------------ generation
    def _generate(self, n_routers: int, n_sub: int) -> None:
        rng = self.rng
        for pid, name, series, _full, _pfx in PRODUCTS:
            self.tables["products"][str(pid)] = {
                "device_type": "router", "id": str(pid), "name": name,
                "resource_url": self.url("products", pid), "series": series,
            }
        self.fw_by_product: dict[str, list[str]] = {}
        for p_idx, (pid, name, *_rest) in enumerate(PRODUCTS):
            ids = []
            for v_idx, version in enumerate(FIRMWARE_VERSIONS):
                fid = str(1000 + p_idx * 10 + v_idx)
                built = datetime(2025, 3, 1, tzinfo=UTC) + timedelta(days=60 * v_idx + p_idx)
                self.tables["firmwares"][fid] = {
                    "built_at": iso(built),
                    "default_configuration": f"{self.base}/firmwares/{fid}/default_configuration/",
                    "expires_at": iso(built + timedelta(days=3 * 365)),
                    "hash": hashlib.sha1(f"{name}-{version}".encode()).hexdigest(),
                    "id": fid, "is_deprecated": v_idx == 0,
                    "product": self.url("products", pid),
                    "released_at": iso(built + timedelta(days=2)),
                    "resource_url": self.url("firmwares", fid),
                    "uploaded_at": iso(built + timedelta(days=1, hours=3)),
                    "url": f"https://d1dkzj1agysu0k.cloudfront.net/{name}-{version}.bin",
                    "version": version,
                }
                ids.append(fid)
            self.fw_by_product[str(pid)] = ids

        company = COMPANIES[abs(self.seed) % len(COMPANIES)]
        parent = self._add_account(company, None)
        accounts = [parent]
        for k in range(max(0, n_sub)):
            accounts.append(self._add_account(f"{company} - {REGIONS[k % len(REGIONS)]}{'' if k < len(REGIONS) else f' {k // len(REGIONS) + 1}'}", parent))
        weights = [0.5] + [1.0] * (len(accounts) - 1)

        per_account = Counter(rng.choices(range(len(accounts)), weights=weights, k=n_routers))
        groups_by_account: dict[str, list[str]] = {}
        for a_idx, acct in enumerate(accounts):
            n_groups = max(1, min(8, per_account[a_idx] // 40 + 1))
            gids = []
            for g in range(n_groups):
                pid = str(PRODUCTS[rng.randrange(len(PRODUCTS))][0])
                pname = self.tables["products"][pid]["name"]
                gids.append(self._add_group(acct, f"{pname} {GROUP_PURPOSES[g % len(GROUP_PURPOSES)]}", pid,
                                            self.fw_by_product[pid][rng.choice((2, 3, 3))]))
            groups_by_account[acct] = gids

        account_of = []
        for a_idx, count in sorted(per_account.items()):
            account_of.extend([accounts[a_idx]] * count)
        rng.shuffle(account_of)
        for i, acct in enumerate(account_of):
            gid = rng.choice(groups_by_account[acct]) if rng.random() < 0.85 else None
            self._add_router(i, acct, gid, generated=True)

        # Account-level alerts (router is null, account set).
        for acct in accounts:
            for _ in range(rng.randint(1, 3)):
                self._add_alert(None, rng.choice(ACCOUNT_ALERT_TYPES), account_id=acct, at=self._past(7))
        self._resort_alerts()

    def _add_account(self, name: str, parent: str | None) -> str:
        aid = self._new_id("accounts")
        self.tables["accounts"][aid] = {
            "account": self.url("accounts", parent) if parent else None, "id": aid,
            "is_disabled": False, "name": name, "resource_url": self.url("accounts", aid),
        }
        return aid

    def _add_group(self, account: str, name: str, product: str, firmware: str) -> str:
        gid = self._new_id("groups")
        rng = self.rng
        cfg = [{
            "system": {"logging": {"level": rng.choice(["info", "warning", "debug"])}},
            "firewall": {"remote_admin": {"enabled": True, "secure_only": True}},
            "wlan": {"radio": {"0": {"bss": {"0": {"ssid": f"{name.split()[-1][:12]}-{gid[-3:]}",
                                                     "wpapsk": f"grp-{rng.getrandbits(40):010x}"}}}}},
        }, []]
        self.group_config[gid] = cfg
        self.tables["groups"][gid] = {
            "account": self.url("accounts", account), "configuration": mask_passwords(cfg),
            "device_type": "router", "id": gid, "name": name,
            "product": self.url("products", product), "resource_url": self.url("groups", gid),
            "target_firmware": self.url("firmwares", firmware),
        }
        return gid

    def _add_router(self, i: int, account: str, group: str | None, generated: bool, **overrides) -> str:
        rng = self.rng
        rid = self._new_id("routers")
        if group:
            grow = self.tables["groups"][group]
            pid = id_from_url(grow["product"])
            target_fw = id_from_url(grow["target_firmware"])
        else:
            pid = str(overrides.pop("product", None) or PRODUCTS[rng.randrange(len(PRODUCTS))][0])
            target_fw = None
        prod = next(p for p in PRODUCTS if str(p[0]) == pid)
        fws = self.fw_by_product[pid]
        actual_fw = target_fw if (target_fw and rng.random() < 0.9) else rng.choice(fws[1:])
        mac = self._mac(int(rid) - self.id_base)
        state = rng.choices(["online", "offline", "initialized"], weights=[70, 25, 5])[0] if generated else "online"
        now = self.epoch if generated else utcnow()
        created = self._past(1100, 60) if generated else now
        state_at = self._past(30) if generated else now
        updated = max(state_at, self._past(20)) if generated else now
        if rng.random() < 0.6:
            name = f"{prod[1]}-{mac.replace(':', '')[-6:].lower()}"
        else:
            name = f"{rng.choice(SITE_WORDS)} {i + 1:05d}"
        city = rng.choice(CITIES)
        row = {
            "account": self.url("accounts", account),
            "actual_firmware": self.url("firmwares", actual_fw),
            "asset_id": f"AST-{rng.randrange(10**6):06d}" if rng.random() < 0.4 else None,
            "config_status": "synched",
            "configuration_manager": None,
            "created_at": iso(created),
            "custom1": f"cost-center-{rng.randint(100, 999)}" if rng.random() < 0.3 else None,
            "custom2": rng.choice(["tier-1", "tier-2", "pilot"]) if rng.random() < 0.3 else None,
            "description": f"{city[0]} {rng.choice(SITE_WORDS).lower()}" if rng.random() < 0.5 else None,
            "device_type": "router",
            "full_product_name": prod[3],
            "group": self.url("groups", group) if group else None,
            "id": rid,
            "ipv4_address": f"{rng.choice((166, 174, 107, 172))}.{rng.randint(0, 255)}.{rng.randint(0, 255)}.{rng.randint(1, 254)}",
            "last_known_location": None,
            "locality": rng.choice(LOCALITIES),
            "mac": mac,
            "name": name,
            "product": self.url("products", pid),
            "reboot_required": rng.random() < 0.03,
            "resource_url": self.url("routers", rid),
            "serial_number": f"{prod[4]}{abs(self.seed) % 1000:03d}{int(rid) - self.id_base - 1_000_000:07d}",
            "state": state,
            "state_updated_at": iso(state_at),
            "target_firmware": self.url("firmwares", target_fw) if target_fw else None,
            "updated_at": iso(updated),
            "upgrade_pending": bool(target_fw and target_fw != actual_fw),
        }
        for key, value in overrides.items():
            if key in row and key not in ("id", "resource_url"):
                row[key] = value
        self.tables["routers"][rid] = row

        # Net devices: one or two modems, sometimes an ethernet WAN.
        nds = []
        for slot in range(1 if rng.random() < 0.8 else 2):
            nds.append(self._add_modem(rid, account, slot, state, updated))
        if rng.random() < 0.3:
            nds.append(self._add_ethernet(rid, account, state, updated))
        self.router_nds[rid] = nds

        # Location for most routers.
        if rng.random() < 0.85:
            lid = self._new_id("locations")
            self.tables["locations"][lid] = {
                "account": self.url("accounts", account), "accuracy": rng.choice((0, 5, 10, 25, 50)),
                "id": lid, "latitude": round(city[1] + rng.uniform(-0.3, 0.3), 6),
                "longitude": round(city[2] + rng.uniform(-0.3, 0.3), 6),
                "method": "gps" if rng.random() < 0.7 else "manual",
                "resource_url": self.url("locations", lid), "router": self.url("routers", rid),
                "updated_at": iso(self._past(5) if generated else now),
            }
            self.router_loc[rid] = lid
            row["last_known_location"] = self.url("locations", lid)

        # Configuration manager (its own id, never the router id).
        cmid = self._new_id("configuration_managers")
        indiv: dict = {}
        roll = rng.random()
        if roll < 0.4:
            indiv = {"system": {"system_id": name}}
        elif roll < 0.5:
            indiv = {"lan": {"00000000-0d93-319d-8220-4a1fb0372b51": {
                "_id_": "00000000-0d93-319d-8220-4a1fb0372b51",
                "ip_address": f"192.168.{rng.randint(0, 254)}.1"}}}
        elif roll < 0.55:
            indiv = {"system": {"users": {"0": {"password": f"pw-{rng.getrandbits(32):08x}"}}}}
        self.cm_config[cmid] = [indiv, []]
        self.router_cm[rid] = cmid
        self.cm_router[cmid] = rid
        row["configuration_manager"] = self.url("configuration_managers", cmid)
        version = rng.randint(1, 40) if generated else 0
        suspended = generated and rng.random() < 0.01
        pending_change = generated and state != "online" and rng.random() < 0.1
        # Rendering configs is the costly part of a big fleet: do it lazily (see cm_row).
        self.cm_actual[cmid] = None if not pending_change else [{"ecm": {"config_version": max(0, version - 1)}}, []]
        self.tables["configuration_managers"][cmid] = {
            "account": self.url("accounts", account), "id": cmid,
            "resource_url": self.url("configuration_managers", cmid), "router": self.url("routers", rid),
            "suspended": suspended, "synched": not pending_change, "version_number": version,
            "configuration": None, "target": None, "actual": None, "pending": None,
        }
        row["config_status"] = "suspended" if suspended else ("pending" if pending_change else "synched")
        self._cm_dirty.add(cmid)
        if generated:
            self._generate_router_alerts(rid, state, state_at)
        return rid

    def _add_modem(self, rid: str, account: str, slot: int, state: str, updated: datetime) -> str:
        rng = self.rng
        nid = self._new_id("net_devices")
        carrier = rng.choice(CARRIERS)
        uid = f"{rng.getrandbits(32):08x}"
        online = state == "online"
        connected = online and slot == 0 or (online and rng.random() < 0.5)
        rsrp = rng.randint(-125, -70)
        rsrq = rng.randint(-20, -3)
        sinr = round(rng.uniform(-5, 25), 1)
        rssi = rng.randint(-105, -50)
        strength = max(0, min(100, int((rsrp + 125) * 100 / 55)))
        service = rng.choice(SERVICE_TYPES)
        nd = dict(_ND_TEMPLATE)
        nd.update({
            "account": self.url("accounts", account), "carrier": carrier[0], "carrier_id": carrier[1],
            "connection_state": "connected" if connected else "disconnected",
            "dns0": "198.224.166.135", "dns1": "198.224.167.135",
            "gateway": f"10.{rng.randint(0, 255)}.{rng.randint(0, 255)}.1",
            "homecarrid": carrier[2], "iccid": f"{carrier[3]}{rng.randrange(10**13):013d}",
            "id": nid, "imei": f"35{rng.randrange(10**13):013d}", "imsi": f"{carrier[4]}{carrier[5]}{rng.randrange(10**9):09d}",
            "ipv4_address": f"10.{rng.randint(0, 255)}.{rng.randint(0, 255)}.{rng.randint(2, 254)}" if connected else None,
            "is_asset": True, "is_gps_supported": True, "is_upgrade_available": False, "is_upgrade_supported": True,
            "ltebandwidth": rng.choice(("10 MHz", "20 MHz")), "manufacturer": "Sierra Wireless",
            "mdn": f"{rng.randint(200, 989)}{rng.randrange(10**7):07d}", "mfg_model": rng.choice(("EM7511", "EM9191", "EM7565")),
            "mfg_product": "Internal LTE", "mode": "wan", "model": f"Internal LTE (SIM{slot + 1})",
            "modem_fw": "SWI9X50C_01.14.03.00", "mtu": 1428, "name": f"mdm-{uid}",
            "netmask": "255.255.255.252", "pin_status": "READY", "port": f"Internal {slot + 1}",
            "resource_url": self.url("net_devices", nid), "rfband": rng.choice(RF_BANDS),
            "rfchannel": str(rng.randint(600, 66000)), "roam": "1", "router": self.url("routers", rid),
            "serial": f"35{rng.randrange(10**13):013d}", "service_type": service,
            "summary": "connected" if connected else ("standby" if online else "disconnected"),
            "type": "mdm", "uid": uid, "updated_at": iso(updated),
            "uptime": round(rng.uniform(60, 2_000_000), 2) if connected else None,
            "ver_pkg": "01.14.03.00_VERIZON_002.082", "version": "SWI9X50C",
            "signal_strength": strength, "rsrp": rsrp, "rsrq": rsrq, "rssi": rssi, "sinr": sinr,
        })
        self.tables["net_devices"][nid] = nd
        score = max(0, min(100, strength + rng.randint(-10, 10)))
        self.tables["net_device_health"][nid] = {
            "cellular_health_category": _category(score), "cellular_health_score": score,
            "id": nid, "net_device": self.url("net_devices", nid), "resource_url": self.url("net_device_health", nid),
        }
        self.tables["net_device_metrics"][nid] = {
            "bytes_in": rng.randrange(10**10), "bytes_out": rng.randrange(10**9), "cell_id": str(rng.randrange(10**8)),
            "cinr": None, "dbm": rssi, "ecio": None, "id": nid, "lac": None, "mcc": carrier[4], "mnc": carrier[5],
            "net_device": self.url("net_devices", nid), "resource_url": self.url("net_device_metrics", nid),
            "rsrp": float(rsrp), "rsrq": float(rsrq), "rssi": rssi, "service_type": service,
            "signal_strength": strength, "sinr": sinr, "tac": str(rng.randint(1000, 65000)), "update_ts": iso(updated),
        }
        return nid

    def _add_ethernet(self, rid: str, account: str, state: str, updated: datetime) -> str:
        rng = self.rng
        nid = self._new_id("net_devices")
        connected = state == "online"
        nd = dict(_ND_TEMPLATE)
        nd.update({
            "account": self.url("accounts", account), "connection_state": "connected" if connected else "disconnected",
            "id": nid, "ipv4_address": f"192.168.{rng.randint(0, 254)}.{rng.randint(2, 254)}" if connected else None,
            "is_asset": False, "is_gps_supported": False, "is_upgrade_available": False, "is_upgrade_supported": False,
            "mac": self._mac(int(nid) - self.id_base), "mode": "wan", "mtu": 1500, "name": "ethernet-wan",
            "netmask": "255.255.255.0", "port": "Ethernet 1", "resource_url": self.url("net_devices", nid),
            "router": self.url("routers", rid), "service_type": "Ethernet",
            "summary": "connected" if connected else "unplugged", "type": "ethernet", "uid": "wan",
            "updated_at": iso(updated), "uptime": round(rng.uniform(60, 2_000_000), 2) if connected else None,
        })
        self.tables["net_devices"][nid] = nd
        self.tables["net_device_health"][nid] = {
            "cellular_health_category": None, "cellular_health_score": None,
            "id": nid, "net_device": self.url("net_devices", nid), "resource_url": self.url("net_device_health", nid),
        }
        self.tables["net_device_metrics"][nid] = {
            "bytes_in": rng.randrange(10**10), "bytes_out": rng.randrange(10**9), "cell_id": None, "cinr": None,
            "dbm": None, "ecio": None, "id": nid, "lac": None, "mcc": None, "mnc": None,
            "net_device": self.url("net_devices", nid), "resource_url": self.url("net_device_metrics", nid),
            "rsrp": None, "rsrq": None, "rssi": None, "service_type": "Ethernet", "signal_strength": None,
            "sinr": None, "tac": None, "update_ts": iso(updated),
        }
        return nid

    def _generate_router_alerts(self, rid: str, state: str, state_at: datetime) -> None:
        rng = self.rng
        types, weights = zip(*ROUTER_ALERT_TYPES)
        for _ in range(rng.choice((0, 1, 1, 2, 2, 3, 4))):
            self._add_alert(rid, rng.choices(types, weights=weights)[0], at=self._past(7))
        if state in ("online", "offline") and state_at > self.epoch - timedelta(days=7):
            self._add_alert(rid, "connection_state", info={"state": state}, at=state_at)

    # ------------------------------------------------------------------ alerts
    def _alert_info(self, atype: str, rid: str | None) -> tuple[dict, str]:
        rng = self.rng
        if atype == "connection_state":
            st = rng.choice(("online", "offline"))
            return {"state": st}, f'The device entered the "{st}" state.'
        if atype.startswith("modem_wan_"):
            status = atype.rsplit("_", 1)[1]
            return ({"status": status, "info": {"product": "Internal LTE (SIM1)", "uid": f"{rng.getrandbits(32):08x}",
                                                 "raw_port": "int1", "type": "lte", "port": "Internal 1",
                                                 "manufacturer": "Sierra Wireless"},
                     "alert_type": atype, "type": "wan_status_change", "history": []},
                    f"A modem WAN device is now {status}.")
        if atype == "wan_service_type":
            a, b = rng.sample(["LTE", "LTE-A", "5G", "3G"], 2)
            return {"to": b, "interface_name": f"mdm-{rng.getrandbits(32):08x}", "from": a}, f"WAN service type changed from {a} to {b}."
        if atype == "reboot_status_change":
            return {"type": "reboot_status_change"}, "Device has rebooted."
        if atype == "config_changed":
            return [{"system": {"ui_activated": True}}, []], "Device configuration was changed via the local UI."
        if atype == "firmware_upgrade":
            return {"state": "complete", "target_firmware": {"version": rng.choice(FIRMWARE_VERSIONS)}, "success": True}, "The device firmware has been upgraded."
        if atype in ("cpu_utilization", "memory_utilization"):
            pct = rng.randint(85, 100)
            return {"utilization": pct, "threshold": 85}, f"{atype.split('_')[0].upper()} utilization crossed {pct}%."
        if atype == "ipsec_tunnel_down":
            return {"tunnel": "vti"}, 'IPsec Tunnel "vti" has gone down.'
        if atype == "login_failure":
            return {"msg": "Failed SSH login attempt from 192.168.0.10, user: admin", "type": "login_failure", "user": "ssh_login"}, "Someone tried and failed to login to the device's local UI."
        if atype == "sim_door_event":
            return {"state": rng.choice(("open", "closed"))}, "The SIM door changed state."
        if atype == "pdp_account_overage":
            return {"alert_rule": {"threshold": 80}, "data_plan": {"carrier_name": "Verizon"}}, "Verizon data usage alerted at 80 percent of the total monthly data plan."
        if atype.startswith("acs_"):
            return {}, "Account subscription notice."
        return {}, atype.replace("_", " ").capitalize() + "."

    def _add_alert(self, rid: str | None, atype: str, info=None, friendly_info: str | None = None,
                   account_id: str | None = None, at: datetime | None = None, resort: bool = False) -> dict:
        at = at or utcnow()
        gen_info, gen_text = self._alert_info(atype, rid)
        if info is None:
            info = gen_info
        if friendly_info is None:
            friendly_info = f'The device entered the "{info["state"]}" state.' if atype == "connection_state" and isinstance(info, dict) and "state" in info else gen_text
        tu = self._uuid_at(at)
        alert = {
            "account": self.url("accounts", account_id) if rid is None else None,
            "created_at": iso(at), "created_at_timeuuid": tu,
            "detected_at": iso(at - timedelta(milliseconds=self.rng.randint(1, 900))),
            "friendly_info": friendly_info, "info": info,
            "router": self.url("routers", rid) if rid else None, "type": atype,
        }
        self.alerts.append(alert)
        self._alert_keys.append(timeuuid_key(tu))
        self.touch()
        if resort:
            self._resort_alerts()
        return alert

    def _resort_alerts(self) -> None:
        order = sorted(range(len(self.alerts)), key=lambda i: self._alert_keys[i], reverse=True)
        self.alerts = [self.alerts[i] for i in order]
        self._alert_keys = [self._alert_keys[i] for i in order]

    # ------------------------------------------------------------------ configuration
    def _target(self, rid: str, version: int) -> list:
        row = self.tables["routers"][rid]
        gid = id_from_url(row["group"])
        group_cfg = self.group_config.get(gid) if gid else None
        merged, _origins = merge_layers(group_cfg, self.cm_config[self.router_cm[rid]])
        merged[0].setdefault("ecm", {})["config_version"] = version
        return merged

    def _render_cm(self, cmid: str) -> None:
        """Recompute a config manager's public (masked) row from its cleartext state."""
        rid = self.cm_router[cmid]
        row = self.tables["configuration_managers"][cmid]
        target = self._target(rid, row["version_number"])
        actual = self.cm_actual[cmid]
        masked_target = mask_passwords(target)
        if actual is None:  # in sync since generation: actual is the target, nothing pending
            pending, masked_actual = [{}, []], masked_target
        else:
            pending, masked_actual = config_diff(target, actual), mask_passwords(actual)
        synched = not pending[0] and not pending[1]
        row["configuration"] = mask_passwords(self.cm_config[cmid])
        row["target"] = masked_target
        row["actual"] = masked_actual
        row["pending"] = mask_passwords(pending)
        row["synched"] = synched
        router = self.tables["routers"][rid]
        status = "suspended" if row["suspended"] else ("synched" if synched else "pending")
        if router.get("config_status") != status:
            router["config_status"] = status
            router["updated_at"] = iso(utcnow())  # NCM: the time of the last attribute update
            self.touch()
        self._cm_dirty.discard(cmid)

    def _pin_actual(self, cmid: str) -> None:
        """Before the target changes, freeze what the device actually runs (the old target)."""
        if self.cm_actual.get(cmid) is None:
            row = self.tables["configuration_managers"][cmid]
            self.cm_actual[cmid] = self._target(self.cm_router[cmid], row["version_number"])

    def cm_row(self, cmid: str) -> dict:
        """The public configuration_managers row, rendered on first use."""
        if cmid in self._cm_dirty:
            self._render_cm(cmid)
        return self.tables["configuration_managers"][cmid]

    def _config_changed(self, cmid: str) -> None:
        """The target changed: bump version_number, mark unsynched, schedule the device sync."""
        self._pin_actual(cmid)
        row = self.tables["configuration_managers"][cmid]
        row["version_number"] += 1
        self.touch()
        self._render_cm(cmid)
        heapq.heappush(self._sync_heap, (time.monotonic() + self.config_sync_s, cmid))

    def set_individual_config(self, cmid: str, new_config: list) -> bool:
        """Store a new individual config; returns True if the target changed."""
        rid = self.cm_router[cmid]
        self._pin_actual(cmid)
        before = self._target(rid, 0)
        self.cm_config[cmid] = new_config
        self.touch()
        if self._target(rid, 0) != before:
            self._config_changed(cmid)
            return True
        self._render_cm(cmid)
        return False

    def set_group_config(self, gid: str, new_config: list) -> bool:
        changed = new_config != self.group_config.get(gid)
        members = [self.router_cm[rid] for rid in self.group_members(gid)] if changed else []
        for cmid in members:
            self._pin_actual(cmid)
        self.group_config[gid] = new_config
        self.tables["groups"][gid]["configuration"] = mask_passwords(new_config)
        self.touch()
        for cmid in members:
            self._config_changed(cmid)
        return changed

    def tick(self) -> None:
        """Advance lazy clocks: online, unsuspended devices sync their pending config; rebooting routers come
        back (a `reboot_status_change` alert, their links' uptime restarts)."""
        now = time.monotonic()
        self._finish_reboots(now)
        self._finish_upgrades(now)
        while self._sync_heap and self._sync_heap[0][0] <= now:
            _due, cmid = heapq.heappop(self._sync_heap)
            if cmid not in self.cm_router:
                continue
            row = self.tables["configuration_managers"][cmid]
            rid = self.cm_router[cmid]
            if row["suspended"] or self.tables["routers"][rid]["state"] != "online":
                continue  # stays pending until it comes online / is resumed
            self.cm_actual[cmid] = None  # the device now runs the target
            self.touch()
            self._render_cm(cmid)

    # ------------------------------------------------------------------ firmware upgrades
    def schedule_upgrade(self, rid: str) -> None:
        """The router's target firmware differs from what it runs: it upgrades after `upgrade_s` once online."""
        row = self.tables["routers"].get(rid)
        if row is None or not row.get("target_firmware") or row["target_firmware"] == row["actual_firmware"]:
            return
        heapq.heappush(self._upgrade_heap, (time.monotonic() + self.upgrade_s, rid, id_from_url(row["target_firmware"])))

    def upgrade_fails(self, rid: str, fid: str) -> bool:
        if rid in self.failing_upgrades:
            return True
        return random.Random(f"upgrade:{self.seed}:{rid}:{fid}").random() < self.upgrade_failure_rate

    def _finish_upgrades(self, now: float) -> None:
        waiting = []
        while self._upgrade_heap and self._upgrade_heap[0][0] <= now:
            _due, rid, fid = heapq.heappop(self._upgrade_heap)
            row = self.tables["routers"].get(rid)
            if row is None or id_from_url(row.get("target_firmware")) != fid or row["actual_firmware"] == row["target_firmware"]:
                continue  # gone, superseded by another target, or already there
            if row["state"] != "online":
                waiting.append((now + self.upgrade_s, rid, fid))  # an offline router upgrades once back online
                continue
            version = self.tables["firmwares"][fid]["version"]
            if self.upgrade_fails(rid, fid):
                self._add_alert(rid, "firmware_upgrade", resort=True, info={
                    "state": "failed", "target_firmware": {"version": version}, "success": False, "error": "install_timeout",
                }, friendly_info=f"The firmware upgrade to {version} failed: install_timeout.")
                continue  # the router keeps its firmware (upgrade_pending stays true)
            row["actual_firmware"] = row["target_firmware"]
            row["upgrade_pending"] = False
            row["updated_at"] = iso(utcnow())
            self._add_alert(rid, "firmware_upgrade", resort=True, info={
                "state": "complete", "target_firmware": {"version": version}, "success": True,
            }, friendly_info="The device firmware has been upgraded.")
        for entry in waiting:
            heapq.heappush(self._upgrade_heap, entry)

    # ------------------------------------------------------------------ reboots
    def start_reboot(self, rid: str, request_id: str) -> bool:
        """A reboot_activity request for one router. NCM sends the command only to an online router; to an
        offline one the request is lost (seed 001). Returns whether it was delivered."""
        if self.tables["routers"][rid]["state"] != "online":
            return False
        heapq.heappush(self._reboot_heap, (time.monotonic() + self.reboot_s, rid, request_id))
        return True

    def _finish_reboots(self, now: float) -> None:
        while self._reboot_heap and self._reboot_heap[0][0] <= now:
            due, rid, _request_id = heapq.heappop(self._reboot_heap)
            if rid not in self.tables["routers"]:
                continue
            self.touch()
            for nid in self.router_nds.get(rid, []):
                nd = self.tables["net_devices"].get(nid)
                if nd is not None and nd.get("connection_state") == "connected":
                    self._link_up[nid] = due
            self.tables["routers"][rid]["updated_at"] = iso(utcnow())
            if self.reboot_alerts:
                self._add_alert(rid, "reboot_status_change", resort=True)
        if self._link_up:
            self.touch()  # uptimes are moving
        for nid, up_at in list(self._link_up.items()):
            nd = self.tables["net_devices"].get(nid)
            if nd is None or nd.get("connection_state") != "connected":
                self._link_up.pop(nid, None)
                if nd is not None:
                    nd["uptime"] = None
                continue
            nd["uptime"] = round(max(0.0, now - up_at), 2)

    def schedule_sync(self, cmid: str) -> None:
        heapq.heappush(self._sync_heap, (time.monotonic() + self.config_sync_s, cmid))

    # ------------------------------------------------------------------ speed tests
    def create_speed_job(self, account: str, config: dict) -> dict:
        jid = self._new_id("speed_test")
        now = utcnow()
        self._jobs[jid] = {"account": account, "config": copy.deepcopy(config), "created": time.monotonic(),
                           "created_at": now, "duration": self.speed_test_duration_s}
        return self.render_speed_job(jid)

    def render_speed_job(self, jid: str) -> dict:
        job = self._jobs[jid]
        cfg = job["config"]
        ids = list(cfg.get("net_device_ids") or [])
        dur = job["duration"]
        elapsed = time.monotonic() - job["created"]
        created = job["created_at"]
        out = {
            "account": self.url("accounts", job["account"]), "config": copy.deepcopy(cfg),
            "created_at": iso(created), "id": jid, "progress": None,
            "resource_uri": self.url("speed_test", jid), "results": None, "state": "created",
            "updated_at": iso(created),
        }
        if dur > 0 and elapsed < 0.2 * dur:
            return out
        done = len(ids) if dur <= 0 or elapsed >= dur else int(len(ids) * (elapsed - 0.2 * dur) / (0.8 * dur))
        out["state"] = "complete" if done >= len(ids) else "started"
        out["progress"] = {"completed": done, "total_count": len(ids)}
        out["results"] = [self._speed_result(jid, int(nid), created, k, len(ids), dur) for k, nid in enumerate(ids[:done])]
        out["updated_at"] = iso(created + timedelta(seconds=min(elapsed, dur)))
        return out

    def _speed_result(self, jid: str, nid: int, created: datetime, k: int, n: int, dur: float) -> dict:
        rng = random.Random(f"{self.seed}:{jid}:{nid}")
        nd = self.tables["net_devices"].get(str(nid))
        rid = id_from_url(nd["router"]) if nd else None
        router = self.tables["routers"].get(rid) if rid else None
        finished = created + timedelta(seconds=0.2 * dur + 0.8 * dur * (k + 1) / max(n, 1))
        base = {"created_at": iso(created).replace("T", " "), "net_device_id": nid,
                "router_id": int(rid) if rid else None, "updated_at": iso(finished).replace("T", " ")}
        if not router or router["state"] != "online":
            return {**base, "results": "ERROR: test timed out (device offline)", "state": "error"}
        job_cfg = self._jobs[jid]["config"]
        ttype = job_cfg.get("test_type", "TCP Download")
        secs = job_cfg.get("time") or 10
        mbps = round(rng.uniform(5, 350), 2)
        stamp = finished.strftime("%Y-%m-%d %H:%M:%S")
        if ttype == "TCP Latency":
            text = f"TCP Latency Test Timestamp: {stamp} Duration: {secs:.2f} Seconds Latency: {rng.uniform(18, 120):.1f} ms"
        else:
            mb = round(mbps * secs / 8, 1)
            direction = "Upload" if ttype == "TCP Upload" else "Download"
            text = (f"{ttype} Test Timestamp: {stamp} Duration: {secs + 0.01:.2f} Seconds "
                    f"Client Received: {mb if direction == 'Download' else 0} MB Client Sent: {0 if direction == 'Download' else mb} MB "
                    f"{direction} Throughput: {mbps} Mbps")
        return {**base, "results": text, "state": "success"}

    # ------------------------------------------------------------------ runtime mutation
    def group_members(self, gid: str) -> list[str]:
        url = self.url("groups", gid)
        return [rid for rid, r in self.tables["routers"].items() if r["group"] == url]

    def create_router(self, **fields) -> dict:
        """Register a new router (with net devices, config manager, maybe a location)."""
        with self.lock:
            self.touch()
            group = id_from_url(fields.pop("group", None))
            if group and group not in self.tables["groups"]:
                raise KeyError(f"unknown group {group}")
            default_account = (id_from_url(self.tables["groups"][group]["account"]) if group
                               else list(self.tables["accounts"])[-1])
            account = id_from_url(fields.pop("account", None)) or default_account
            if account not in self.tables["accounts"]:
                raise KeyError(f"unknown account {account}")
            product = fields.pop("product", None)
            if product is not None and not str(product).isdigit():
                product = next((p[0] for p in PRODUCTS if p[1] == product), None)
            state = fields.pop("state", "online")
            if not group:
                fields["product"] = id_from_url(product)
            rid = self._add_router(len(self.tables["routers"]), account, group, generated=False, **fields)
            if state != "online":
                self.update_router(rid, state=state)
            else:
                self._add_alert(rid, "connection_state", info={"state": state}, resort=True)
            return copy.deepcopy(self.tables["routers"][rid])

    def update_router(self, router_id, **fields) -> dict:
        """Change any router fields (state, name, group, ...), as NCM or the device would."""
        with self.lock:
            self.touch()
            rid = str(router_id)
            row = self.tables["routers"][rid]
            now = iso(utcnow())
            if "group" in fields:
                gid = id_from_url(fields.pop("group"))
                self.move_router(rid, gid)
            if "account" in fields:
                aid = id_from_url(fields.pop("account"))
                if aid not in self.tables["accounts"]:
                    raise KeyError(f"unknown account {aid}")
                row["account"] = self.url("accounts", aid)
            new_state = fields.pop("state", None)
            for key, value in fields.items():
                if key in ("id", "resource_url"):
                    continue
                row[key] = value
            if new_state and new_state != row["state"]:
                row["state"] = new_state
                row["state_updated_at"] = now
                for nid in self.router_nds.get(rid, []):
                    nd = self.tables["net_devices"][nid]
                    up = new_state == "online"
                    nd["connection_state"] = "connected" if up else "disconnected"
                    nd["summary"] = "connected" if up else "disconnected"
                    nd["updated_at"] = now
                self._add_alert(rid, "connection_state", info={"state": new_state}, resort=True)
                if new_state == "online":
                    self.schedule_sync(self.router_cm[rid])
                    self.schedule_upgrade(rid)
            row["updated_at"] = now
            return copy.deepcopy(row)

    def move_router(self, rid: str, gid: str | None) -> None:
        self.touch()
        row = self.tables["routers"][rid]
        self._pin_actual(self.router_cm[rid])
        if gid:
            grow = self.tables["groups"][gid]
            row["group"] = self.url("groups", gid)
            row["target_firmware"] = grow["target_firmware"]
        else:
            row["group"] = None
            row["target_firmware"] = None
        row["upgrade_pending"] = bool(row["target_firmware"] and row["target_firmware"] != row["actual_firmware"])
        row["updated_at"] = iso(utcnow())
        self._config_changed(self.router_cm[rid])

    def delete_router(self, router_id) -> bool:
        """Unregister a router and everything hanging off it."""
        with self.lock:
            self.touch()
            rid = str(router_id)
            if rid not in self.tables["routers"]:
                return False
            del self.tables["routers"][rid]
            for nid in self.router_nds.pop(rid, []):
                for t in ("net_devices", "net_device_health", "net_device_metrics"):
                    self.tables[t].pop(nid, None)
            cmid = self.router_cm.pop(rid, None)
            if cmid:
                self.cm_router.pop(cmid, None)
                self.tables["configuration_managers"].pop(cmid, None)
                self.cm_config.pop(cmid, None)
                self.cm_actual.pop(cmid, None)
            lid = self.router_loc.pop(rid, None)
            if lid:
                self.tables["locations"].pop(lid, None)
            return True

    def add_alert(self, router_id=None, type: str = "connection_state", info=None,
                  friendly_info: str | None = None, account_id=None, created_at: datetime | None = None) -> dict:
        """Raise a new alert now (or at *created_at*); returns it in /alerts/ shape."""
        with self.lock:
            rid = str(router_id) if router_id is not None else None
            if rid is not None and rid not in self.tables["routers"]:
                raise KeyError(f"unknown router {rid}")
            acct = str(account_id) if account_id is not None else (None if rid else next(iter(self.tables["accounts"])))
            alert = self._add_alert(rid, type, info=info, friendly_info=friendly_info, account_id=acct,
                                    at=created_at, resort=True)
            return copy.deepcopy(alert)

    def summary(self) -> dict:
        with self.lock:
            states = Counter(r["state"] for r in self.tables["routers"].values())
            return {
                "seed": self.seed, "base_url": self.base,
                "counts": {name: len(t) for name, t in self.tables.items()} | {"alerts": len(self.alerts)},
                "router_states": dict(states), "reboots": len(self.reboots), "writes": len(self.writes),
            }


def _category(score: int | None) -> str | None:
    if score is None:
        return None
    if score >= 75:
        return "excellent"
    if score >= 50:
        return "good"
    if score >= 25:
        return "fair"
    return "poor"
