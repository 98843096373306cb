"""HTTP front of the simulator, and ``SimServer`` -- the object tests and scripts use.

::

    from ncm_sim.server import SimServer
    with SimServer(routers=200, seed=1) as sim:
        client = ncm.NcmClientv2(api_keys=sim.keys, base_url=sim.base_url)
        ...
        assert len([r for r in sim.state.reboots if r["router_id"] == rid]) == 1

The NCM API lives under ``/api/v2/``; the unauthenticated control API under
``/_sim/`` (see README.md). Stdlib only: ``http.server.ThreadingHTTPServer`` with
HTTP/1.1 keep-alive so the SDK's session reuses its connection.
"""
from __future__ import annotations

import json
import os
import sys
import threading
import traceback
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, urlsplit

from . import v3
from .faults import Faults
from .fleet import Fleet, id_from_url
from .handlers import Api, Resp, error_body

KEY_HEADERS = {  # header -> (env var, demo default); contract.md §3
    "X-CP-API-ID": ("X_CP_API_ID", "demo-cp-id"),
    "X-CP-API-KEY": ("X_CP_API_KEY", "demo-cp-key"),
    "X-ECM-API-ID": ("X_ECM_API_ID", "demo-ecm-id"),
    "X-ECM-API-KEY": ("X_ECM_API_KEY", "demo-ecm-key"),
}


def default_keys(environ=None) -> dict:
    """Expected API keys: env X_CP_API_ID etc., else the demo-* values."""
    environ = os.environ if environ is None else environ
    return {header: environ.get(env) or demo for header, (env, demo) in KEY_HEADERS.items()}


def _counts_only(path: str, body: bytes) -> bool:
    """A control call that resets only the call counters, which no API response shows: cached pages stay
    valid. (The bench resets them before each phase; re-rendering every page each time put the simulator's
    own cost into every phase it measures.)"""
    if path.rstrip("/") != "/_sim/reset-counters":
        return False
    try:
        data = json.loads(body) if body else {}
    except ValueError:
        return False
    return isinstance(data, dict) and bool(data.get("calls")) and not data.get("reboots") and not data.get("writes")


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "ncm_sim/1.0"
    # One buffered write per response and no Nagle: otherwise headers and body go out as
    # two small segments and delayed ACKs add ~40 ms to every keep-alive request.
    wbufsize = 1 << 16
    disable_nagle_algorithm = True
    sim: "SimServer"  # set on the per-server subclass

    def log_message(self, fmt, *args):  # quiet unless verbose
        if self.sim.verbose:
            sys.stderr.write("ncm_sim: " + (fmt % args) + "\n")

    def _handle(self, method: str) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        path = urlsplit(self.path).path
        host = self.headers.get("Host") or self.sim.netloc
        try:
            if path == "/api/v2" or path.startswith("/api/v2/"):
                resp = self.sim.api.handle(method, self.path, self.headers, body, host)
            elif path == "/api/v3" or path.startswith("/api/v3/"):
                status, payload = v3.handle(self.sim.state, self.sim.v3_token, method, self.path, self.headers, host)
                resp = Resp(status, payload, content_type=v3.MEDIA)
            elif (path == "/_sim" or path.startswith("/_sim/")) and self.sim.control:
                resp = self.sim._control(method, self.path, body)
                if method != "GET" and not _counts_only(path, body):
                    with self.sim.state.lock:
                        self.sim.state.touch()
            else:
                resp = Resp(404, error_body(f"Not found: {path}", "not_found"))
        except Exception as exc:  # a simulator bug must not kill the connection silently
            traceback.print_exc()
            resp = Resp(500, error_body(f"ncm_sim internal error: {exc.__class__.__name__}", "error"))
        self._send(resp, host)

    def _send(self, resp: Resp, host: str) -> None:
        if resp.payload is not None:
            payload = resp.payload  # a cached response, encoded once
        elif resp.body is None:
            payload = b""
        elif isinstance(resp.body, bytes):
            payload = resp.body
        else:
            text = json.dumps(resp.body, separators=(",", ":"))
            if host != self.sim.netloc:  # URLs follow the host the client used (SDK retry mount)
                text = text.replace(f"http://{self.sim.netloc}/", f"http://{host}/")
            payload = text.encode()
            resp.payload = payload  # kept if the API cached this response
        self.send_response(resp.status)
        if payload or resp.status not in (204, 301):
            self.send_header("Content-Type", resp.content_type)
        self.send_header("Content-Length", str(len(payload)))
        for name, value in resp.headers.items():
            self.send_header(name, value)
        self.end_headers()
        if payload:
            self.wfile.write(payload)

    def do_GET(self):
        self._handle("GET")

    def do_POST(self):
        self._handle("POST")

    def do_PUT(self):
        self._handle("PUT")

    def do_PATCH(self):
        self._handle("PATCH")

    def do_DELETE(self):
        self._handle("DELETE")


class SimServer:
    """A simulated NCM API v2 for one fleet, served on a (free) port in a thread."""

    def __init__(self, routers: int = 200, seed: int = 1, keys: dict | None = None, latency_ms: int = 0, *,
                 host: str = "127.0.0.1", port: int = 0, subaccounts: int = 3,
                 rate_429: float = 0.0, retry_after: int | None = 1, rate_5xx: float = 0.0,
                 ambiguous_write_rate: float = 0.0, fault_seed: int | None = None,
                 speed_test_duration_s: float = 5.0, config_sync_s: float = 2.0, reboot_s: float = 5.0,
                 upgrade_s: float = 20.0, upgrade_failure_rate: float = 0.1,
                 control: bool = True, epoch: datetime | None = None, verbose: bool = False,
                 v3_token: str | None = None):
        self.routers = routers
        self.seed = seed
        self.keys = dict(keys) if keys else default_keys()
        # NCM API v3 (subscriptions, asset_endpoints: v3.py) takes a Bearer token; env NCM_API_TOKEN as the SDK.
        self.v3_token = v3_token or os.environ.get("NCM_API_TOKEN") or "demo-v3-token"
        missing = [h for h in KEY_HEADERS if not self.keys.get(h)]
        if missing:
            raise ValueError(f"keys must contain {', '.join(missing)}")
        self.host = host
        self.port = port
        self.subaccounts = subaccounts
        self.speed_test_duration_s = speed_test_duration_s
        self.config_sync_s = config_sync_s
        self.reboot_s = reboot_s
        self.upgrade_s, self.upgrade_failure_rate = upgrade_s, upgrade_failure_rate
        self.control = control
        self.epoch = epoch
        self.verbose = verbose
        self.faults = Faults(rate_429=rate_429, retry_after=retry_after, rate_5xx=rate_5xx, latency_ms=latency_ms,
                             ambiguous_write_rate=ambiguous_write_rate, seed=fault_seed if fault_seed is not None else seed)
        self.state: Fleet | None = None
        self.api: Api | None = None
        self._httpd: _HTTPServer | None = None
        self._thread: threading.Thread | None = None

    # ------------------------------------------------------------------ lifecycle
    def start(self) -> "SimServer":
        if self._httpd is not None:
            return self
        handler = type("SimHandler", (_Handler,), {"sim": self})
        self._httpd = _HTTPServer((self.host, self.port), handler)
        self.port = self._httpd.server_address[1]
        if self.state is None:  # the fleet's URLs need the port, so bind first
            self.state = Fleet(self.routers, self.seed, self.subaccounts, self.base_url, self.epoch,
                               self.speed_test_duration_s, self.config_sync_s, self.reboot_s)
            self.state.upgrade_s, self.state.upgrade_failure_rate = float(self.upgrade_s), float(self.upgrade_failure_rate)
        self.api = Api(self.state, self.faults, self.keys)
        self._thread = threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.1},
                                        name=f"ncm_sim:{self.port}", daemon=True)
        self._thread.start()
        return self

    def serve_forever(self) -> None:
        """Start and block until interrupted (used by ``python -m ncm_sim``)."""
        self.start()
        try:
            self._thread.join()
        finally:
            self.stop()

    def stop(self) -> None:
        if self._httpd is None:
            return
        self._httpd.shutdown()
        self._httpd.server_close()
        if self._thread:
            self._thread.join(timeout=5)
        self._httpd = None
        self._thread = None

    def __enter__(self) -> "SimServer":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    # ------------------------------------------------------------------ addresses
    @property
    def netloc(self) -> str:
        host = "127.0.0.1" if self.host in ("", "0.0.0.0") else self.host
        return f"{host}:{self.port}"

    @property
    def root_url(self) -> str:
        return f"http://{self.netloc}"

    @property
    def base_url(self) -> str:
        """NCM v2 base as the SDK takes it: ``http://127.0.0.1:PORT/api/v2`` (no trailing slash)."""
        return f"{self.root_url}/api/v2"

    @property
    def v3_base_url(self) -> str:
        """NCM v3 base: ``http://127.0.0.1:PORT/api/v3``."""
        return f"{self.root_url}/api/v3"

    @property
    def control_url(self) -> str:
        return f"{self.root_url}/_sim"

    # ------------------------------------------------------------------ controls
    def set_faults(self, rate_429: float | None = None, retry_after: int | None = ..., rate_5xx: float | None = None,
                   latency_ms: int | None = None, ambiguous_write_rate: float | None = None, seed: int | None = ...,
                   **extra) -> dict:
        """Change fault injection at runtime; arguments left out keep their value.

        Extra settings: ``status_5xx`` (list of codes), ``endpoints`` (call-key prefixes).
        """
        changes = {k: v for k, v in (("rate_429", rate_429), ("rate_5xx", rate_5xx), ("latency_ms", latency_ms),
                                     ("ambiguous_write_rate", ambiguous_write_rate)) if v is not None}
        if retry_after is not ...:
            changes["retry_after"] = retry_after
        if seed is not ...:
            changes["seed"] = seed
        changes.update(extra)
        return self.faults.configure(**changes)

    def fail_next(self, count: int = 1, status: int = 500, retry_after: int | None = None,
                  endpoint: str | None = None, applied: bool = False, after: int = 0) -> None:
        """Answer the next *count* calls (matching *endpoint*, e.g. ``"GET routers"``) with *status*.

        ``after=n`` lets n matching calls through first; ``applied=True`` applies a write first.
        """
        self.faults.fail_next(count, status, retry_after, endpoint, applied, after)

    def create_router(self, **fields) -> dict:
        return self.state.create_router(**fields)

    def update_router(self, router_id, **fields) -> dict:
        return self.state.update_router(router_id, **fields)

    def delete_router(self, router_id) -> bool:
        return self.state.delete_router(router_id)

    def add_alert(self, router_id=None, type: str = "connection_state", **kwargs) -> dict:
        return self.state.add_alert(router_id, type=type, **kwargs)

    def reset_counters(self, calls: bool = True, reboots: bool = True, writes: bool = True) -> None:
        with self.state.lock:
            if calls:
                self.state.calls.clear()
            if reboots:
                self.state.reboots.clear()
            if writes:
                self.state.writes.clear()

    # ------------------------------------------------------------------ /_sim/ HTTP control API
    def _control(self, method: str, raw_path: str, body: bytes) -> Resp:
        split = urlsplit(raw_path)
        parts = [p for p in split.path.split("/") if p][1:]
        query = dict(parse_qsl(split.query))
        try:
            data = json.loads(body) if body else {}
        except ValueError:
            return Resp(400, {"error": "body is not valid JSON"})
        if not isinstance(data, dict):
            return Resp(400, {"error": "body must be a JSON object"})
        name = parts[0] if parts else ""
        obj = parts[1] if len(parts) > 1 else None
        st = self.state
        try:
            if name == "" and method == "GET":
                return Resp(200, {**st.summary(), "keys": self.keys, "faults": self.faults.snapshot()})
            if name == "faults":
                if method == "GET":
                    return Resp(200, self.faults.snapshot())
                return Resp(200, self.set_faults(**data))
            if name == "fail-next" and method == "POST":
                self.fail_next(**data)
                return Resp(200, self.faults.snapshot())
            if name == "routers":
                if method == "POST" and not obj:
                    return Resp(201, self.create_router(**data))
                if obj and method == "GET":
                    row = st.tables["routers"].get(obj)
                    return Resp(200, row) if row else Resp(404, {"error": "no such router"})
                if obj and method in ("PATCH", "PUT"):
                    if obj not in st.tables["routers"]:
                        return Resp(404, {"error": "no such router"})
                    return Resp(200, self.update_router(obj, **data))
                if obj and method == "DELETE":
                    return Resp(204) if self.delete_router(obj) else Resp(404, {"error": "no such router"})
            if name == "alerts" and method == "POST":
                router_id = id_from_url(data.pop("router_id", None) or data.pop("router", None))
                return Resp(201, self.add_alert(router_id, type=data.pop("type", "connection_state"), **data))
            if name == "calls" and method == "GET":
                with st.lock:
                    return Resp(200, dict(st.calls))
            if name in ("reboots", "writes") and method == "GET":
                with st.lock:
                    rows = list(getattr(st, name))
                if "router_id" in query:
                    rows = [r for r in rows if r.get("router_id") == query["router_id"]]
                return Resp(200, rows)
            if name == "reset-counters" and method == "POST":
                picked = {k: bool(data.get(k)) for k in ("calls", "reboots", "writes")}
                self.reset_counters(**picked) if any(k in data for k in picked) else self.reset_counters()
                return Resp(200, {"ok": True})
        except (KeyError, TypeError, ValueError) as exc:
            return Resp(400, {"error": str(exc)})
        return Resp(404, {"error": f"unknown control endpoint {method} {split.path}"})
