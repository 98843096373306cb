"""NCM API v2 time series, generated deterministically: the same (seed, device, hour) always gives the same
sample, so tests can compute exactly what a collector must have stored.

Every device reports one sample an hour (NCM's default), at a fixed second of the hour derived from its id.
Samples exist from ``HISTORY_DAYS`` days before the fleet's epoch up to the fleet's clock
(``Fleet.samples_until``, default: now). Endpoints (seed 001): ``net_device_signal_samples``,
``net_device_usage_samples`` (filter ``net_device``/``net_device__in``), ``router_state_samples``,
``router_stream_usage_samples`` (``router``/``router__in``), ``historical_locations``, ``router_logs``
(``router`` only). They answer 409 without their device filter, list oldest first, and page forward with
``meta.next`` = ``created_at_timeuuid__gt=<last row>`` (the seed's examples); ``created_at_timeuuid__gt/gte/lt/lte``
and ``created_at__gt/lt`` filter.
"""
from __future__ import annotations

import hashlib
import random
from datetime import UTC, datetime, timedelta

from .fleet import id_from_url, iso, parse_ts, timeuuid, timeuuid_key, utcnow

HISTORY_DAYS = 60
HOUR = 3600

# endpoint -> (device filter, device table, sample maker name)
ENDPOINTS = {
    "net_device_signal_samples": ("net_device", "net_devices"),
    "net_device_usage_samples": ("net_device", "net_devices"),
    "router_state_samples": ("router", "routers"),
    "router_stream_usage_samples": ("router", "routers"),
    "historical_locations": ("router", "routers"),
    "router_logs": ("router", "routers"),
}
IN_ALLOWED = {"net_device_signal_samples", "net_device_usage_samples", "router_state_samples",
              "router_stream_usage_samples"}
LOG_MESSAGES = [("INFO", "ecm", "Connecting to ECM"), ("INFO", "wan", "WAN connected: mdm"),
                ("WARNING", "wan", "Modem signal below threshold"), ("INFO", "system", "Configuration applied"),
                ("ERROR", "wan", "Modem link lost, failing over")]


def _rng(seed, *parts) -> random.Random:
    return random.Random(hashlib.sha256(":".join(str(p) for p in (seed, *parts)).encode()).digest())


def _offset(device_id: str) -> int:
    return int(hashlib.md5(device_id.encode()).hexdigest()[:8], 16) % HOUR


def _clock(device_id: str, kind: str) -> int:
    return int(hashlib.md5(f"{kind}:{device_id}".encode()).hexdigest()[:4], 16) & 0x3FFF


def sample(fleet, endpoint: str, device_id: str, hour: int) -> dict:
    """The sample a device reported in hour number `hour` (hours since 1970-01-01 UTC)."""
    at = datetime.fromtimestamp(hour * HOUR + _offset(device_id), UTC)
    rng = _rng(fleet.seed, endpoint, device_id, hour)
    base = _rng(fleet.seed, "base", device_id)
    row = {"created_at": iso(at), "created_at_timeuuid": timeuuid(at, _clock(device_id, endpoint), fleet._node)}
    day_phase = ((hour % 24) - 12) / 12.0
    if endpoint == "net_device_signal_samples":
        rsrp0 = base.randint(-118, -75)
        rsrp = round(rsrp0 + rng.uniform(-6, 6) - 3 * abs(day_phase), 1)
        row.update({
            "net_device": fleet.url("net_devices", device_id), "cinr": None, "dbm": int(rsrp + 20), "ecio": None,
            "rsrp": rsrp, "rsrp5g": None, "rsrq": round(base.uniform(-16, -6) + rng.uniform(-2, 2), 1), "rsrq5g": None,
            "rssi": int(rsrp + 25), "signal_percent": max(0, min(100, int((rsrp + 125) * 100 / 55))),
            "sinr": round(base.uniform(0, 20) + rng.uniform(-3, 3), 1), "sinr5g": None,
            "uptime": float(hour % 500 * HOUR + _offset(device_id)),
        })
    elif endpoint in ("net_device_usage_samples", "router_stream_usage_samples"):
        scale = base.randint(5, 200) * 1_000_000 if endpoint == "net_device_usage_samples" else 20_000
        busy = 1.5 if 8 <= hour % 24 <= 20 else 0.4
        key = "net_device" if endpoint == "net_device_usage_samples" else "router"
        table = "net_devices" if key == "net_device" else "routers"
        row.update({
            key: fleet.url(table, device_id), "bytes_in": int(scale * busy * rng.uniform(0.5, 1.5)),
            "bytes_out": int(scale * busy * rng.uniform(0.05, 0.3)), "period": 3600.0,
            "uptime": float(hour % 500 * HOUR),
        })
    elif endpoint == "router_state_samples":
        offline = rng.random() < 0.04 + base.random() * 0.06
        row.update({"router": fleet.url("routers", device_id), "state": "offline" if offline else "online",
                    "period": 3600.0})
    elif endpoint == "historical_locations":
        lat0, lon0 = base.uniform(30, 47), base.uniform(-120, -75)
        row.update({
            "router": fleet.url("routers", device_id), "accuracy": rng.randint(3, 30), "carrier_id": "Verizon",
            "cinr": None, "dbm": rng.randint(-100, -60), "ecio": None,
            "latitude": round(lat0 + rng.uniform(-0.01, 0.01), 6), "longitude": round(lon0 + rng.uniform(-0.01, 0.01), 6),
            "mph": round(rng.uniform(0, 2), 1), "net_device_name": "mdm-int1", "rfband": "Band 13", "rfband_5g": None,
            "rsrp": float(rng.randint(-115, -75)), "rsrp_5g": None, "rsrq": rng.randint(-15, -5), "rsrq_5g": None,
            "rssi": None, "signal_percent": rng.randint(20, 95), "sinr": round(rng.uniform(0, 20), 1), "sinr_5g": None,
            "summary": "connected",
        })
    elif endpoint == "router_logs":
        level, source, message = LOG_MESSAGES[rng.randrange(len(LOG_MESSAGES))]
        row.update({"router": fleet.url("routers", device_id), "exception": "", "sequence": hour % 100000,
                    "reported_at": iso(at - timedelta(seconds=rng.randint(1, 30))), "level": level, "source": source,
                    "message": message})
    return row


class _Bound:
    def __init__(self):
        self.lo = None  # (key, inclusive)
        self.hi = None

    def lower(self, key, inclusive):
        if self.lo is None or key > self.lo[0]:
            self.lo = (key, inclusive)

    def upper(self, key, inclusive):
        if self.hi is None or key < self.hi[0]:
            self.hi = (key, inclusive)

    def admits(self, key) -> bool:
        if self.lo and (key < self.lo[0] or (key == self.lo[0] and not self.lo[1])):
            return False
        if self.hi and (key > self.hi[0] or (key == self.hi[0] and not self.hi[1])):
            return False
        return True


def list_samples(fleet, endpoint: str, params: list, limit: int, page_url) -> tuple[int, dict]:
    """(status, body) for a GET of a time-series endpoint."""
    from .handlers import ApiError  # late: handlers imports this module

    filter_name, table = ENDPOINTS[endpoint]
    devices: list[str] = []
    bound = _Bound()
    for name, value in params:
        if name in ("limit", "offset", "fields", "order_by"):
            continue
        if name == filter_name or (name == f"{filter_name}__in" and endpoint in IN_ALLOWED):
            values = [v for v in value.split(",") if v.strip()]
            if len(values) > 100:
                raise ApiError(400, f"Too many values for {name}: {len(values)} (max 100)", "validation")
            for v in values:
                rid = id_from_url(v)
                if rid is None:
                    raise ApiError(400, f"Invalid value for {filter_name}: {v}", "validation")
                devices.append(rid)
            continue
        if name.startswith("created_at_timeuuid"):
            op = name[len("created_at_timeuuid"):] or "__exact"
            try:
                key = timeuuid_key(value)
            except ValueError:
                raise ApiError(400, f"Invalid timeuuid for created_at_timeuuid: {value}", "validation")
            if op in ("__gt", "__gte"):
                bound.lower(key, op == "__gte")
            elif op in ("__lt", "__lte"):
                bound.upper(key, op == "__lte")
            elif op in ("__exact", "="):
                bound.lower(key, True)
                bound.upper(key, True)
            else:
                raise ApiError(400, f"Filter '{name}' is not supported", "validation")
            continue
        if name in ("created_at__gt", "created_at__lt"):
            try:
                ts = parse_ts(value)
            except ValueError:
                raise ApiError(400, f"Invalid datetime for created_at: {value}", "validation")
            key = ((int((ts - datetime(1582, 10, 15, tzinfo=UTC)).total_seconds() * 10_000_000)), "")
            if name.endswith("gt"):
                bound.lower((key[0] + 1, ""), True)
            else:
                bound.upper((key[0], ""), False)
            continue
        raise ApiError(400, f"The '{name.split('__')[0]}' field does not allow filtering", "validation")
    if not devices:
        raise ApiError(409, f"A {filter_name} filter is required for {endpoint}", "validation")
    until = fleet.samples_until or utcnow()
    first_hour = int((fleet.epoch - timedelta(days=HISTORY_DAYS)).timestamp()) // HOUR
    last_hour = int(until.timestamp()) // HOUR
    # Narrow the hours from the bounds (a sample is within its hour), then generate and filter exactly.
    if bound.lo:
        lo_s = (bound.lo[0][0] - 122192928000000000) // 10_000_000
        first_hour = max(first_hour, lo_s // HOUR - 1)
    if bound.hi:
        hi_s = (bound.hi[0][0] - 122192928000000000) // 10_000_000
        last_hour = min(last_hour, hi_s // HOUR + 1)
    rows = []
    wanted = [d for d in dict.fromkeys(devices) if d in fleet.tables[table]]
    # Hour by hour: every sample of hour h precedes every sample of hour h+1 (a device reports at a fixed second
    # of the hour), so once a page's worth is found, later hours cannot enter it.
    for hour in range(first_hour, last_hour + 1):
        for device in wanted:
            row = sample(fleet, endpoint, device, hour)
            if parse_ts(row["created_at"]) > until:
                continue
            key = timeuuid_key(row["created_at_timeuuid"])
            if bound.admits(key):
                rows.append((key, row))
        if len(rows) > limit:
            break
    rows.sort(key=lambda kr: kr[0])
    page = [r for _, r in rows[:limit]]
    nxt = None
    if len(rows) > limit:
        nxt = page_url(created_at_timeuuid__gt=page[-1]["created_at_timeuuid"])
    return 200, {"data": page, "meta": {"limit": limit, "next": nxt, "offset": 0, "previous": None}}
