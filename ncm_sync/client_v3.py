"""A small NCM API v3 (JSON:API) reader for a credential's optional `api_token` (reference/ncm-sdk.md §1.1, §1.6).

Reads only (the portal lists `subscriptions` and `asset_endpoints`): `Authorization: Bearer`, the
`application/vnd.api+json` media type both ways, timeouts, the v2 client's retry rules for safe reads
(408/429/5xx, timeouts, `Retry-After`), cursor pagination with `page[size]=50` (v3's maximum) following
`links.next` to its end: a failed page fails the whole listing (never a partial list as complete). `links.next`
must stay on the credential's origin. Every request takes a token from a rate budget keyed by the token's hash.

The v3 root is derived from the credential's v2 `base_url`: `…/api/v2` becomes `…/api/v3`, and NCM's
`www.cradlepointecm.com` becomes `api.cradlepointecm.com` (settings.NCM_V3_BASE_URL overrides it for all).
"""
from __future__ import annotations

import hashlib
import random
import time
from typing import Iterator
from urllib.parse import urljoin, urlsplit

import requests
from django.conf import settings

from ncm_sync.client import (RETRY_STATUSES, NcmError, NcmUnavailable, _error_for, _retry_after)
from ncm_sync.ratebudget import RateBudget

__all__ = ["NcmV3Client", "v3_base_url", "v3_client_for_credential", "V3_PAGE_SIZE"]

V3_PAGE_SIZE = 50
MEDIA = "application/vnd.api+json"


def v3_base_url(v2_base_url: str) -> str:
    override = getattr(settings, "NCM_V3_BASE_URL", "")
    if override:
        return override.rstrip("/")
    base = v2_base_url.rstrip("/")
    if base.endswith("/api/v2"):
        base = base[: -len("/api/v2")] + "/api/v3"
    parts = urlsplit(base)
    if parts.hostname and parts.hostname.startswith("www.") and parts.hostname.endswith("cradlepointecm.com"):
        base = base.replace("://www.", "://api.", 1)
    return base


class NcmV3Client:
    def __init__(self, base_url: str, token: str, *, rate_budget: RateBudget | None = None,
                 timeout: tuple[float, float] | None = None, max_retries: int | None = None,
                 backoff: float | None = None):
        if not token:
            raise NcmError("The credential has no NCM v3 api_token")
        self.base_url = base_url.rstrip("/")
        self._origin = urlsplit(self.base_url)[:2]
        self.timeout = timeout or (settings.NCM_CONNECT_TIMEOUT, settings.NCM_READ_TIMEOUT)
        self.max_retries = getattr(settings, "NCM_MAX_RETRIES", 5) if max_retries is None else max_retries
        self.backoff = backoff if backoff is not None else float(getattr(settings, "NCM_RETRY_BACKOFF", 0.5) or 0.5)
        key = "v3-" + hashlib.sha256(token.encode()).hexdigest()[:24]
        self.rate_budget = rate_budget or RateBudget(key=key)
        self.session = requests.Session()
        self.session.headers.update({"Authorization": f"Bearer {token}", "Content-Type": MEDIA, "Accept": MEDIA,
                                     "User-Agent": "ncm-msp-portal/1.0"})
        self._secret = token
        self.calls = 0

    def __repr__(self) -> str:
        return f"<NcmV3Client {self.base_url} calls={self.calls}>"

    def close(self):
        self.session.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def _check(self, url: str) -> str:
        url = urljoin(self.base_url + "/", url)
        if urlsplit(url)[:2] != self._origin:
            raise NcmError("NCM v3 pointed at another host; refusing to send the token there")
        return url

    def _get(self, url: str, params: dict | None):
        url = self._check(url)
        last: NcmError | None = None
        for attempt in range(self.max_retries + 1):
            self.rate_budget.acquire()
            self.calls += 1
            response = None
            try:
                response = self.session.get(url, params=params, timeout=self.timeout, allow_redirects=False)
            except (requests.Timeout, requests.ConnectionError):
                last = NcmUnavailable(f"NCM v3 unreachable on {urlsplit(url).path}", url=urlsplit(url).path)
            else:
                if 200 <= response.status_code < 300:
                    try:
                        return response.json()
                    except ValueError:
                        raise NcmError("NCM v3 returned a body that is not JSON") from None
                error = _error_for(response, url)
                error.message = error.message.replace(self._secret, "[redacted]")
                error.args = (error.message,)
                if response.status_code not in RETRY_STATUSES:
                    raise error
                last = error
            if attempt < self.max_retries:
                delay = _retry_after(response) if response is not None else None
                time.sleep(delay if delay is not None else random.uniform(0, min(30.0, self.backoff * 2 ** attempt)))
        raise last

    def iter_pages(self, resource: str, **filters) -> Iterator[list[dict]]:
        params = {"page[size]": V3_PAGE_SIZE, **{f"filter[{k}]": v for k, v in filters.items()}}
        url: str | None = f"{self.base_url}/{resource.strip('/')}"
        seen: set[str] = set()
        while url:
            body = self._get(url, params)
            if not isinstance(body, dict) or not isinstance(body.get("data"), list):
                raise NcmError(f"NCM v3 returned an unexpected body for {resource} (no data list)")
            yield body["data"]
            url = (body.get("links") or {}).get("next")
            if url in seen:
                raise NcmError(f"NCM v3 pagination for {resource} loops; stopping")
            if url:
                seen.add(url)
            params = None

    def list(self, resource: str, **filters) -> list[dict]:
        rows: list[dict] = []
        for page in self.iter_pages(resource, **filters):
            rows.extend(page)
        return rows


def v3_client_for_credential(credential, **kwargs) -> NcmV3Client | None:
    """A v3 client when the tenant's NCM credential holds an `api_token`, else None."""
    from accounts.services import credential_secrets

    token = credential_secrets(credential).get("api_token")
    if not token:
        return None
    return NcmV3Client(v3_base_url(credential.base_url), token, **kwargs)
