"""The portal's IgniteNet ecCloud client (shared/seeds/003), one per credential.

- Header `x-api-key`; JSON bodies; errors are plain text (kept short, never echoed with the key).
- Lists are bare arrays without paging: a listing is complete when its one answer is.
- One call budget per ecCloud **host**, shared through Redis by every credential, tenant and worker
  ("200 HTTP requests per 10s from your network" counts the portal's address, whatever the key).
- Timeouts 30 s. GET and PUT (safe) retry 502/503/429 no sooner than ECCLOUD_RETRY_SECONDS (60) apart and at most
  ECCLOUD_MAX_RETRIES (10) times, 500 once, timeouts and connection errors like 503.
- POST is never blindly re-sent: a timeout, reset or 5xx after sending raises `EcCloudAmbiguousWrite`; the caller
  reads the device again to learn whether it was stored (config-changes carries a timestamp, so a stale re-send
  could not apply twice either). Only a 429 (refused before processing) is retried for a POST.
"""
from __future__ import annotations

import hashlib
import logging
import threading
import time
from urllib.parse import quote, urlsplit

import requests
from django.conf import settings

from ncm_sync.ratebudget import RateBudget

logger = logging.getLogger(__name__)

__all__ = [
    "EcCloudClient", "EcCloudError", "EcCloudAuthError", "EcCloudForbidden", "EcCloudNotFound", "EcCloudRejected",
    "EcCloudUnavailable", "EcCloudRateLimited", "EcCloudAmbiguousWrite", "client_for_credential", "host_budget",
]

SAFE_METHODS = frozenset({"GET", "PUT"})


class EcCloudError(Exception):
    def __init__(self, message: str, *, status: int | None = None, path: str = ""):
        super().__init__(message)
        self.message = message
        self.status = status
        self.path = path


class EcCloudAuthError(EcCloudError):
    """401: the key is not valid (revoked, or for another cloud)."""


class EcCloudForbidden(EcCloudError):
    """403: the key may not do this (a guest, read-only key)."""


class EcCloudNotFound(EcCloudError):
    """404."""


class EcCloudRejected(EcCloudError):
    """400/409/...: ecCloud refused the request; `message` is its plain-text answer."""


class EcCloudRateLimited(EcCloudError):
    """Still 429 after every retry."""


class EcCloudUnavailable(EcCloudError):
    """5xx, timeouts or connection errors after every retry. `maintenance`: the last answer was 503."""

    @property
    def maintenance(self) -> bool:
        return self.status == 503


class EcCloudAmbiguousWrite(EcCloudError):
    """A POST was sent and its answer lost (timeout, reset, 5xx): it may or may not be stored."""


def host_budget(base_url: str) -> RateBudget:
    """The one budget of an ecCloud host (not of a key): every credential pointing there shares it."""
    host = (urlsplit(base_url).hostname or "").lower()
    port = urlsplit(base_url).port or ""
    key = "eccloud-" + hashlib.sha256(f"{host}:{port}".encode()).hexdigest()[:20]
    return RateBudget(key=key, limit=settings.ECCLOUD_RATE_LIMIT, window=settings.ECCLOUD_RATE_WINDOW_SECONDS)


def _text(response: requests.Response) -> str:
    return (response.text or response.reason or "").strip()[:300]


class EcCloudClient:
    def __init__(self, base_url: str, api_key: str, *, timeout: float | None = None, max_retries: int | None = None,
                 retry_seconds: float | None = None, budget: RateBudget | None = None, sleep=time.sleep):
        if not api_key:
            raise EcCloudAuthError("The ecCloud credential has no API key.")
        self.base_url = base_url.rstrip("/")
        timeout = settings.ECCLOUD_TIMEOUT if timeout is None else timeout
        self.timeout = (min(5.0, timeout), timeout)
        self.max_retries = settings.ECCLOUD_MAX_RETRIES if max_retries is None else max_retries
        self.retry_seconds = settings.ECCLOUD_RETRY_SECONDS if retry_seconds is None else retry_seconds
        self.budget = budget or host_budget(self.base_url)
        self.sleep = sleep
        self.session = requests.Session()
        self.session.headers.update({"x-api-key": api_key, "content-type": "application/json",
                                     "accept": "application/json", "user-agent": "ncm-msp-portal/1.0"})
        self._lock = threading.Lock()
        self.calls = 0
        self.retries = 0
        self.waits: list[float] = []  # seconds slept before each retry (tests check the spacing)

    def __repr__(self) -> str:
        return f"<EcCloudClient {self.base_url} calls={self.calls}>"

    def close(self) -> None:
        self.session.close()

    def __enter__(self) -> "EcCloudClient":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # ------------------------------------------------------------------ transport
    def request(self, method: str, path: str, body=None):
        url = self.base_url + path
        safe = method in SAFE_METHODS
        attempts_5xx = 0
        attempts_500 = 0
        while True:
            self.budget.acquire()
            with self._lock:
                self.calls += 1
            try:
                response = self.session.request(method, url, json=body, timeout=self.timeout, allow_redirects=False)
            except requests.RequestException as exc:
                if not safe:
                    raise EcCloudAmbiguousWrite(
                        f"ecCloud did not answer the {method} of {path} ({type(exc).__name__}); it may have been stored.",
                        path=path) from None
                if attempts_5xx >= self.max_retries:
                    raise EcCloudUnavailable(f"ecCloud did not answer {path} ({type(exc).__name__}) after "
                                             f"{attempts_5xx} retries.", path=path) from None
                attempts_5xx += 1
                self._wait()
                continue
            status = response.status_code
            if 200 <= status < 300:
                if not response.content:
                    return None
                try:
                    return response.json()
                except ValueError:
                    raise EcCloudError(f"ecCloud answered {path} with something other than JSON.",
                                       status=status, path=path) from None
            message = _text(response)
            if status == 429 or (safe and status in (502, 503)):
                if attempts_5xx >= self.max_retries:
                    cls = EcCloudRateLimited if status == 429 else EcCloudUnavailable
                    raise cls(f"ecCloud answered {status} on {path} after {attempts_5xx} retries: {message}",
                              status=status, path=path)
                attempts_5xx += 1
                self._wait()
                continue
            if safe and status == 500 and attempts_500 < min(1, self.max_retries):
                attempts_500 += 1
                self._wait()
                continue
            if status >= 500 and not safe:
                raise EcCloudAmbiguousWrite(f"ecCloud answered {status} to the {method} of {path}: {message}",
                                            status=status, path=path)
            if status >= 500:
                raise EcCloudUnavailable(f"ecCloud answered {status} on {path}: {message}", status=status, path=path)
            if status == 401:
                raise EcCloudAuthError(f"ecCloud rejected the API key (401): {message}", status=status, path=path)
            if status == 403:
                raise EcCloudForbidden(f"ecCloud refused (403): {message}", status=status, path=path)
            if status == 404:
                raise EcCloudNotFound(f"ecCloud: not found ({path})", status=status, path=path)
            raise EcCloudRejected(message or f"ecCloud refused the request ({status})", status=status, path=path)

    def _wait(self) -> None:
        with self._lock:
            self.retries += 1
            self.waits.append(self.retry_seconds)
        self.sleep(self.retry_seconds)

    # ------------------------------------------------------------------ the API
    def sites(self) -> list[dict]:
        return self._list("/sites")

    def site_devices(self, site_id: str) -> list[dict]:
        return self._list(f"/sites/{quote(str(site_id), safe='')}/devices")

    def config_changes(self, device_id: str) -> dict:
        data = self.request("GET", f"/device/{quote(str(device_id), safe='')}/config-changes")
        if not isinstance(data, dict) or "timestamp" not in data:
            raise EcCloudError("ecCloud's config-changes answer has no timestamp.")
        return data

    def post_config_changes(self, device_id: str, timestamp: str, changes: dict) -> dict:
        data = self.request("POST", f"/device/{quote(str(device_id), safe='')}/config-changes",
                            {"timestamp": timestamp, "changes": changes})
        return data if isinstance(data, dict) else {}

    def _list(self, path: str) -> list[dict]:
        data = self.request("GET", path)
        if not isinstance(data, list):
            raise EcCloudError(f"ecCloud answered {path} without a list.", path=path)
        return [row for row in data if isinstance(row, dict)]


def client_for_credential(credential, **kwargs) -> EcCloudClient:
    from accounts.services import credential_secrets

    return EcCloudClient(credential.base_url, credential_secrets(credential).get("api_key", ""), **kwargs)
