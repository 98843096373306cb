"""HTTP front of the ecCloud simulator and ``SimServer``, the object tests and scripts use.

The API lives under ``/pub/v1``; the unauthenticated control API under ``/_sim/``. Stdlib only.

The awkward parts of the article, on purpose:
- every error is a **plain-text** body (``text/plain``), never JSON; lists are bare JSON arrays, no paging;
- **200 requests per 10 s per source address**, whatever the key (429 ``Too Many Requests``);
- **maintenance**: every API request answers 503 ``The API service is undergoing maintenance.``;
- a **guest** (read-only) key: reads work, writes answer 403;
- ``POST /device/{id}/config-changes`` with a stale ``timestamp`` stores nothing and answers
  ``serverSideChanged: true`` with the current timestamp; a device with ``suspend_config`` answers 409;
- each stored change creates a **config task** (``unfinishedTaskCount``) that finishes ``config_task_s``
  later on an online device (held while offline);
- scripted faults (``fail_next``): any status for the next matching calls, or ``applied=True`` to store a
  POST and then lose its answer (``status=0`` drops the connection without a response).
"""
from __future__ import annotations

import json
import os
import sys
import threading
import time
import traceback
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

from eccloud_config import ORIGINS

from .state import Cloud

API_PREFIX = "/pub/v1"
DEFAULT_KEY = "demo-eccloud-key"
DEFAULT_GUEST_KEY = "demo-eccloud-guest-key"
MAINTENANCE_TEXT = "The API service is undergoing maintenance."


def default_key(environ=None) -> str:
    environ = os.environ if environ is None else environ
    return environ.get("ECCLOUD_API_KEY") or DEFAULT_KEY


@dataclass
class Resp:
    status: int
    body: object = None  # JSON-able, or str for plain text
    headers: dict = field(default_factory=dict)
    drop: bool = False   # close the connection without answering


def text(status: int, message: str) -> Resp:
    return Resp(status, message)


@dataclass
class _Scripted:
    status: int
    remaining: int
    endpoint: str | None
    applied: bool


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "eccloud_sim/1.0"
    wbufsize = 1 << 16
    disable_nagle_algorithm = True
    sim: "SimServer"

    def log_message(self, fmt, *args):
        if self.sim.verbose:
            sys.stderr.write("eccloud_sim: " + (fmt % args) + "\n")

    def _handle(self, method: str) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        path = urlsplit(self.path).path.rstrip("/")
        try:
            if path == API_PREFIX or path.startswith(API_PREFIX + "/"):
                resp = self.sim.handle_api(method, path[len(API_PREFIX):], self.headers, body, self.client_address[0])
            elif path.startswith("/_sim") and self.sim.control:
                resp = self.sim.handle_control(method, path[len("/_sim"):], body)
            else:
                resp = text(404, f"Cannot {method} {path}")
        except Exception as exc:  # noqa: BLE001
            traceback.print_exc()
            resp = text(500, f"eccloud_sim internal error: {exc.__class__.__name__}")
        if resp.drop:
            self.close_connection = True
            try:
                self.connection.shutdown(2)
            except OSError:
                pass
            return
        if isinstance(resp.body, str):
            payload, ctype = resp.body.encode(), "text/plain; charset=utf-8"
        elif resp.body is None:
            payload, ctype = b"", "text/plain; charset=utf-8"
        else:
            payload, ctype = json.dumps(resp.body).encode(), "application/json; charset=utf-8"
        self.send_response(resp.status)
        self.send_header("Content-Type", ctype)
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
    """A simulated ecCloud for one cloud (one owner key, one guest key), served on a port in a thread."""

    def __init__(self, sites: int = 3, devices_per_site: int = 5, seed: int = 1, *, api_key: str | None = None,
                 guest_key: str | None = None, host: str = "127.0.0.1", port: int = 0, rate_limit: int = 200,
                 rate_window: float = 10.0, config_task_s: float = 2.0, latency_ms: int = 0,
                 control: bool = True, verbose: bool = False):
        self.api_key = api_key or default_key()
        self.guest_key = guest_key or os.environ.get("ECCLOUD_GUEST_KEY") or DEFAULT_GUEST_KEY
        self.host, self.port = host, port
        self.rate_limit, self.rate_window = rate_limit, rate_window
        self.latency_ms = latency_ms
        self.control, self.verbose = control, verbose
        self.maintenance = False
        self.cloud = Cloud(sites, devices_per_site, seed, config_task_s)
        self.request_log: list[tuple[float, str, str, int]] = []  # (monotonic, method, path, status)
        self._recent: dict[str, deque] = {}
        self._scripted: list[_Scripted] = []
        self._lock = threading.Lock()
        self._httpd: _HTTPServer | None = None
        self._thread: threading.Thread | None = None

    # ------------------------------------------------------------------ lifecycle
    def start(self) -> "SimServer":
        if self._httpd is None:
            handler = type("EcCloudHandler", (_Handler,), {"sim": self})
            self._httpd = _HTTPServer((self.host, self.port), handler)
            self.port = self._httpd.server_address[1]
            self._thread = threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.1},
                                            name=f"eccloud_sim:{self.port}", daemon=True)
            self._thread.start()
        return self

    def stop(self) -> None:
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._thread.join(timeout=5)
            self._httpd = self._thread = None

    def serve_forever(self) -> None:
        self.start()
        try:
            self._thread.join()
        finally:
            self.stop()

    def __enter__(self) -> "SimServer":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    @property
    def root_url(self) -> str:
        host = "127.0.0.1" if self.host in ("", "0.0.0.0") else self.host
        return f"http://{host}:{self.port}"

    @property
    def base_url(self) -> str:
        return self.root_url + API_PREFIX

    # ------------------------------------------------------------------ controls (Python)
    def set_maintenance(self, on: bool = True) -> None:
        self.maintenance = bool(on)

    def fail_next(self, count: int = 1, status: int = 500, endpoint: str | None = None, applied: bool = False) -> None:
        """Answer the next *count* API calls matching *endpoint* (``"POST /device"``...) with *status*
        (0 drops the connection). ``applied=True``: a POST is stored first, then its answer is lost."""
        with self._lock:
            self._scripted.append(_Scripted(int(status), int(count), endpoint, bool(applied)))

    def _take(self, call: str, applied: bool) -> _Scripted | None:
        with self._lock:
            for s in self._scripted:
                if s.applied == applied and (s.endpoint is None or call.startswith(s.endpoint)):
                    s.remaining -= 1
                    if s.remaining <= 0:
                        self._scripted.remove(s)
                    return s
        return None

    def reset_log(self) -> None:
        with self._lock:
            self.request_log.clear()
            self._recent.clear()
        with self.cloud.lock:
            self.cloud.writes.clear()
            self.cloud.calls.clear()

    def writes(self, device_id: str | None = None) -> list[dict]:
        with self.cloud.lock:
            return [w for w in self.cloud.writes if device_id is None or w["device_id"] == device_id]

    # ------------------------------------------------------------------ the API
    def _rate_limited(self, address: str) -> bool:
        now = time.monotonic()
        with self._lock:
            recent = self._recent.setdefault(address, deque())
            while recent and recent[0] <= now - self.rate_window:
                recent.popleft()
            if len(recent) >= self.rate_limit:
                return True
            recent.append(now)
            return False

    def handle_api(self, method: str, path: str, headers, body: bytes, address: str) -> Resp:
        if self.latency_ms:
            time.sleep(self.latency_ms / 1000)
        resp = self._api(method, path, headers, body, address)
        with self._lock:
            self.request_log.append((time.monotonic(), method, path, resp.status))
        return resp

    def _api(self, method: str, path: str, headers, body: bytes, address: str) -> Resp:
        if self._rate_limited(address):
            return text(429, "Too Many Requests: there is a limit of 200 HTTP requests per 10s from your network.")
        if self.maintenance:
            return text(503, MAINTENANCE_TEXT)
        key = headers.get("x-api-key") or ""
        if key not in (self.api_key, self.guest_key):
            return text(401, "x-api-key header is not valid")
        parts = [p for p in path.split("/") if p]
        call = f"{method} /{'/'.join(parts[:1])}"
        with self.cloud.lock:
            self.cloud.calls[call] = self.cloud.calls.get(call, 0) + 1
        scripted = self._take(f"{method} {path}", applied=False)
        if scripted is not None:
            return Resp(scripted.status, "Bad Gateway" if scripted.status else None, drop=scripted.status == 0)
        c = self.cloud
        with c.lock:
            if method == "GET":
                if parts == ["sites"]:
                    return Resp(200, [dict(s) for s in c.sites.values()])
                if len(parts) >= 2 and parts[0] == "sites":
                    site = c.sites.get(parts[1])
                    if site is None:
                        return text(404, "Site not found")
                    if len(parts) == 2:
                        return Resp(200, dict(site))
                    if parts[2:] == ["devices"]:
                        return Resp(200, [dict(d) for d in c.devices.values() if d["site_id"] == parts[1]])
                    if parts[2:] == ["config"]:
                        return Resp(200, c.site_configs[parts[1]])
                if len(parts) >= 2 and parts[0] in ("devices", "device"):
                    dev = c.devices.get(parts[1])
                    if dev is None:
                        return text(404, "Device not found")
                    if len(parts) == 2:
                        return Resp(200, dict(dev))
                    if parts[2:] == ["config"]:
                        return Resp(200, c.device_configs[parts[1]])
                    if parts[2:] == ["config-changes"]:
                        return Resp(200, c.config_changes(parts[1]))
            if method == "POST" and len(parts) == 3 and parts[0] == "device" and parts[2] == "config-changes":
                return self._post_changes(parts[1], key, body, f"{method} {path}")
        return text(404, f"Cannot {method} {API_PREFIX}{path}")

    def _post_changes(self, device_id: str, key: str, body: bytes, call: str) -> Resp:
        c = self.cloud
        dev = c.devices.get(device_id)
        if dev is None:
            return text(404, "Device not found")
        if key == self.guest_key:
            return text(403, "Forbidden: this API key belongs to a guest user and cannot change configuration")
        try:
            data = json.loads(body or b"null")
        except ValueError:
            return text(400, "Request body is not valid JSON")
        if not isinstance(data, dict) or not isinstance(data.get("changes"), dict):
            return text(400, "Body must be an object with timestamp and changes")
        if not isinstance(data.get("timestamp"), str):
            return text(400, "timestamp is required")
        for k, entry in data["changes"].items():
            if entry is None:
                continue
            if not isinstance(entry, dict) or not isinstance(entry.get("value"), str):
                return text(400, f"Invalid value for {k}: values must be strings")
            if entry.get("origin") not in ORIGINS:
                return text(400, f"Invalid origin for {k}: expected one of device, site-device, site")
        if dev.get("suspend_config"):
            return text(409, "Configuration is suspended for this device")
        answer = c.post_config_changes(device_id, data["timestamp"], data["changes"])
        lost = self._take(call, applied=True) if not answer["serverSideChanged"] else None
        if lost is not None:
            return Resp(lost.status, "Bad Gateway" if lost.status else None, drop=lost.status == 0)
        return Resp(200, answer)

    # ------------------------------------------------------------------ /_sim/ control API (JSON)
    def handle_control(self, method: str, path: str, body: bytes) -> Resp:
        parts = [p for p in path.split("/") if p]
        try:
            data = json.loads(body) if body else {}
        except ValueError:
            return Resp(400, {"error": "body is not JSON"})
        c = self.cloud
        try:
            if not parts and method == "GET":
                return Resp(200, {**c.summary(), "maintenance": self.maintenance, "api_key": self.api_key,
                                  "guest_key": self.guest_key})
            name, obj = parts[0], (parts[1] if len(parts) > 1 else None)
            if name == "maintenance" and method == "POST":
                self.set_maintenance(data.get("on", True))
                return Resp(200, {"maintenance": self.maintenance})
            if name == "fail-next" and method == "POST":
                self.fail_next(**data)
                return Resp(200, {"ok": True})
            if name == "writes" and method == "GET":
                return Resp(200, self.writes())
            if name == "sites":
                if method == "POST" and obj is None:
                    return Resp(201, c.create_site(**data))
                if obj and len(parts) == 3 and parts[2] == "config" and method in ("PUT", "PATCH"):
                    return Resp(200, c.set_site_config(obj, data))
                if obj and method == "PATCH":
                    return Resp(200, c.update_site(obj, **data))
                if obj and method == "DELETE":
                    return Resp(204 if c.delete_site(obj) else 404)
            if name == "devices":
                if method == "POST" and obj is None:
                    return Resp(201, c.create_device(**data))
                if obj and method == "PATCH":
                    return Resp(200, c.update_device(obj, **data))
                if obj and method == "DELETE":
                    return Resp(204 if c.delete_device(obj) else 404)
        except (KeyError, TypeError, ValueError) as exc:
            return Resp(400, {"error": str(exc)})
        return Resp(404, {"error": f"unknown control endpoint {method} {path}"})
