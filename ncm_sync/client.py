"""The portal's own NCM API v2 client: one per tenant credential, never a module-level singleton.

What it does that the official `ncm` SDK does not (reference/ncm-sdk.md §1.5-1.11):
- connect and read timeouts on every request;
- pages with `limit=500` and follows `meta.next` to the end; a page that still fails after its retries fails
  the whole listing (`NcmError`), so a partial list is never returned as complete;
- reads retry 408/429/500/502/503/504, timeouts and connection errors with exponential backoff and full
  jitter, honouring `Retry-After`;
- writes (POST, PUT, PATCH, DELETE) are sent once; a timeout, reset or 5xx after sending raises
  `NcmAmbiguousWriteError` ("unknown outcome"), never a blind retry;
- `__in` filters are sent in chunks of 100 values;
- typed errors with NCM's own message, and no secret in any message or log line;
- every request (retries included) takes a token from the credential's shared `RateBudget` and is counted.
"""
from __future__ import annotations

import json
import logging
import os
import random
import threading
import time
from email.utils import parsedate_to_datetime
from typing import Any, Iterator
from urllib.parse import urljoin, urlsplit

import msgspec
import requests
from django.conf import settings

from ncm_sync.ratebudget import RateBudget, budget_key_for_secrets
from portal import fastjson

logger = logging.getLogger(__name__)

__all__ = [
    "NcmClient",
    "client_for_credential",
    "NcmError",
    "NcmAuthError",
    "NcmNotFound",
    "NcmValidationError",
    "NcmRateLimited",
    "NcmUnavailable",
    "NcmAmbiguousWriteError",
    "PAGE_SIZE",
    "IN_CHUNK",
]

PAGE_SIZE = 500  # NCM's maximum `limit`
IN_CHUNK = 100  # NCM rejects more than 100 values per `__in` filter
RETRY_STATUSES = frozenset({408, 429, 500, 502, 503, 504})
MAX_RETRY_AFTER = 120.0
MAX_PAGES = 100_000
# Offset pages of one listing fetched at once by `iter_pages_parallel` (NCM_PARALLEL_PAGES; 1 = one by one).
PARALLEL_PAGES = max(1, int(os.environ.get("NCM_PARALLEL_PAGES", "3")))

HEADER_NAMES = {
    "cp_api_id": "X-CP-API-ID",
    "cp_api_key": "X-CP-API-KEY",
    "ecm_api_id": "X-ECM-API-ID",
    "ecm_api_key": "X-ECM-API-KEY",
}


#
# Errors
#
class NcmError(Exception):
    """Base of every NCM client error. `status` is the HTTP status when there was a response."""

    def __init__(self, message: str, *, status: int | None = None, url: str = ""):
        super().__init__(message)
        self.message = message
        self.status = status
        self.url = url


class NcmAuthError(NcmError):
    """NCM rejected the API keys (401/403)."""


class NcmNotFound(NcmError):
    """404."""


class NcmValidationError(NcmError):
    """400 (or 409 with an `errors` list): NCM refused the request; `message` is NCM's own."""


class NcmRateLimited(NcmError):
    """Still 429 after every retry."""


class NcmUnavailable(NcmError):
    """Timeouts, connection errors or 5xx after every retry."""


class NcmAmbiguousWriteError(NcmError):
    """A write may or may not have been applied (timeout, reset or 5xx after sending). Record it as unknown."""


def _ncm_message(response: requests.Response) -> str:
    """NCM's own error text, short and safe to show."""
    try:
        body = response.json()
    except ValueError:
        text = response.text or ""
        return text.strip()[:300] or response.reason or ""
    if isinstance(body, dict):
        # NCM's validation answers carry a summary and the per-setting errors: keep both, word for word.
        exception = body.get("exception")
        if isinstance(exception, dict) and exception.get("message") and body.get("errors"):
            return f"{exception['message']}: {json.dumps(body['errors'])}"[:2000]
        for key in ("message", "detail", "error", "errors", "exception"):
            if body.get(key):
                value = body[key]
                return (value if isinstance(value, str) else json.dumps(value))[:2000]
        if isinstance(body.get("data"), dict) and body["data"].get("message"):
            return str(body["data"]["message"])[:300]
    return json.dumps(body)[:300]


def _retry_after(response: requests.Response) -> float | None:
    value = response.headers.get("Retry-After")
    if not value:
        return None
    try:
        return max(0.0, min(float(value), MAX_RETRY_AFTER))
    except ValueError:
        try:
            when = parsedate_to_datetime(value)
            return max(0.0, min(when.timestamp() - time.time(), MAX_RETRY_AFTER))
        except (TypeError, ValueError):
            return None


def _error_for(response: requests.Response, url: str) -> NcmError:
    status = response.status_code
    message = _ncm_message(response)
    path = urlsplit(url).path
    if status in (401, 403):
        return NcmAuthError(f"NCM rejected the API keys ({status}) on {path}: {message}", status=status, url=path)
    if status == 404:
        return NcmNotFound(f"NCM: not found ({path})", status=status, url=path)
    if status == 429:
        return NcmRateLimited(f"NCM rate limit (429) persisted on {path}", status=status, url=path)
    if status >= 500 or status == 408:
        return NcmUnavailable(f"NCM unavailable ({status}) on {path}: {message}", status=status, url=path)
    return NcmValidationError(message or f"NCM refused the request ({status})", status=status, url=path)


class NcmClient:
    """A client for one credential. Thread-safe for reads (a pool sized for concurrent listings)."""

    def __init__(
        self,
        base_url: str,
        secrets: dict,
        *,
        rate_budget: RateBudget | None = None,
        timeout: tuple[float, float] | None = None,
        max_retries: int | None = None,
        backoff: float | None = None,
        max_backoff: float = 30.0,
        session: requests.Session | None = None,
        pool_size: int = 32,  # a sync's 8 listings x NCM_PARALLEL_PAGES pages in flight, reused, not reopened
    ):
        self.base_url = base_url.rstrip("/")
        parts = urlsplit(self.base_url)
        self._origin = (parts.scheme, parts.netloc)
        self.timeout = timeout or (settings.NCM_CONNECT_TIMEOUT, settings.NCM_READ_TIMEOUT)
        # Settings (optional): NCM_MAX_RETRIES (5), NCM_RETRY_BACKOFF seconds (0.5: sleeps up to 0.5, 1, 2, 4, 8 s).
        self.max_retries = getattr(settings, "NCM_MAX_RETRIES", 5) if max_retries is None else max_retries
        if backoff is None:
            backoff = getattr(settings, "NCM_RETRY_BACKOFF", None) or float(os.environ.get("NCM_RETRY_BACKOFF", 0.5))
        self.backoff = backoff
        self.max_backoff = max_backoff
        self.rate_budget = rate_budget or RateBudget(key=budget_key_for_secrets(secrets))
        self.session = session or requests.Session()
        if session is None:
            adapter = requests.adapters.HTTPAdapter(pool_connections=pool_size, pool_maxsize=pool_size, max_retries=0)
            self.session.mount("http://", adapter)
            self.session.mount("https://", adapter)
        missing = [name for name in HEADER_NAMES if not secrets.get(name)]
        if missing:
            raise NcmAuthError("The NCM credential is incomplete (missing: " + ", ".join(missing) + ")")
        self.session.headers.update({header: str(secrets[name]) for name, header in HEADER_NAMES.items()})
        self._secret_values = [str(secrets[name]) for name in HEADER_NAMES if len(str(secrets[name])) >= 4]
        self.session.headers.update({
            "Content-Type": "application/json",
            "Accept": "application/json",
            "User-Agent": "ncm-msp-portal/1.0",
        })
        self._count_lock = threading.Lock()
        self.calls = 0  # requests sent, retries included
        self.retries = 0

    def __repr__(self) -> str:  # never the headers
        return f"<NcmClient {self.base_url} calls={self.calls}>"

    def close(self) -> None:
        self.session.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    #
    # Low level
    #
    def url_for(self, resource: str, ncm_id: Any = None) -> str:
        resource = resource.strip("/")
        if ncm_id is not None:
            return f"{self.base_url}/{resource}/{ncm_id}/"
        return f"{self.base_url}/{resource}/"

    def _check_url(self, url: str) -> str:
        """Only ever send the keys to the credential's own origin (a `next` link elsewhere is refused)."""
        url = urljoin(self.base_url + "/", url)
        parts = urlsplit(url)
        if (parts.scheme, parts.netloc) != self._origin:
            host = parts.hostname or ""
            base_host = urlsplit(self.base_url).hostname or ""
            # NCM answers from regional shards (www.us0.cradlepointecm.com): same registrable domain, https only.
            if not (parts.scheme == "https" and base_host.endswith("cradlepointecm.com")
                    and host.endswith(".cradlepointecm.com")):
                raise NcmError(f"NCM pointed at another host ({host}); refusing to send the API keys there")
        return url

    def _count(self, retry: bool = False) -> None:
        with self._count_lock:
            self.calls += 1
            if retry:
                self.retries += 1

    def _sleep_before_retry(self, attempt: int, response: requests.Response | None) -> None:
        delay = _retry_after(response) if response is not None else None
        if delay is None:
            # Exponential backoff with full jitter.
            delay = random.uniform(0, min(self.max_backoff, self.backoff * (2 ** attempt)))
        time.sleep(delay)

    def _read(self, url: str, params: dict | None) -> requests.Response:
        """GET with retries. Returns a 2xx response or raises a typed error."""
        url = self._check_url(url)
        last_error: NcmError | None = None
        for attempt in range(self.max_retries + 1):
            self.rate_budget.acquire()
            self._count(retry=attempt > 0)
            response = None
            try:
                response = self.session.get(url, params=params, timeout=self.timeout, allow_redirects=False)
            except requests.Timeout:
                last_error = NcmUnavailable(f"NCM timed out on {urlsplit(url).path}", url=urlsplit(url).path)
            except requests.ConnectionError:
                last_error = NcmUnavailable(f"NCM unreachable on {urlsplit(url).path}", url=urlsplit(url).path)
            except requests.RequestException as exc:
                raise NcmError(f"NCM request failed: {type(exc).__name__}") from None
            else:
                if 200 <= response.status_code < 300:
                    return response
                if response.status_code in (301, 302, 307, 308):
                    # NCM redirects URLs missing their trailing slash: follow once, on the same origin.
                    url = self._check_url(response.headers.get("Location", ""))
                    params = None
                    continue
                if response.status_code not in RETRY_STATUSES:
                    raise self._scrub(_error_for(response, url))
                last_error = self._scrub(_error_for(response, url))
            if attempt < self.max_retries:
                logger.info(
                    "NCM %s on %s, retry %d/%d", getattr(response, "status_code", "error"),
                    urlsplit(url).path, attempt + 1, self.max_retries,
                )
                self._sleep_before_retry(attempt, response)
        assert last_error is not None
        raise last_error

    def _write(self, method: str, url: str, body: Any = None, params: dict | None = None) -> Any:
        """One attempt only. An outcome we cannot know raises NcmAmbiguousWriteError."""
        url = self._check_url(url)
        path = urlsplit(url).path
        self.rate_budget.acquire()
        self._count()
        try:
            response = self.session.request(
                method, url, params=params, data=None if body is None else json.dumps(body),
                timeout=self.timeout, allow_redirects=False,
            )
        except requests.ConnectTimeout:
            # Never connected: nothing was sent.
            raise NcmUnavailable(f"NCM unreachable ({method} {path})", url=path) from None
        except requests.Timeout:
            raise NcmAmbiguousWriteError(f"NCM did not answer {method} {path} in time; outcome unknown", url=path) from None
        except requests.ConnectionError as exc:
            if _never_connected(exc):
                raise NcmUnavailable(f"NCM unreachable ({method} {path})", url=path) from None
            raise NcmAmbiguousWriteError(f"Connection to NCM lost during {method} {path}; outcome unknown", url=path) from None
        if 200 <= response.status_code < 300:
            if response.status_code == 204 or not response.content:
                return None
            try:
                body = response.json()
            except ValueError:
                return response.text
            if isinstance(body, dict) and set(body) <= {"data", "success", "meta"} and "data" in body:
                return body["data"]
            return body
        if response.status_code >= 500 or response.status_code == 408:
            raise NcmAmbiguousWriteError(
                f"NCM answered {response.status_code} to {method} {path}; outcome unknown", status=response.status_code, url=path
            )
        raise self._scrub(_error_for(response, url))

    def _scrub(self, error: NcmError) -> NcmError:
        """NCM may echo a key back in its message: never let one into an exception (or a log, or a run)."""
        for value in self._secret_values:
            if value and value in error.message:
                error.message = error.message.replace(value, "[redacted]")
        error.args = (error.message,)
        return error

    #
    # Reads
    #
    def get(self, resource: str, ncm_id: Any = None, **params) -> Any:
        """One object (or one raw page when `ncm_id` is None)."""
        response = self._read(self.url_for(resource, ncm_id), _encode(params) or None)
        body = _json(response)
        if isinstance(body, dict) and "data" in body and ncm_id is not None:
            return body["data"]
        return body

    def iter_pages(self, resource: str, *, raw: bool = False, **filters) -> Iterator[list]:
        """Yield every page of a listing. Raises (after retries) on any failed page: never a silent stop.

        One `__in` filter is split into chunks of 100 values, each listed to its end in turn. `raw=True` yields
        each object as the bytes NCM sent (`msgspec.Raw`, no dict built): see `decode_raw_page`.
        """
        in_keys = [key for key, value in filters.items() if key.endswith("__in") and not isinstance(value, str)]
        if len(in_keys) > 1:
            raise ValueError("NCM misbehaves with more than one __in filter per call; pass one")
        if in_keys:
            key = in_keys[0]
            values = [str(v) for v in filters.pop(key)]
            for start in range(0, len(values), IN_CHUNK):
                chunk = ",".join(values[start:start + IN_CHUNK])
                yield from self._iter_listing(resource, {**filters, key: chunk}, raw=raw)
            return
        yield from self._iter_listing(resource, filters, raw=raw)

    def iter_pages_parallel(self, resource: str, expected_rows: int, *, raw: bool = False, **filters) -> Iterator[list]:
        """Like `iter_pages`, fetching up to PARALLEL_PAGES offset pages at once when about `expected_rows` rows
        are expected (e.g. the mirror's count): pages are still yielded in order, a failed page still fails the
        listing. Only pages up to the expected count are asked ahead; past it the listing follows `meta.next`,
        and a listing that ends early wastes at most the requests already in flight (PARALLEL_PAGES - 1)."""
        pages = -(-max(0, expected_rows) // PAGE_SIZE)
        if pages <= 1 or PARALLEL_PAGES <= 1 or any(key.endswith("__in") for key in filters):
            yield from self.iter_pages(resource, raw=raw, **filters)
            return
        from collections import deque
        from concurrent.futures import ThreadPoolExecutor

        base = {"limit": PAGE_SIZE, **_encode(filters)}
        url = self.url_for(resource)
        with ThreadPoolExecutor(max_workers=PARALLEL_PAGES, thread_name_prefix="ncm-page") as pool:
            # A sliding window: at most PARALLEL_PAGES pages in flight or waiting to be yielded (flat memory).
            window: deque = deque()
            asked = 0

            def ask_more():
                nonlocal asked
                while asked < pages and len(window) < PARALLEL_PAGES:
                    window.append(pool.submit(self._page_body, resource, url, {**base, "offset": asked * PAGE_SIZE}, raw))
                    asked += 1

            try:
                ask_more()
                index = 0
                while window:
                    body = window.popleft().result()
                    yield body["data"]
                    next_url = (body.get("meta") or {}).get("next")
                    if not next_url:
                        return
                    if index == pages - 1:  # more rows than expected: the rest one page after another
                        yield from self._iter_listing(resource, {}, start=next_url, raw=raw)
                        return
                    index += 1
                    ask_more()
            finally:
                for future in window:
                    future.cancel()

    def _page_body(self, resource: str, url: str, params: dict | None, raw: bool = False) -> dict:
        response = self._read(url, params)
        if raw:
            try:
                page = _RAW_PAGE.decode(response.content)
            except msgspec.ValidationError:
                raise NcmError(f"NCM returned an unexpected body for {resource} (no data list)") from None
            except msgspec.DecodeError:
                raise NcmError(f"NCM returned a body that is not JSON ({urlsplit(response.url or '').path})") from None
            return {"data": page.data, "meta": page.meta if isinstance(page.meta, dict) else {}}
        body = _json(response)
        if not isinstance(body, dict) or not isinstance(body.get("data"), list):
            raise NcmError(f"NCM returned an unexpected body for {resource} (no data list)")
        return body

    def _iter_listing(self, resource: str, filters: dict, start: str | None = None, raw: bool = False) -> Iterator[list]:
        params = {"limit": PAGE_SIZE, **_encode(filters)} if start is None else None
        url: str | None = self.url_for(resource) if start is None else start
        seen_urls: set[str] = set()
        pages = 0
        while url:
            body = self._page_body(resource, url, params, raw)
            yield body["data"]
            pages += 1
            meta = body.get("meta") or {}
            next_url = meta.get("next")
            if not next_url:
                return
            if next_url in seen_urls or pages >= MAX_PAGES:
                raise NcmError(f"NCM pagination for {resource} loops; stopping")
            seen_urls.add(next_url)
            # `next` carries the query already: send no params, or it would be duplicated or stripped.
            url, params = next_url, None

    def list(self, resource: str, **filters) -> list[dict]:
        """The complete listing, or an exception: a partial list is never returned."""
        rows: list[dict] = []
        for page in self.iter_pages(resource, **filters):
            rows.extend(page)
        return rows

    #
    # Writes (one attempt each)
    #
    def post(self, resource: str, body: Any, **params) -> Any:
        return self._write("POST", self.url_for(resource), body, _encode(params) or None)

    def patch(self, resource: str, ncm_id: Any, body: Any, **params) -> Any:
        return self._write("PATCH", self.url_for(resource, ncm_id), body, _encode(params) or None)

    def put(self, resource: str, ncm_id: Any, body: Any, **params) -> Any:
        return self._write("PUT", self.url_for(resource, ncm_id), body, _encode(params) or None)

    def delete(self, resource: str, ncm_id: Any) -> Any:
        return self._write("DELETE", self.url_for(resource, ncm_id))


def _never_connected(exc: requests.ConnectionError) -> bool:
    """True when the connection was refused or never opened (so the request body was never sent)."""
    from urllib3.exceptions import MaxRetryError, NewConnectionError

    reason = exc.args[0] if exc.args else None
    if isinstance(reason, MaxRetryError):
        reason = reason.reason
    return isinstance(reason, NewConnectionError)


class _RawPage(msgspec.Struct):
    """A listing page whose objects are kept as the bytes NCM sent (parsed only enough to split them)."""

    data: list[msgspec.Raw]
    meta: Any = None


_RAW_PAGE = msgspec.json.Decoder(_RawPage)


def _json(response: requests.Response) -> Any:
    try:
        return fastjson.loads(response.content)  # orjson: several times faster than the standard library
    except ValueError:
        raise NcmError(f"NCM returned a body that is not JSON ({urlsplit(response.url or '').path})") from None


def _encode(params: dict) -> dict:
    out = {}
    for key, value in params.items():
        if value is None:
            continue
        if isinstance(value, bool):
            value = "true" if value else "false"
        elif isinstance(value, (list, tuple, set)):
            value = ",".join(str(v) for v in value)
        out[key] = value
    return out


def client_for_credential(credential, *, rate_limit: int | None = None, **kwargs) -> NcmClient:
    """A fresh client (own Session) for a tenant's NCM credential."""
    from accounts.services import credential_secrets

    secrets = credential_secrets(credential)
    if rate_limit is None:
        rate_limit = _configured_rate_limit(credential)
    budget = RateBudget(key=budget_key_for_secrets(secrets), limit=rate_limit or 0)
    return NcmClient(credential.base_url, secrets, rate_budget=budget, **kwargs)


def _configured_rate_limit(credential) -> int | None:
    from ncm_sync.models import SyncState

    return (
        SyncState.objects.filter(tenant_id=credential.tenant_id).values_list("rate_limit_per_minute", flat=True).first()
    )
