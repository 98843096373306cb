"""NCM API v2 request handling: auth, paging, filters, fields/expand, writes, faults.

``Api.handle`` takes a raw request and returns a :class:`Resp`; it knows nothing of
sockets, so it is also what the HTTP server in ``server.py`` calls. Behaviour follows
seed 001/002 and the SDK notes (reference/ncm-sdk.md §1.2, §1.5, §1.9, §1.10).
"""
from __future__ import annotations

import bisect
import json
import time
from dataclasses import dataclass, field
from typing import Any, Callable
from urllib.parse import parse_qsl, urlencode, urlsplit

from ncm_config import ConfigDiffError, apply_patch, apply_put, diff_errors

from . import history
from .faults import Faults
from .fleet import Fleet, id_from_url, iso, parse_ts, timeuuid_key, utcnow

DEFAULT_LIMIT = 20
MAX_LIMIT = 500
MAX_IN_VALUES = 100
WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
RESERVED = frozenset({"limit", "offset", "fields", "expand", "order_by"})
EQ_IN = ("eq", "in")
CMP = ("gt", "gte", "lt", "lte")
TS_OPS = ("exact", "gt", "gte", "lt", "lte")
_OPS = ("__in", "__gt", "__gte", "__lt", "__lte", "__isnull", "__exact")


@dataclass
class Resp:
    status: int
    body: Any = None                 # JSON-able object, bytes, or None (empty body)
    headers: dict = field(default_factory=dict)
    applied: bool = False            # for writes: did the fleet change?
    content_type: str = "application/json"
    reboots: list = field(default_factory=list)  # reboot records this call created
    payload: bytes | None = None     # the encoded body, kept with a cached response (see Api._cached)


class ApiError(Exception):
    def __init__(self, status: int, message: str, type_: str = "error", errors: list | None = None, body=None):
        super().__init__(message)
        self.status = status
        self.body = body if body is not None else error_body(message, type_, errors)


def error_body(message: str, type_: str = "error", errors: list | None = None) -> dict:
    """NCM's error shape (seed 001, configuration_managers 409 example)."""
    return {"errors": errors or [], "exception": {"message": message, "type": type_}}


@dataclass
class Spec:
    """What a list endpoint supports: filters (field -> (type, ops)), expand targets, ordering."""

    table: str
    filters: dict
    expand: dict = field(default_factory=dict)
    order_fields: tuple = ()
    aliases: dict = field(default_factory=dict)
    detail_missing: int = 404


SPECS: dict[str, Spec] = {
    "accounts": Spec("accounts", {"id": ("id", EQ_IN), "name": ("str", EQ_IN), "account": ("rel", EQ_IN)},
                     {"account": "accounts"}),
    "products": Spec("products", {"id": ("id", EQ_IN), "device_type": ("str", EQ_IN), "name": ("str", EQ_IN)}),
    "firmwares": Spec("firmwares", {"id": ("id", EQ_IN), "version": ("str", EQ_IN), "product": ("rel", EQ_IN)},
                      {"product": "products"}),
    "groups": Spec("groups", {"id": ("id", EQ_IN + CMP), "name": ("str", EQ_IN), "account": ("rel", EQ_IN),
                              "device_type": ("str", EQ_IN), "product": ("rel", EQ_IN)},
                   {"account": "accounts", "product": "products", "target_firmware": "firmwares"},
                   ("id", "name")),
    "routers": Spec("routers", {
        "account": ("rel", EQ_IN), "device_type": ("str", EQ_IN), "group": ("rel", EQ_IN + ("isnull",)),
        "id": ("id", EQ_IN + CMP), "ipv4_address": ("str", EQ_IN), "mac": ("mac", EQ_IN), "name": ("str", EQ_IN),
        "reboot_required": ("bool", EQ_IN), "serial_number": ("str", EQ_IN), "state": ("str", EQ_IN),
        "state_updated_at": ("ts", TS_OPS), "updated_at": ("ts", TS_OPS), "created_at": ("ts", TS_OPS),
        "product": ("rel", EQ_IN),
    }, {"account": "accounts", "group": "groups", "product": "products", "actual_firmware": "firmwares",
        "target_firmware": "firmwares", "last_known_location": "locations",
        "configuration_manager": "configuration_managers"},
        ("id", "name", "created_at", "updated_at", "state_updated_at", "state", "mac", "serial_number")),
    "net_devices": Spec("net_devices", {
        "account": ("rel", EQ_IN), "connection_state": ("str", EQ_IN), "id": ("id", EQ_IN + CMP),
        "is_asset": ("bool", ("eq",)), "ipv4_address": ("str", EQ_IN), "mode": ("str", EQ_IN),
        "router": ("rel", EQ_IN + ("isnull",)), "updated_at": ("ts", TS_OPS), "type": ("str", EQ_IN),
    }, {"router": "routers", "account": "accounts"}, ("id",)),
    "net_device_health": Spec("net_device_health", {"net_device": ("rel", EQ_IN), "id": ("id", EQ_IN + CMP)},
                              {"net_device": "net_devices"}),
    "net_device_metrics": Spec("net_device_metrics", {"net_device": ("rel", EQ_IN), "id": ("id", EQ_IN),
                                                      "update_ts": ("ts", TS_OPS)},
                               {"net_device": "net_devices"}),
    "locations": Spec("locations", {"id": ("id", EQ_IN), "router": ("rel", EQ_IN), "account": ("rel", EQ_IN)},
                      {"router": "routers", "account": "accounts"}),
    "configuration_managers": Spec("configuration_managers", {
        "account": ("rel", EQ_IN), "id": ("id", EQ_IN), "router": ("rel", EQ_IN), "synched": ("bool", ("eq",)),
        "suspended": ("bool", ("eq",)), "version_number": ("int", ("eq",) + CMP),
    }, {"router": "routers", "account": "accounts"}, (), {"router.id": "router"}, detail_missing=403),
    "speed_test": Spec("speed_test", {"account": ("rel", EQ_IN), "id": ("id", EQ_IN)}, {"account": "accounts"}),
}
REL_TABLE = {  # which table a relational filter's ids refer to
    "account": "accounts", "group": "groups", "router": "routers", "product": "products", "net_device": "net_devices",
}
TIMESERIES = {
    "alerts": Spec("alerts", {
        "account": ("rel", EQ_IN + ("isnull",)), "router": ("rel", EQ_IN + ("isnull",)), "type": ("str", EQ_IN),
        "created_at": ("ts", TS_OPS), "created_at_timeuuid": ("uuid", EQ_IN + CMP), "detected_at": ("ts", TS_OPS),
        "friendly_info": ("str", ("eq",)), "info": ("json", ("eq",)),
    }, {"router": "routers", "account": "accounts"}),
    "router_alerts": Spec("router_alerts", {
        "router": ("rel", EQ_IN), "created_at": ("ts", TS_OPS), "created_at_timeuuid": ("uuid", EQ_IN + CMP),
        "type": ("str", EQ_IN),
    }, {"router": "routers"}, ("created_at_timeuuid",)),
}
# Endpoints NCM has that the simulator keeps empty; time-series ones need their filter.
EMPTY_ENDPOINTS = {
    "activity_logs": None, "alert_rules": None, "alert_push_destinations": None, "batteries": None,
    "device_apps": None, "device_app_versions": None, "device_app_bindings": None, "device_app_states": None,
    "failovers": None, "device_failover_events": None, "users": None, "router_lans": None,
}


def endpoint_key(method: str, parts: list[str]) -> str:
    """Counter key of a call: ``"GET routers"``, ``"PATCH configuration_managers/{id}"``."""
    if not parts:
        return f"{method} /"
    key = f"{method} {parts[0]}"
    if len(parts) > 1:
        key += "/{id}" + ("/" + "/".join(parts[2:]) if len(parts) > 2 else "")
    return key


def _truthy(value: str) -> bool:
    v = value.strip().lower()
    if v in ("true", "1", "yes"):
        return True
    if v in ("false", "0", "no"):
        return False
    raise ApiError(400, f"Invalid boolean value: {value}", "validation")


# ====================================================================== the API
class Api:
    """Handles NCM API v2 requests against one :class:`Fleet`."""

    def __init__(self, fleet: Fleet, faults: Faults, keys: dict):
        self.fleet = fleet
        self.faults = faults
        self.keys = dict(keys)
        # Rendered GET responses and filtered/ordered listings of the current fleet version: a page is built
        # (and encoded, by the server) once per version, so reading the fleet costs the simulator ~nothing.
        self._cache_version = -1
        self._responses: dict[tuple, Resp] = {}
        self._listings: dict[tuple, list] = {}

    # ---------------------------------------------------------------- entry point
    def handle(self, method: str, raw_path: str, headers, body: bytes, host: str) -> Resp:
        fleet = self.fleet
        split = urlsplit(raw_path)
        path, query = split.path, split.query
        rel = path[len("/api/v2"):]
        parts = [p for p in rel.split("/") if p]
        key = endpoint_key(method, parts)
        is_write = method in WRITE_METHODS
        with fleet.lock:
            fleet.calls[key] += 1

        # A v2 path without its trailing slash is redirected (and counted twice, like NCM).
        if not rel.endswith("/"):
            location = f"http://{host}{path}/" + (f"?{query}" if query else "")
            return self._finish(Resp(301, None, {"Location": location}), method, raw_path, key, body, "redirect")

        if self.faults.latency_s:
            time.sleep(self.faults.latency_s)

        if not self._authorized(headers):
            resp = Resp(401, error_body("Authentication credentials were not provided or are invalid: send "
                                        "X-CP-API-ID, X-CP-API-KEY, X-ECM-API-ID and X-ECM-API-KEY.", "unauthorized"))
            return self._finish(resp, method, raw_path, key, body, "auth")

        fault = self.faults.before(key, is_write)
        if fault:
            return self._finish(self._fault_resp(fault[0], fault[1]), method, raw_path, key, body, str(fault[0]))

        params = parse_qsl(query, keep_blank_values=True)
        try:
            payload = self._parse_body(body) if method in ("POST", "PUT", "PATCH") else None
            with fleet.lock:
                fleet.tick()
                if method == "GET" and parts and parts[0] != "speed_test":
                    resp = self._cached(parts, params, host, query, raw_path)
                else:
                    resp = self._dispatch(method, parts, params, payload, host, query)
        except ApiError as exc:
            resp = Resp(exc.status, exc.body)
        except ConfigDiffError as exc:  # pragma: no cover - handlers convert these
            resp = Resp(400, error_body(exc.message, "validation"))

        if is_write:
            with fleet.lock:
                fleet.touch()  # a write (even a refused one) may have changed what listings show
        fault_tag = None
        if is_write and 200 <= resp.status < 300:
            reboots = resp.reboots
            if applied_fault := self.faults.after_accepted_write(key):
                resp, fault_tag = self._fault_resp(applied_fault[0], applied_fault[1], applied=resp.applied), str(applied_fault[0])
            elif self.faults.ambiguous(key):
                resp, fault_tag = self._fault_resp(502, {}, applied=resp.applied), "ambiguous"
            resp.reboots = reboots
        return self._finish(resp, method, raw_path, key, body, fault_tag)

    CACHE_ENTRIES = 4096

    def _fresh_cache(self) -> None:
        if self._cache_version != self.fleet.version or len(self._responses) > self.CACHE_ENTRIES:
            self._responses.clear()
            self._listings.clear()
            self._cache_version = self.fleet.version

    def _cached(self, parts, params, host: str, query: str, raw_path: str) -> Resp:
        """A GET answered from the cache of this fleet version (an error is never cached). Call with the lock."""
        self._fresh_cache()
        key = (raw_path, host)
        resp = self._responses.get(key)
        if resp is None:
            resp = self._dispatch("GET", parts, params, None, host, query)
            if resp.status == 200 and self._cache_version == self.fleet.version:
                self._responses[key] = resp
        return resp

    def _listing(self, resource: str, spec: Spec, params: list, source) -> list:
        """The filtered, ordered rows of a listing (any page of it), kept for this fleet version."""
        self._fresh_cache()
        key = (resource, tuple(sorted((k, v) for k, v in params if k not in ("limit", "offset"))))
        rows = self._listings.get(key)
        if rows is None:
            preds = self._compile_filters(spec, params, in_cap=resource != "alerts")
            rows = [r for r in source if all(p(r) for p in preds)] if preds else list(source)
            rows = self._order(rows, spec, params)
            if self._cache_version == self.fleet.version:
                self._listings[key] = rows
        return rows

    def _cursor_listing(self, resource: str, spec: Spec, params: list, source) -> list:
        """A time series listing paged by one ``created_at_timeuuid__lt``/``__gt`` cursor: the listing without the
        cursor comes from the cache and the cursor is a binary search in it, so paging 100k alerts costs each page
        a slice, not a scan (what is returned is the same as filtering every row)."""
        cursor = [(k, v) for k, v in params if k in ("created_at_timeuuid__lt", "created_at_timeuuid__gt")]
        if len(cursor) != 1 or "order_by" in dict(params):
            return self._listing(resource, spec, params, source)
        name, value = cursor[0]
        try:
            wanted = timeuuid_key(value)
        except ValueError:
            raise ApiError(400, f"Invalid timeuuid for created_at_timeuuid: {value}", "validation")
        base = [(k, v) for k, v in params if k != name]
        rows = self._listing(resource, spec, base, source)
        key = (resource, "ascending keys", tuple(sorted(base)))
        ascending = self._listings.get(key)
        if ascending is None:
            ascending = [timeuuid_key(r["created_at_timeuuid"]) for r in reversed(rows)]
            if any(a > b for a, b in zip(ascending, ascending[1:])):  # not newest first: filter as before
                return self._listing(resource, spec, params, source)
            if self._cache_version == self.fleet.version:
                self._listings[key] = ascending
        if name.endswith("__lt"):
            older = bisect.bisect_left(ascending, wanted)  # rows with a smaller key: the last ones, newest first
            return rows[len(rows) - older:]
        return rows[:len(rows) - bisect.bisect_right(ascending, wanted)]

    def _authorized(self, headers) -> bool:
        return all(headers.get(name) == value for name, value in self.keys.items())

    def _fault_resp(self, status: int, headers: dict, applied: bool = False) -> Resp:
        if status in (502, 503, 504):
            # Gateway errors come from NCM's load balancer: HTML, not JSON.
            text = {502: "Bad Gateway", 503: "Service Temporarily Unavailable", 504: "Gateway Time-out"}[status]
            html = f"<html><head><title>{status} {text}</title></head><body><center><h1>{status} {text}</h1></center></body></html>"
            return Resp(status, html.encode(), dict(headers), applied, "text/html")
        if status == 429:
            return Resp(429, error_body("Request was throttled. Too many requests.", "throttled"), dict(headers), applied)
        shard = abs(hash(time.monotonic())) % 8
        return Resp(status, error_body(f"cp internal error shard-router-{shard}", "error"), dict(headers), applied)

    def _finish(self, resp: Resp, method: str, raw_path: str, key: str, body: bytes, fault: str | None) -> Resp:
        if method in WRITE_METHODS:
            try:
                recorded = json.loads(body) if body else None
            except ValueError:
                recorded = body.decode("utf-8", "replace")
            with self.fleet.lock:
                self.fleet.writes.append({
                    "at": iso(utcnow()), "method": method, "path": raw_path, "endpoint": key, "body": recorded,
                    "applied": bool(resp.applied), "answered_status": resp.status, "fault": fault,
                })
                for rec in resp.reboots:
                    rec["answered_status"] = resp.status
        return resp

    @staticmethod
    def _parse_body(body: bytes):
        if not body:
            return None
        try:
            return json.loads(body)
        except ValueError:
            raise ApiError(400, "Request body is not valid JSON", "validation")

    # ---------------------------------------------------------------- routing
    def _dispatch(self, method: str, parts: list[str], params: list, payload, host: str, query: str) -> Resp:
        if not parts:
            return Resp(200, {name: f"{self.fleet.base}/{name}/" for name in sorted(list(SPECS) + list(TIMESERIES) + list(history.ENDPOINTS) + ["reboot_activity"])})
        resource = parts[0]
        obj_id = parts[1] if len(parts) > 1 else None
        if len(parts) > 2:
            if resource == "firmwares" and parts[2] == "default_configuration" and method == "GET":
                return Resp(200, {"configuration": [{}, []]})
            raise ApiError(404, "Not found", "not_found")
        writer: Callable | None = getattr(self, f"_write_{resource}", None)
        if payload is not None and not isinstance(payload, dict):
            raise ApiError(400, "Request body must be a JSON object", "validation")
        if method != "GET":
            if writer is None:
                raise ApiError(405, f"Method {method} not allowed on {resource}", "method_not_allowed")
            return writer(method, obj_id, payload or {}, params)
        if resource == "reboot_activity":
            raise ApiError(405, "Method GET not allowed on reboot_activity", "method_not_allowed")
        if resource in TIMESERIES:
            if obj_id:
                raise ApiError(404, "Not found", "not_found")
            return self._list_timeseries(resource, params, host, query)
        if resource in history.ENDPOINTS:
            if obj_id:
                raise ApiError(404, "Not found", "not_found")
            limit, _offset = self._limits(params)
            cleaned = [(k, v) for k, v in params if k not in ("offset", "limit")]
            status, body = history.list_samples(
                self.fleet, resource, params, limit,
                lambda **changes: self._page_url(host, resource, cleaned, limit=limit, **changes))
            return Resp(status, body)
        if resource in EMPTY_ENDPOINTS:
            required = EMPTY_ENDPOINTS[resource]
            if required and not any(k.split("__")[0] in required for k, _ in params):
                raise ApiError(409, f"A {required[0]} filter is required for {resource}", "validation")
            return Resp(200, {"data": [], "meta": {"limit": DEFAULT_LIMIT, "next": None, "offset": 0, "previous": None}})
        spec = SPECS.get(resource)
        if spec is None:
            raise ApiError(404, f"Unknown endpoint {resource}", "not_found")
        if obj_id:
            return Resp(200, self._present(resource, self._get_row(resource, obj_id), params))
        return self._list(resource, spec, params, host)

    def _get_row(self, resource: str, obj_id: str) -> dict:
        spec = SPECS[resource]
        if resource == "speed_test":
            if obj_id not in self.fleet._jobs:
                raise ApiError(404, "Not found", "not_found")
            return self.fleet.render_speed_job(obj_id)
        row = self.fleet.tables[spec.table].get(obj_id)
        if row is None:
            status = spec.detail_missing
            raise ApiError(status, "Invalid URL or resource not visible" if status == 403 else "Not found",
                           "forbidden" if status == 403 else "not_found")
        if resource == "configuration_managers":
            row = self.fleet.cm_row(obj_id)
        return row

    # ---------------------------------------------------------------- list helpers
    def _limits(self, params: list) -> tuple[int, int]:
        values = dict(params)
        try:
            limit = int(values.get("limit", DEFAULT_LIMIT))
            offset = int(values.get("offset", 0))
        except ValueError:
            raise ApiError(400, "limit and offset must be integers", "validation")
        if limit <= 0:
            limit = MAX_LIMIT
        if offset < 0:
            raise ApiError(400, "offset must not be negative", "validation")
        return min(limit, MAX_LIMIT), offset

    def _compile_filters(self, spec: Spec, params: list, in_cap: bool = True) -> list[Callable[[dict], bool]]:
        preds = []
        for name, value in params:
            if name in RESERVED:
                continue
            fname, op = name, "eq"
            for suffix in _OPS:
                if name.endswith(suffix):
                    fname, op = name[: -len(suffix)], suffix[2:]
                    break
            fname = spec.aliases.get(fname, fname)
            if fname not in spec.filters:
                raise ApiError(400, f"The '{fname}' field does not allow filtering", "validation")
            ftype, ops = spec.filters[fname]
            if op not in ops:
                raise ApiError(400, f"Filter '{name}' is not supported", "validation")
            preds.append(self._predicate(fname, ftype, op, value, in_cap))
        return preds

    def _predicate(self, fname: str, ftype: str, op: str, value: str, in_cap: bool) -> Callable[[dict], bool]:
        values = [v.strip() for v in value.split(",") if v.strip()] if op == "in" else [value]
        if op == "in" and in_cap and len(values) > MAX_IN_VALUES:
            raise ApiError(400, f"Too many values for {fname}__in: {len(values)} (max {MAX_IN_VALUES})", "validation")
        if op == "isnull":
            want_null = _truthy(value)
            return lambda r: (r.get(fname) is None) == want_null
        if ftype == "rel":
            table = REL_TABLE.get(fname, fname + "s")
            urls = set()
            for v in values:
                rid = id_from_url(v)
                if rid is None:
                    raise ApiError(400, f"Invalid value for {fname}: {v}", "validation")
                urls.add(self.fleet.url(table, rid))
            return lambda r: r.get(fname) in urls
        if ftype in ("id", "int"):
            try:
                nums = [int(v) for v in values]
            except ValueError:
                raise ApiError(400, f"Invalid value for {fname}: {value}", "validation")
            if op in ("eq", "in"):
                wanted = {str(n) for n in nums} if ftype == "id" else set(nums)  # ids are strings in rows
                return lambda r: r.get(fname) in wanted
            return _cmp(op, nums[0], lambda r: int(r.get(fname) or 0))
        if ftype == "bool":
            wanted = {_truthy(v) for v in values}
            return lambda r: r.get(fname) in wanted
        if ftype == "mac":
            wanted = {v.upper().replace("-", ":") for v in values}
            return lambda r: (r.get(fname) or "").upper() in wanted
        if ftype == "ts":
            try:
                ref = parse_ts(values[0])
            except ValueError:
                raise ApiError(400, f"Invalid datetime for {fname}: {value} (give the time portion, e.g. 2019-08-12T09:29:34)", "validation")
            return _cmp("eq" if op in ("eq", "exact") else op, ref,
                        lambda r: parse_ts(r[fname]) if r.get(fname) else None)
        if ftype == "uuid":
            try:
                keys = [timeuuid_key(v) for v in values]
            except ValueError:
                raise ApiError(400, f"Invalid timeuuid for {fname}: {value}", "validation")
            if op in ("eq", "in"):
                wanted = {k[1] for k in keys}
                return lambda r: r.get(fname) in wanted
            return _cmp(op, keys[0], lambda r: timeuuid_key(r[fname]))
        if ftype == "json":
            return lambda r: json.dumps(r.get(fname), sort_keys=True) == value or str(r.get(fname)) == value
        wanted_s = set(values)
        return lambda r: r.get(fname) is not None and str(r.get(fname)) in wanted_s

    def _order(self, rows: list, spec: Spec, params: list) -> list:
        order = dict(params).get("order_by")
        if not order:
            return rows
        for key in reversed([k.strip() for k in order.split(",") if k.strip()]):
            desc = key.startswith("-")
            fname = key.lstrip("-")
            if fname not in spec.order_fields:
                raise ApiError(409, "Invalid ordering field", "validation")
            if fname == "id":
                rows = sorted(rows, key=lambda r: int(r["id"]), reverse=desc)
            elif fname == "created_at_timeuuid":
                rows = sorted(rows, key=lambda r: timeuuid_key(r[fname]), reverse=desc)
            else:
                rows = sorted(rows, key=lambda r: (r.get(fname) is None, r.get(fname) or ""), reverse=desc)
        return rows

    def _page_url(self, host: str, resource: str, params: list, **changes) -> str:
        kept = [(k, v) for k, v in params if k not in changes]
        kept.extend((k, str(v)) for k, v in changes.items() if v is not None)
        return f"http://{host}/api/v2/{resource}/?{urlencode(kept)}"

    def _list(self, resource: str, spec: Spec, params: list, host: str) -> Resp:
        limit, offset = self._limits(params)
        if resource == "speed_test":
            preds = self._compile_filters(spec, params)
            rows = [self.fleet.render_speed_job(j) for j in self.fleet._jobs]
            rows = self._order([r for r in rows if all(p(r) for p in preds)], spec, params)
        else:
            self._compile_filters(spec, params)  # validates (the 100-value cap on __in) before the cache
            rows = self._listing(resource, spec, params, self.fleet.tables[spec.table].values())
        total = len(rows)
        page = rows[offset:offset + limit]
        if resource == "configuration_managers":
            page = [self.fleet.cm_row(r["id"]) for r in page]
        page = [self._present(resource, r, params) for r in page]
        nxt = self._page_url(host, resource, params, limit=limit, offset=offset + limit) if offset + limit < total else None
        prev = self._page_url(host, resource, params, limit=limit, offset=max(0, offset - limit)) if offset > 0 else None
        return Resp(200, {"data": page, "meta": {"limit": limit, "next": nxt, "offset": offset, "previous": prev}})

    def _list_timeseries(self, resource: str, params: list, host: str, query: str) -> Resp:
        """alerts / router_alerts: newest first, paged by ``created_at_timeuuid__lt``."""
        spec = TIMESERIES[resource]
        if resource == "alerts" and "order_by" in dict(params):
            raise ApiError(409, "Invalid ordering field", "validation")
        if resource == "router_alerts" and not any(k in ("router", "router__in") for k, _ in params):
            raise ApiError(409, "A router filter is required for router_alerts", "validation")
        limit, offset = self._limits(params)
        # /alerts/ has no 100-value limit on __in filters (seed 001, "Special Notes").
        self._compile_filters(spec, params, in_cap=resource != "alerts")  # validates before the cache
        source = self.fleet.alerts
        if resource == "router_alerts":
            source = [a for a in source if a["router"] is not None]
        rows = self._cursor_listing(resource, spec, params, source)
        page = rows[offset:offset + limit]
        if resource == "router_alerts":
            page = [{k: v for k, v in a.items() if k != "account"} for a in page]
        page = [self._present(resource, r, params) for r in page]
        nxt = None
        if offset + limit < len(rows) and page:
            cleaned = [(k, v) for k, v in params if k != "offset"]
            nxt = self._page_url(host, resource, cleaned, limit=limit, created_at_timeuuid__lt=page[-1]["created_at_timeuuid"])
        return Resp(200, {"data": page, "meta": {"limit": limit, "next": nxt, "offset": offset, "previous": None}})

    # ---------------------------------------------------------------- presentation
    def _present(self, resource: str, row: dict, params: list) -> dict:
        values = dict(params)
        expand = [e.strip() for e in values.get("expand", "").split(",") if e.strip()]
        fields = [f.strip() for f in values.get("fields", "").split(",") if f.strip()]
        spec = SPECS.get(resource) or TIMESERIES.get(resource)
        if not expand and not fields:
            return row
        expand_set = set(expand) | {f.split(".", 1)[0] for f in fields if "." in f}
        out = dict(row)
        for name in expand_set:
            if name not in spec.expand:
                raise ApiError(400, f"The '{name}' field cannot be expanded", "validation")
            out[name] = self._related(spec.expand[name], row.get(name))
        if not fields:
            return out
        projected: dict = {}
        for f in fields:
            if "." in f:
                top, sub = f.split(".", 1)
                related = out.get(top)
                if isinstance(related, dict):
                    projected.setdefault(top, {})[sub] = related.get(sub)
                else:
                    projected.setdefault(top, None)
            elif f in out:
                projected[f] = out[f]
        return projected

    def _related(self, table: str, url):
        rid = id_from_url(url)
        if rid is None:
            return None
        if table == "configuration_managers":
            return self.fleet.cm_row(rid) if rid in self.fleet.tables[table] else None
        return self.fleet.tables[table].get(rid)

    def _fields_only(self, row: dict, params: list) -> dict:
        fields = [f.strip() for f in dict(params).get("fields", "").split(",") if f.strip()]
        return {f: row.get(f) for f in fields} if fields else row

    # ---------------------------------------------------------------- writes
    def _lookup(self, table: str, value, status: int = 400, what: str | None = None) -> str:
        rid = id_from_url(value)
        if rid is None or rid not in self.fleet.tables[table]:
            raise ApiError(status, f"Invalid {what or table[:-1]}: {value}", "forbidden" if status == 403 else "validation")
        return rid

    def _write_reboot_activity(self, method, obj_id, payload, params) -> Resp:
        if method != "POST" or obj_id:
            raise ApiError(405, f"Method {method} not allowed on reboot_activity", "method_not_allowed")
        fleet = self.fleet
        router_url, group_url = payload.get("router"), payload.get("group")
        if bool(router_url) == bool(group_url):
            raise ApiError(400, "POST payload requires exactly one of router or group", "validation")
        now = utcnow()
        request_id = fleet._new_id("reboot_activity")
        if router_url:
            rid = self._lookup("routers", router_url, 403, "router")
            targets, via, gid = [rid], "router", None
        else:
            gid = self._lookup("groups", group_url, 403, "group")
            targets, via = fleet.group_members(gid), "group"
        records = []
        for rid in targets:
            state = fleet.tables["routers"][rid]["state"]
            delivered = fleet.start_reboot(rid, request_id)  # an offline router's request is lost, as in NCM
            rec = {"router_id": rid, "at": iso(now), "via": via, "group_id": gid, "request_id": request_id,
                   "router_state": state, "delivered": delivered, "answered_status": None}
            fleet.reboots.append(rec)
            records.append(rec)
        # answered_status is filled in by _finish once the final status is known.
        return Resp(201, {"id": request_id, "router": fleet.url("routers", targets[0]) if via == "router" else None,
                          "group": fleet.url("groups", gid) if gid else None, "created_at": iso(now)},
                    applied=True, reboots=records)

    def _write_routers(self, method, obj_id, payload, params) -> Resp:
        fleet = self.fleet
        if method not in ("PUT", "PATCH", "DELETE") or not obj_id:
            raise ApiError(405, f"Method {method} not allowed here", "method_not_allowed")
        row = fleet.tables["routers"].get(obj_id)
        if row is None:
            raise ApiError(404, "Not found", "not_found")
        if method == "DELETE":
            fleet.delete_router(obj_id)
            return Resp(204, None, applied=True)
        if not isinstance(payload, dict):
            raise ApiError(400, "Body must be a JSON object", "validation")
        writable = {"name", "description", "asset_id", "custom1", "custom2", "group", "account"}
        changes = {}
        for key, value in payload.items():
            if key not in writable:
                if key in row and row[key] == value:
                    continue  # an unchanged read-only field echoed back is harmless
                raise ApiError(400, f"The '{key}' field is read-only", "validation")
            if key == "name" and (not isinstance(value, str) or not value.strip() or len(value) > 255):
                raise ApiError(400, "name must be a non-empty string of at most 255 characters", "validation")
            if key in ("description", "asset_id", "custom1", "custom2") and value is not None and not isinstance(value, str):
                raise ApiError(400, f"{key} must be a string or null", "validation")
            if key == "group" and value is not None:
                gid = self._lookup("groups", value, 400, "group")
                if fleet.tables["groups"][gid]["product"] != row["product"]:
                    raise ApiError(400, "All the devices in a group must be of the group's product type", "validation")
                value = gid
            if key == "account":
                value = self._lookup("accounts", value, 400, "account")
            changes[key] = value
        if "group" in changes:
            gid = changes.pop("group")
            fleet.move_router(obj_id, gid)
        if "account" in changes:
            row["account"] = fleet.url("accounts", changes.pop("account"))
        row.update(changes)
        row["updated_at"] = iso(utcnow())
        return Resp(202 if method == "PUT" else 200, self._fields_only(row, params), applied=True)

    def _config_write(self, method: str, current, diff, url: str, previous):
        """Apply a config PUT/PATCH or raise NCM's error (PUT: 409, PATCH: 400)."""
        errors = diff_errors(diff)
        if errors:
            if any(e.kind == "missing_id" for e in errors):
                bad = next(e for e in errors if e.kind == "missing_id")
                raise ApiError(400, bad.message, body={"exception": {"message": bad.message, "type": "error"},
                                                       "errors": [{"path": url}]})
            raise ApiError(409 if method == "PUT" else 400, "bad or missing data", "validation",
                           [e.to_ncm() for e in errors])
        return apply_put(diff, previous) if method == "PUT" else apply_patch(current, diff)

    def _write_configuration_managers(self, method, obj_id, payload, params) -> Resp:
        fleet = self.fleet
        if method not in ("PUT", "PATCH") or not obj_id:
            raise ApiError(405, "PUT and PATCH need a configuration manager id in the URL", "method_not_allowed")
        if obj_id not in fleet.tables["configuration_managers"]:
            raise ApiError(403, "Invalid URL or resource not visible", "forbidden")
        if not isinstance(payload, dict):
            raise ApiError(409, "Body must be a JSON object", "validation")
        extra = [k for k in payload if k not in ("configuration", "suspended") and not (k == "id" and str(payload[k]) == obj_id)]
        if extra:
            raise ApiError(409, f"Only configuration and suspended are writable (got {', '.join(sorted(extra))})", "validation")
        row = fleet.cm_row(obj_id)
        url = fleet.url("configuration_managers", obj_id)
        if "suspended" in payload and not isinstance(payload["suspended"], bool):
            raise ApiError(409, "suspended must be a boolean", "validation")
        new_config = None
        if "configuration" in payload:
            new_config = self._config_write(method, fleet.cm_config[obj_id], payload["configuration"], url, fleet.cm_config[obj_id])
        if new_config is not None:
            fleet.set_individual_config(obj_id, new_config)
        if "suspended" in payload:
            rid = fleet.cm_router[obj_id]
            if payload["suspended"]:
                row["suspended"] = True
            elif fleet.tables["routers"][rid]["state"] == "online":
                row["suspended"] = False  # resuming only works while the device is online
                fleet.schedule_sync(obj_id)
            fleet._render_cm(obj_id)
        if method == "PATCH":
            return Resp(202, None, applied=True)  # PATCH never returns a payload (seed 001)
        return Resp(202, self._fields_only(fleet.cm_row(obj_id), params), applied=True)

    def _write_groups(self, method, obj_id, payload, params) -> Resp:
        fleet = self.fleet
        if not isinstance(payload, dict):
            raise ApiError(400, "Body must be a JSON object", "validation")
        if method == "POST":
            if obj_id:
                raise ApiError(405, "POST goes to the groups list", "method_not_allowed")
            missing = [k for k in ("account", "name", "product", "target_firmware") if not payload.get(k)]
            if missing:
                raise ApiError(400, f"Missing required fields: {', '.join(missing)}", "validation")
            aid = self._lookup("accounts", payload["account"])
            pid = self._lookup("products", payload["product"])
            fid = self._lookup("firmwares", payload["target_firmware"])
            if id_from_url(fleet.tables["firmwares"][fid]["product"]) != pid:
                raise ApiError(400, "target_firmware is not a firmware of product", "validation")
            gid = fleet._add_group(aid, str(payload["name"]), pid, fid)
            if "configuration" in payload:
                fleet.set_group_config(gid, self._config_write("PUT", None, payload["configuration"], fleet.url("groups", gid), None))
            return Resp(201, fleet.tables["groups"][gid], applied=True)
        if not obj_id:
            raise ApiError(405, f"Method {method} needs a group id", "method_not_allowed")
        row = fleet.tables["groups"].get(obj_id)
        if row is None:
            raise ApiError(404, "Not found", "not_found")
        if method == "DELETE":
            for rid in fleet.group_members(obj_id):
                fleet.move_router(rid, None)
            del fleet.tables["groups"][obj_id]
            fleet.group_config.pop(obj_id, None)
            return Resp(204, None, applied=True)
        writable = {"name", "configuration", "product", "target_firmware", "account"}
        for key, value in payload.items():
            if key not in writable and not (key in row and row[key] == value):
                raise ApiError(400, f"The '{key}' field is read-only", "validation")
        new_config = None
        if "configuration" in payload:
            current = fleet.group_config[obj_id]
            new_config = self._config_write(method, current, payload["configuration"], fleet.url("groups", obj_id), current)
        if "target_firmware" in payload:
            fid = self._lookup("firmwares", payload["target_firmware"])
            if fleet.tables["firmwares"][fid]["product"] != row["product"]:
                raise ApiError(400, "target_firmware is not a firmware of the group's product", "validation")
            row["target_firmware"] = fleet.url("firmwares", fid)
            for rid in fleet.group_members(obj_id):
                r = fleet.tables["routers"][rid]
                r["target_firmware"] = row["target_firmware"]
                r["upgrade_pending"] = r["target_firmware"] != r["actual_firmware"]
                r["updated_at"] = iso(utcnow())
                fleet.schedule_upgrade(rid)
        if "account" in payload:
            row["account"] = fleet.url("accounts", self._lookup("accounts", payload["account"]))
        if "name" in payload:
            if not isinstance(payload["name"], str) or not payload["name"].strip():
                raise ApiError(400, "name must be a non-empty string", "validation")
            row["name"] = payload["name"]
        if new_config is not None:
            fleet.set_group_config(obj_id, new_config)
        if method == "PATCH":
            return Resp(202, None, applied=True)
        return Resp(202, self._fields_only(row, params), applied=True)

    def _write_accounts(self, method, obj_id, payload, params) -> Resp:
        fleet = self.fleet
        root = next(iter(fleet.tables["accounts"]))
        if method == "POST" and not obj_id:
            if not payload.get("name") or not payload.get("account"):
                raise ApiError(400, "Missing required fields: account, name", "validation")
            parent = self._lookup("accounts", payload["account"], 403, "account")
            aid = fleet._add_account(str(payload["name"]), parent)
            return Resp(201, fleet.tables["accounts"][aid], applied=True)
        if not obj_id or method == "POST":
            raise ApiError(405, f"Method {method} not allowed here", "method_not_allowed")
        row = fleet.tables["accounts"].get(obj_id)
        if row is None:
            raise ApiError(403, "Invalid URL or resource not visible", "forbidden")
        if method == "DELETE":
            url = fleet.url("accounts", obj_id)
            if obj_id == root or any(r["account"] == url for t in ("routers", "groups", "accounts") for r in fleet.tables[t].values()):
                raise ApiError(400, "Only an empty subaccount can be deleted", "validation")
            del fleet.tables["accounts"][obj_id]
            return Resp(204, None, applied=True)
        if "name" in payload:
            row["name"] = str(payload["name"])
        return Resp(202, self._fields_only(row, params), applied=True)

    def _write_locations(self, method, obj_id, payload, params) -> Resp:
        fleet = self.fleet
        if method == "POST" and not obj_id:
            missing = [k for k in ("account", "accuracy", "latitude", "longitude", "method", "router") if payload.get(k) is None]
            if missing:
                raise ApiError(400, f"Missing required fields: {', '.join(missing)}", "validation")
            rid = self._lookup("routers", payload["router"])
            aid = self._lookup("accounts", payload["account"])
            old = fleet.router_loc.pop(rid, None)
            if old:
                fleet.tables["locations"].pop(old, None)
            lid = fleet._new_id("locations")
            fleet.tables["locations"][lid] = {
                "account": fleet.url("accounts", aid), "accuracy": payload["accuracy"], "id": lid,
                "latitude": payload["latitude"], "longitude": payload["longitude"], "method": payload["method"],
                "resource_url": fleet.url("locations", lid), "router": fleet.url("routers", rid),
                "updated_at": iso(utcnow()),
            }
            fleet.router_loc[rid] = lid
            fleet.tables["routers"][rid]["last_known_location"] = fleet.url("locations", lid)
            fleet.tables["routers"][rid]["updated_at"] = iso(utcnow())
            return Resp(201, fleet.tables["locations"][lid], applied=True)
        if not obj_id or method == "POST":
            raise ApiError(405, f"Method {method} not allowed here", "method_not_allowed")
        row = fleet.tables["locations"].get(obj_id)
        if row is None:
            raise ApiError(404, "Not found", "not_found")
        rid = id_from_url(row["router"])
        if method == "DELETE":
            del fleet.tables["locations"][obj_id]
            if fleet.router_loc.get(rid) == obj_id:
                del fleet.router_loc[rid]
                if rid in fleet.tables["routers"]:
                    fleet.tables["routers"][rid]["last_known_location"] = None
                    fleet.tables["routers"][rid]["updated_at"] = iso(utcnow())
            return Resp(204, None, applied=True)
        for key in ("accuracy", "latitude", "longitude", "method"):
            if key in payload:
                row[key] = payload[key]
        row["updated_at"] = iso(utcnow())
        return Resp(202, self._fields_only(row, params), applied=True)

    def _write_speed_test(self, method, obj_id, payload, params) -> Resp:
        fleet = self.fleet
        if method == "DELETE" and obj_id:
            if fleet._jobs.pop(obj_id, None) is None:
                raise ApiError(404, "Not found", "not_found")
            return Resp(204, None, applied=True)
        if method != "POST" or obj_id:
            raise ApiError(405, f"Method {method} not allowed here", "method_not_allowed")
        aid = self._lookup("accounts", payload.get("account"), 403, "account")
        cfg = payload.get("config")
        if not isinstance(cfg, dict):
            raise ApiError(400, "config is required", "validation")
        required = ("host", "max_test_concurrency", "net_device_ids", "port", "size", "test_timeout", "test_type", "time")
        missing = [k for k in required if k not in cfg]
        if missing:
            raise ApiError(400, f"config is missing required attributes: {', '.join(missing)}", "validation")
        ids = cfg["net_device_ids"]
        if not isinstance(ids, list) or not ids or len(ids) > 10_000:
            raise ApiError(400, "net_device_ids must list 1 to 10,000 net_device IDs", "validation")
        if not isinstance(cfg["max_test_concurrency"], int) or not 1 <= cfg["max_test_concurrency"] <= 50:
            raise ApiError(400, "max_test_concurrency must be between 1 and 50", "validation")
        if cfg["test_type"] not in ("TCP Download", "TCP Upload", "TCP Latency"):
            raise ApiError(400, "test_type must be TCP Download, TCP Upload or TCP Latency", "validation")
        unknown = [n for n in ids if str(n) not in fleet.tables["net_devices"]]
        if unknown:
            raise ApiError(400, f"Invalid net_device_ids: {unknown[:20]}", "validation")
        return Resp(201, fleet.create_speed_job(aid, cfg), applied=True)


def _cmp(op: str, ref, getter) -> Callable[[dict], bool]:
    def pred(row):
        v = getter(row)
        if v is None:
            return False
        if op == "gt":
            return v > ref
        if op == "gte":
            return v >= ref
        if op == "lt":
            return v < ref
        if op == "lte":
            return v <= ref
        return v == ref

    return pred
