"""The simulated cloud: sites, devices, their configurations, config tasks, and the write log.

Deterministic per seed. Ids look like ecCloud's (long numeric strings). Everything is guarded by ``lock``.
"""
from __future__ import annotations

import random
import threading
import time
import uuid
from datetime import datetime, timedelta, timezone

from eccloud_config import ORIGIN_DEVICE, ORIGIN_SITE, ORIGIN_SITE_DEVICE, apply_changes

SITE_BASE = 281474976710000
DEVICE_BASE = 281474976711000
STATUSES = ("STATUS_ONLINE", "STATUS_ONLINE", "STATUS_ONLINE", "STATUS_OFFLINE")

# "provided defaults to form new entities in config": one template per entity root.
DEFAULTS = {
    "wireless": {"ssid": "IgniteNet", "enable": "1", "broadcastSSID": "1", "encryption": "psk2", "key": "",
                 "network": "lan", "isolate": "0"},
    "users": {"username": "", "password": "", "role": "read-only"},
    "network": {"proto": "dhcp", "enable": "1", "vlan": "0"},
}


def iso(ts: datetime) -> str:
    return ts.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.") + f"{ts.microsecond // 1000:03d}Z"


def now_utc() -> datetime:
    return datetime.now(timezone.utc)


class Cloud:
    def __init__(self, sites: int = 3, devices_per_site: int = 5, seed: int = 1, config_task_s: float = 2.0):
        self.lock = threading.RLock()
        self.rng = random.Random(f"eccloud:{seed}")
        self.seed = seed
        self.config_task_s = config_task_s
        self.sites: dict[str, dict] = {}
        self.devices: dict[str, dict] = {}
        self.site_configs: dict[str, dict] = {}
        self.device_configs: dict[str, dict] = {}
        self.timestamps: dict[str, str] = {}
        self.tasks: dict[str, list[float]] = {}   # device id -> due times (monotonic) of its config tasks
        self.writes: list[dict] = []              # every config-changes POST that reached the store
        self.calls: dict[str, int] = {}
        self._next_site = SITE_BASE + 783 + seed * 1000
        self._next_device = DEVICE_BASE + 73 + seed * 10000
        self.epoch = now_utc().replace(microsecond=0)
        for s in range(sites):
            site = self.create_site(name=f"Site {s + 1}")
            for d in range(devices_per_site):
                self.create_device(site_id=site["id"], name=f"AP {s + 1}-{d + 1}")

    # ------------------------------------------------------------------ sites
    def create_site(self, name: str | None = None, **fields) -> dict:
        with self.lock:
            self._next_site += 1
            sid = str(fields.pop("id", None) or self._next_site)
            ts = iso(self.epoch - timedelta(days=30))
            self.sites[sid] = {"id": sid, "name": name or f"Site {sid[-4:]}", "description": "",
                               "created_at": ts, "updated_at": ts, **fields}
            ssid_entity = f"wireless/{1000000000 + int(sid) % 100000 + 584}"
            self.site_configs[sid] = {
                "locale/deviceLang": {"value": "auto", "origin": ORIGIN_SITE},
                "network/lan/enable": {"value": "1", "origin": ORIGIN_SITE},
                "radio/r5/enable": {"value": "1", "origin": ORIGIN_SITE},
                "radio/global/bandSteering": {"value": "0", "origin": ORIGIN_SITE},
                "hotspot/landingURL": {"value": "https://www.ignitenet.com", "origin": ORIGIN_SITE},
                f"{ssid_entity}/ssid": {"value": f"{self.sites[sid]['name']} WiFi", "origin": ORIGIN_SITE},
                f"{ssid_entity}/key": {"value": "site-passphrase", "origin": ORIGIN_SITE},
                f"{ssid_entity}/broadcastSSID": {"value": "1", "origin": ORIGIN_SITE},
                f"{ssid_entity}/enable": {"value": "1", "origin": ORIGIN_SITE},
            }
            return dict(self.sites[sid])

    def update_site(self, site_id: str, **fields) -> dict:
        with self.lock:
            site = self.sites[site_id]
            site.update(fields)
            site["updated_at"] = iso(now_utc())
            return dict(site)

    def delete_site(self, site_id: str) -> bool:
        with self.lock:
            if site_id not in self.sites:
                return False
            for did in [d for d, dev in self.devices.items() if dev["site_id"] == site_id]:
                self.delete_device(did)
            del self.sites[site_id]
            self.site_configs.pop(site_id, None)
            return True

    def set_site_config(self, site_id: str, changes: dict) -> dict:
        """A change made in the Cloud UI at site level (``None`` deletes a key). Site keys are always ``site``."""
        with self.lock:
            cfg = self.site_configs[site_id]
            for key, value in changes.items():
                if value is None:
                    cfg.pop(key, None)
                else:
                    cfg[key] = {"value": str(value), "origin": ORIGIN_SITE}
            for did, dev in self.devices.items():
                if dev["site_id"] == site_id:
                    self._changed(did)
            return dict(cfg)

    # ------------------------------------------------------------------ devices
    def create_device(self, site_id: str, name: str | None = None, **fields) -> dict:
        with self.lock:
            if site_id not in self.sites:
                raise KeyError(f"no site {site_id}")
            self._next_device += 1
            did = str(fields.pop("id", None) or self._next_device)
            n = int(did) % 100000
            created = self.epoch - timedelta(days=60 - n % 30)
            status = fields.pop("status_id", None) or self.rng.choice(STATUSES)
            dev = {
                "id": did, "name": name or f"AP {did[-4:]}", "site_id": site_id,
                "sn": f"{n:07d}", "mac": "00:1f:" + ":".join(f"{(n >> s) & 0xff:02x}" for s in (24, 16, 8, 0)),
                "status_id": status, "state_id": "STATE_REGISTERED", "health_id": "HEALTH_NORMAL",
                "blocked": False,
                "last_contact": iso(self.epoch - timedelta(seconds=30 if status == "STATUS_ONLINE" else 86400 + n)),
                "created_at": iso(created), "updated_at": iso(created + timedelta(days=1)),
                "product_brand_id": "1", "type": "NET_ENTERPRISE", "hostname": f"ap-{n}",
                "suspend_config": False, "decomm": False, "license_type": "LICENSE_TYPE_FREE",
            }
            dev.update(fields)
            self.devices[did] = dev
            site_cfg = self.site_configs[site_id]
            ssid_entity = next((k.rsplit("/", 1)[0] for k in site_cfg if k.startswith("wireless/")), None)
            self.device_configs[did] = {
                "locale/deviceLang": {"value": "auto", "origin": ORIGIN_SITE},           # a copy that follows the site
                "radio/r5/enable": {"value": "0", "origin": ORIGIN_SITE},               # a stale copy: site wins
                "radio/r5/channel": {"value": str(36 + 4 * (n % 4)), "origin": ORIGIN_DEVICE},
                "system/hostname": {"value": dev["hostname"], "origin": ORIGIN_DEVICE},
                "radio/global/bandSteering": {"value": "1", "origin": ORIGIN_SITE_DEVICE},  # an override
            }
            if ssid_entity and n % 3 == 0:  # some devices override the site's SSID entity, whole
                for k in [k for k in site_cfg if k.startswith(ssid_entity + "/")]:
                    self.device_configs[did][k] = {"value": site_cfg[k]["value"], "origin": ORIGIN_SITE_DEVICE}
                self.device_configs[did][f"{ssid_entity}/ssid"]["value"] = f"{dev['name']} WiFi"
            self.timestamps[did] = str(uuid.uuid1())
            self.tasks[did] = []
            return dict(dev)

    def update_device(self, device_id: str, **fields) -> dict:
        with self.lock:
            dev = self.devices[device_id]
            if "site_id" in fields and fields["site_id"] not in self.sites:
                raise KeyError(f"no site {fields['site_id']}")
            dev.update(fields)
            dev["updated_at"] = iso(now_utc())
            if fields.get("status_id") == "STATUS_ONLINE":
                dev["last_contact"] = iso(now_utc())
                due = time.monotonic() + self.config_task_s  # tasks held while offline now run
                self.tasks[device_id] = [due if t == float("inf") else t for t in self.tasks[device_id]]
            if "site_id" in fields:
                self._changed(device_id)
            return dict(dev)

    def delete_device(self, device_id: str) -> bool:
        with self.lock:
            if self.devices.pop(device_id, None) is None:
                return False
            for table in (self.device_configs, self.timestamps, self.tasks):
                table.pop(device_id, None)
            return True

    def _changed(self, device_id: str) -> None:
        """The configuration changed on the server side: a new timestamp (a stale POST now gets serverSideChanged)."""
        self.timestamps[device_id] = str(uuid.uuid1())

    def touch_config(self, device_id: str, changes: dict | None = None) -> str:
        """Someone else edited the device (e.g. in the Cloud UI): apply *changes* and move the timestamp."""
        with self.lock:
            if changes:
                self.device_configs[device_id] = apply_changes(self.device_configs[device_id], changes)
            self._changed(device_id)
            return self.timestamps[device_id]

    # ------------------------------------------------------------------ config tasks
    def unfinished(self, device_id: str) -> int:
        now = time.monotonic()
        online = self.devices[device_id]["status_id"] == "STATUS_ONLINE"
        pending = [t for t in self.tasks.get(device_id, []) if t > now or not online]
        self.tasks[device_id] = pending
        return len(pending)

    def config_changes(self, device_id: str) -> dict:
        with self.lock:
            dev = self.devices[device_id]
            return {
                "unfinishedTaskCount": self.unfinished(device_id),
                "configSuspended": bool(dev.get("suspend_config")),
                "configResync": False,
                "timestamp": self.timestamps[device_id],
                "serverSideChanged": False,
                "site": {k: dict(v) for k, v in self.site_configs[dev["site_id"]].items()},
                "device": {k: dict(v) for k, v in self.device_configs[device_id].items()},
                "defaults": {k: dict(v) for k, v in DEFAULTS.items()},
            }

    def post_config_changes(self, device_id: str, timestamp: str, changes: dict) -> dict:
        """Store *changes* if *timestamp* is current; else answer ``serverSideChanged`` and store nothing."""
        with self.lock:
            if timestamp != self.timestamps[device_id]:
                return {"serverSideChanged": True, "timestamp": self.timestamps[device_id],
                        "unfinishedTaskCount": self.unfinished(device_id)}
            self.device_configs[device_id] = apply_changes(self.device_configs[device_id], changes)
            self.timestamps[device_id] = str(uuid.uuid1())
            online = self.devices[device_id]["status_id"] == "STATUS_ONLINE"
            self.tasks.setdefault(device_id, []).append(
                time.monotonic() + self.config_task_s if online else float("inf"))
            self.writes.append({"device_id": device_id, "changes": changes, "at": iso(now_utc())})
            return {"serverSideChanged": False, "timestamp": self.timestamps[device_id],
                    "unfinishedTaskCount": self.unfinished(device_id)}

    def summary(self) -> dict:
        with self.lock:
            return {"sites": len(self.sites), "devices": len(self.devices), "writes": len(self.writes),
                    "calls": sum(self.calls.values())}
