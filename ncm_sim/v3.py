"""NCM API v3 (JSON:API) for the parts the portal uses: ``subscriptions`` and ``asset_endpoints``
(reference/ncm-sdk.md §1.1, §1.4, §1.6).

- Auth: ``Authorization: Bearer <token>`` (the token from ``NCM_API_TOKEN``, default ``demo-v3-token``);
  anything else answers 401 with a JSON:API ``errors`` body.
- Media type ``application/vnd.api+json``. Non-beta endpoints accept a trailing slash or none.
- Cursor pagination: ``page[size]`` (default 10, max 50; larger answers 400) and ``page[after]`` (an opaque
  cursor); ``links.next`` is the next page's full URL, absent on the last page. ``filter[field]=`` filters.

Deterministic from the fleet: every router is an asset endpoint (its MAC, serial, product series) holding one of
a few subscriptions whose end dates fall 20, 45, 75 days and about a year after the fleet's epoch (so
"expiring in 30/60/90 days" all have members), and one subscription already expired.
"""
from __future__ import annotations

import base64
import json
from datetime import timedelta
from urllib.parse import parse_qsl, urlencode, urlsplit

from .fleet import PRODUCTS, id_from_url, iso

DEFAULT_PAGE = 10
MAX_PAGE = 50
MEDIA = "application/vnd.api+json"

SUBSCRIPTION_PLANS = [  # (name, type, days from epoch to end)
    ("NetCloud Branch Essentials", "NCE-BRANCH", 20),
    ("NetCloud Branch Advanced", "NCA-BRANCH", 45),
    ("NetCloud Mobile Essentials", "NCE-MOBILE", 75),
    ("NetCloud Branch Essentials 3yr", "NCE-BRANCH", 400),
    ("NetCloud IoT Essentials", "NCE-IOT", -5),
]


def subscriptions(fleet) -> list[dict]:
    tenant_id = f"t-{abs(fleet.seed):06d}"
    out = []
    for k, (name, type_, days) in enumerate(SUBSCRIPTION_PLANS):
        sid = f"sub-{abs(fleet.seed):04d}-{k + 1:03d}"
        end = fleet.epoch + timedelta(days=days)
        out.append({
            "type": "subscriptions", "id": sid,
            "attributes": {
                "name": name, "type": type_, "quantity": 0, "start_time": iso(end - timedelta(days=365)),
                "end_time": iso(end), "tenant": tenant_id,
            },
            "relationships": {"tenants": {"data": [{"type": "tenants", "id": tenant_id}]}},
        })
    counts = {}
    for asset in asset_endpoints(fleet, subs=out):
        sid = asset["relationships"]["subscriptions"]["data"][0]["id"]
        counts[sid] = counts.get(sid, 0) + 1
    for s in out:
        s["attributes"]["quantity"] = counts.get(s["id"], 0)
    return out


def asset_endpoints(fleet, subs: list[dict] | None = None) -> list[dict]:
    subs = subs if subs is not None else [{"id": f"sub-{abs(fleet.seed):04d}-{k + 1:03d}"} for k in range(len(SUBSCRIPTION_PLANS))]
    out = []
    for rid in sorted(fleet.tables["routers"], key=int):
        router = fleet.tables["routers"][rid]
        pid = id_from_url(router.get("product"))
        series = next((p[1] for p in PRODUCTS if str(p[0]) == pid), "")
        sub = subs[int(rid) % len(subs)]
        out.append({
            "type": "asset_endpoints", "id": f"ae-{rid}",
            "attributes": {
                "mac_address": (router.get("mac") or "").replace(":", "").upper(),
                "serial_number": router.get("serial_number"), "hardware_series": series,
                "hardware_series_key": series.lower(), "router_id": rid,
            },
            "relationships": {"subscriptions": {"data": [{"type": "subscriptions", "id": sub["id"]}]}},
        })
    return out


def _cursor(index: int) -> str:
    return base64.urlsafe_b64encode(json.dumps({"i": index}).encode()).decode().rstrip("=")


def _index(cursor: str) -> int:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        return int(json.loads(base64.urlsafe_b64decode(padded))["i"])
    except (ValueError, KeyError, TypeError):
        raise ValueError("invalid page[after] cursor") from None


def _error(status: int, title: str, detail: str) -> tuple[int, dict]:
    return status, {"errors": [{"status": str(status), "title": title, "detail": detail}]}


def handle(fleet, token: str, method: str, raw_path: str, headers, host: str) -> tuple[int, dict]:
    split = urlsplit(raw_path)
    parts = [p for p in split.path[len("/api/v3"):].split("/") if p]
    if headers.get("Authorization") != f"Bearer {token}":
        return _error(401, "Unauthorized", "A valid Bearer token is required.")
    if method != "GET":
        return _error(405, "Method Not Allowed", f"{method} is not supported by the simulator's v3 API.")
    if len(parts) != 1 or parts[0] not in ("subscriptions", "asset_endpoints"):
        return _error(404, "Not Found", f"Unknown endpoint {split.path}")
    resource = parts[0]
    params = parse_qsl(split.query, keep_blank_values=True)
    size, after, filters = DEFAULT_PAGE, 0, {}
    for name, value in params:
        if name == "page[size]":
            try:
                size = int(value)
            except ValueError:
                return _error(400, "Bad Request", "page[size] must be an integer")
            if not 1 <= size <= MAX_PAGE:
                return _error(400, "Bad Request", f"page[size] must be between 1 and {MAX_PAGE}")
        elif name == "page[after]":
            try:
                after = _index(value)
            except ValueError as exc:
                return _error(400, "Bad Request", str(exc))
        elif name.startswith("filter[") and name.endswith("]"):
            filters[name[7:-1]] = value
        elif name in ("sort", "fields"):
            continue
        else:
            return _error(400, "Bad Request", f"Unknown query parameter {name}")
    with fleet.lock:
        rows = subscriptions(fleet) if resource == "subscriptions" else asset_endpoints(fleet)
    for key, value in filters.items():
        wanted = set(value.split(","))
        rows = [r for r in rows if str(r["id"] if key == "id" else r["attributes"].get(key)) in wanted]
    page = rows[after:after + size]
    links = {"self": f"http://{host}{raw_path}"}
    if after + size < len(rows):
        kept = [(k, v) for k, v in params if k != "page[after]"]
        if not any(k == "page[size]" for k, _ in kept):
            kept.append(("page[size]", str(size)))
        kept.append(("page[after]", _cursor(after + size)))
        links["next"] = f"http://{host}/api/v3/{resource}?{urlencode(kept)}"
    return 200, {"data": page, "links": links, "meta": {"page": {"size": size}}}
