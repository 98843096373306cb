"""Writing the vendor-neutral mirror: the ecCloud sync of one credential, and the projection of NCM routers.

Both are exact like the NCM sync: a row is written only when its content changed (hash), rows a complete
listing no longer returns are tombstoned, and a failed listing (maintenance, 429, a bad key) deletes nothing.
They run inside the per-tenant sync (ncm_sync.services.runs), under its lock and on its schedule: this app
registers them there in `DevicesConfig.ready`.
"""
from __future__ import annotations

import hashlib
import logging
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import orjson

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from devices.eccloud import (
    EcCloudAuthError,
    EcCloudError,
    EcCloudForbidden,
    EcCloudRateLimited,
    EcCloudUnavailable,
    client_for_credential,
)
from devices.models import Device, DeviceProvider, Site
from ncm_sync.models import Router
from ncm_sync.ratebudget import RateBudgetTimeout
from ncm_sync.services.runs import ProviderSyncError

logger = logging.getLogger(__name__)

__all__ = ["sync_eccloud_credential", "sync_eccloud", "project_ncm_routers", "eccloud_status", "Figures"]

ECCLOUD_STATUS = {"STATUS_ONLINE": "online", "STATUS_OFFLINE": "offline"}


@dataclass
class Figures:
    fetched: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    deleted: int = 0
    api_calls: int = 0

    def as_dict(self) -> dict:
        return dict(self.__dict__)


def _hash(obj) -> str:
    text = orjson.dumps(obj, default=str, option=orjson.OPT_SORT_KEYS | orjson.OPT_NON_STR_KEYS)
    return hashlib.blake2b(text, digest_size=16).hexdigest()


def eccloud_status(status_id) -> str:
    if not status_id:
        return "unknown"
    return ECCLOUD_STATUS.get(status_id) or str(status_id).removeprefix("STATUS_").lower()[:20]


def _dt(value):
    try:
        return parse_datetime(value) if isinstance(value, str) else None
    except ValueError:
        return None


def _upsert(model, *, tenant_id: int, provider: str, rows: dict[str, dict], now, figures: Figures,
            tombstone: bool = True) -> dict[str, int]:
    """Write `rows` ({remote_id: column values incl. content_hash}); returns remote_id -> pk of live rows."""
    existing = {rid: (pk, digest, deleted) for pk, rid, digest, deleted in model.objects.filter(
        tenant_id=tenant_id, provider=provider).values_list("pk", "remote_id", "content_hash", "deleted_at")}
    create, update = [], []
    fields: list[str] = []
    for rid, values in rows.items():
        figures.fetched += 1
        if rid not in existing:
            create.append(model(tenant_id=tenant_id, provider=provider, remote_id=rid, first_seen_at=now,
                                last_seen_at=now, **values))
            continue
        pk, digest, deleted = existing[rid]
        if digest == values["content_hash"] and deleted is None:
            figures.unchanged += 1
            continue
        fields = list(values)
        update.append(model(pk=pk, tenant_id=tenant_id, last_seen_at=now, deleted_at=None, **values))
    with transaction.atomic():
        if create:
            model.objects.bulk_create(create, batch_size=500)
            figures.created += len(create)
        if update:
            model.objects.bulk_update(update, [*fields, "last_seen_at", "deleted_at"], batch_size=500)
            figures.updated += len(update)
        if tombstone:
            gone = [pk for rid, (pk, _d, deleted) in existing.items() if rid not in rows and deleted is None]
            if gone:
                figures.deleted += model.objects.filter(pk__in=gone).update(deleted_at=now)
    return dict(model.objects.filter(tenant_id=tenant_id, provider=provider, deleted_at__isnull=True)
                .values_list("remote_id", "pk"))


def sync_eccloud(*, tenant_id: int, client) -> dict[str, dict]:
    """List every site and each site's devices (complete listings), then write sites and devices."""
    now = timezone.now()
    sites_fig, devices_fig = Figures(), Figures()
    sites = client.sites()
    listed: dict[str, list[dict]] = {}
    for site in sites:
        sid = str(site.get("id") or "")
        if sid:
            listed[sid] = client.site_devices(sid)
    # Every listing completed: only now may anything be tombstoned.
    site_rows = {str(s["id"]): {"name": str(s.get("name") or "")[:200], "data": s, "content_hash": _hash(s)}
                 for s in sites if s.get("id")}
    site_pks = _upsert(Site, tenant_id=tenant_id, provider=DeviceProvider.ECCLOUD, rows=site_rows, now=now,
                       figures=sites_fig)
    device_rows = {}
    for sid, devices in listed.items():
        for dev in devices:
            rid = str(dev.get("id") or "")
            if not rid:
                continue
            site_id = str(dev.get("site_id") or sid)
            device_rows[rid] = {
                "name": str(dev.get("name") or "")[:200], "serial": str(dev.get("sn") or "")[:64],
                "mac": str(dev.get("mac") or "").lower()[:32], "status": eccloud_status(dev.get("status_id")),
                "last_contact": _dt(dev.get("last_contact")), "site_remote_id": site_id,
                "site_id": site_pks.get(site_id), "vendor": dev, "config_suspended": bool(dev.get("suspend_config")),
                "content_hash": _hash([dev, site_pks.get(site_id)]),
            }
    _upsert(Device, tenant_id=tenant_id, provider=DeviceProvider.ECCLOUD, rows=device_rows, now=now,
            figures=devices_fig)
    devices_fig.api_calls = getattr(client, "calls", 0)
    return {"eccloud_sites": sites_fig.as_dict(), "eccloud_devices": devices_fig.as_dict()}


def _failure(exc: BaseException, base_url: str) -> str:
    if isinstance(exc, EcCloudUnavailable) and exc.maintenance:
        return ("ecCloud is under maintenance (it answered 503 after every retry; weekly maintenance is on "
                "Wednesdays): the ecCloud sync stopped and deleted nothing; the next sync will try again.")
    if isinstance(exc, EcCloudAuthError):
        return "ecCloud rejected the tenant's API key (401): check the ecCloud credential. Nothing was changed in the mirror."
    if isinstance(exc, EcCloudForbidden):
        return f"ecCloud refused the listing (403): {exc.message}. Nothing was changed in the mirror."
    if isinstance(exc, EcCloudRateLimited):
        return "ecCloud kept answering 429 (200 requests per 10 s per address) after every retry; nothing was deleted."
    if isinstance(exc, EcCloudUnavailable):
        return f"ecCloud is unavailable after every retry ({exc.message}); nothing was deleted."
    if isinstance(exc, RateBudgetTimeout):
        return f"The ecCloud call budget of {base_url} stayed exhausted: {exc}"
    if isinstance(exc, EcCloudError):
        return f"ecCloud error: {exc.message}"
    return f"Internal error during the ecCloud sync ({type(exc).__name__}); see the worker log."


def sync_eccloud_credential(*, tenant_id: int, credential) -> dict[str, dict]:
    """The per-tenant sync's ecCloud part (registered in ncm_sync.services.runs). Raises ProviderSyncError."""
    client = None
    try:
        client = client_for_credential(credential, max_retries=settings.ECCLOUD_SYNC_MAX_RETRIES)
        return sync_eccloud(tenant_id=tenant_id, client=client)
    except Exception as exc:  # noqa: BLE001 - said in words on the run
        if not isinstance(exc, EcCloudError | RateBudgetTimeout):
            logger.exception("ecCloud sync of tenant %s failed", tenant_id)
        raise ProviderSyncError(_failure(exc, credential.base_url),
                                figures={"eccloud": {"api_calls": getattr(client, "calls", 0)}}) from exc
    finally:
        if client is not None:
            client.close()


def project_ncm_routers(*, tenant_id: int, changed: frozenset[str] | None = None) -> dict:
    """Every NCM router of the tenant as a `Device` (provider `ncm`), written only where it changed. Skipped when
    the sync wrote no router row (`changed`) and every live router already has its live device."""
    if changed is not None and "routers" not in changed:
        live_routers = Router.objects.filter(tenant_id=tenant_id, deleted_at__isnull=True).count()
        live_devices = Device.objects.filter(tenant_id=tenant_id, provider=DeviceProvider.NCM, deleted_at__isnull=True,
                                             router__deleted_at__isnull=True).count()
        if live_routers == live_devices:
            return Figures().as_dict()
    if connection.vendor == "postgresql":
        return _project_ncm_routers_sql(tenant_id)
    now = timezone.now()
    figures = Figures()
    rows = {}
    for r in Router.objects.filter(tenant_id=tenant_id).values(*_PROJECTED):
        values = {"name": r["name"], "serial": r["serial_number"], "mac": r["mac"], "status": r["state"] or "unknown",
                  "last_contact": r["state_updated_at"], "group_id": r["group_id"], "router_id": r["pk"],
                  "vendor": {"router": r["pk"], **{key: r[column] for key, column in _VENDOR_KEYS.items()}}}
        values["content_hash"] = _hash(values)
        if r["deleted_at"] is None:  # a tombstoned router: its device is tombstoned by the upsert
            rows[r["ncm_id"]] = values
    _upsert(Device, tenant_id=tenant_id, provider=DeviceProvider.NCM, rows=rows, now=now, figures=figures)
    return figures.as_dict()


# Device.vendor of an NCM router: key -> Router column.
_VENDOR_KEYS = {"state": "state", "product": "product", "firmware": "firmware", "device_type": "device_type",
                "config_status": "config_status", "ipv4_address": "ipv4_address", "account": "account_id"}
_PROJECTED = ("pk", "ncm_id", "name", "serial_number", "mac", "state", "state_updated_at", "group_id", "account_id",
              "product", "firmware", "device_type", "config_status", "ipv4_address", "deleted_at")


# The projection's upsert runs as this many statements at once, each on its own connection: it is the last step of a
# first sync and otherwise leaves one of the cores idle (10k routers: 0.65 s on one core).
PROJECTION_PARTS = 2


def _project_ncm_routers_sql(tenant_id: int, parts: int | None = None) -> dict:
    """The projection as set-based statements (PostgreSQL): an upsert of every live router that changed since its
    device was written (a 10k-router first sync: one statement instead of 10k model instances), split by router id
    into `parts` statements run at once, then the tombstones. The content hash is PostgreSQL's md5 of the projected
    values. Inside a caller's transaction (a test's, say) it runs as one statement on that connection, since other
    connections would not see its rows."""
    q = connection.ops.quote_name
    device, router = q(Device._meta.db_table), q(Router._meta.db_table)
    vendor = ", ".join(f"'{key}', r.{q(column)}" for key, column in _VENDOR_KEYS.items())
    values = {  # Device column -> SQL over the router row r
        "name": "r.name", "serial": "r.serial_number", "mac": "r.mac", "status": "coalesce(nullif(r.state, ''), 'unknown')",
        "last_contact": "r.state_updated_at", "group_id": "r.group_id", "router_id": "r.id",
        "vendor": f"jsonb_build_object('router', r.id, {vendor})",
    }
    digest = "md5(jsonb_build_array(" + ", ".join(values.values()) + ")::text)"
    columns = ["tenant_id", "provider", "remote_id", "site_remote_id", "config_suspended", "first_seen_at",
               "last_seen_at", "deleted_at", "content_hash", *values]
    select = ["r.tenant_id", "%(provider)s", "r.ncm_id", "''", "false", "%(now)s", "%(now)s", "NULL", digest,
              *values.values()]
    assign = ", ".join(f"{q(c)} = EXCLUDED.{q(c)}" for c in ["content_hash", "last_seen_at", "deleted_at", *values])
    params = {"tenant": tenant_id, "provider": DeviceProvider.NCM, "now": timezone.now()}
    upsert = (
        f"INSERT INTO {device} AS d ({', '.join(q(c) for c in columns)}) "
        f"SELECT {', '.join(select)} FROM {router} AS r WHERE r.tenant_id = %(tenant)s AND r.deleted_at IS NULL "
        f"AND mod(r.id, %(parts)s) = %(part)s "
        f"ON CONFLICT (tenant_id, provider, remote_id) DO UPDATE SET {assign} "
        f"WHERE d.content_hash <> EXCLUDED.content_hash OR d.deleted_at IS NOT NULL "
        f"RETURNING (xmax = 0)")  # xmax 0: the row was inserted, not updated
    parts = 1 if connection.in_atomic_block else max(1, parts or PROJECTION_PARTS)

    def upsert_part(part: int) -> list[bool]:
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(upsert, {**params, "parts": parts, "part": part})
            return [inserted for (inserted,) in cursor.fetchall()]

    def upsert_part_in_thread(part: int) -> list[bool]:
        try:
            return upsert_part(part)
        finally:
            connection.close()  # this thread's own connection

    figures = Figures()
    if parts == 1:
        written = upsert_part(0)
    else:
        with ThreadPoolExecutor(parts - 1, thread_name_prefix="ncm-projection") as pool:
            others = [pool.submit(upsert_part_in_thread, part) for part in range(1, parts)]
            written = upsert_part(0)
            for other in others:
                written += other.result()
    figures.created = sum(written)
    figures.updated = len(written) - figures.created
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {device} AS d SET deleted_at = %(now)s WHERE d.tenant_id = %(tenant)s AND d.provider = %(provider)s "
            f"AND d.deleted_at IS NULL AND d.remote_id NOT IN (SELECT r.ncm_id FROM {router} AS r "
            f"WHERE r.tenant_id = %(tenant)s AND r.deleted_at IS NULL)", params)
        # NOT IN (a hashed subplan), not NOT EXISTS: right after a first sync the statistics still say the router
        # table is empty, and the anti join PostgreSQL then plans scans every router for every device (22 s at 10k).
        figures.deleted = cursor.rowcount
        cursor.execute(f"SELECT count(*) FROM {router} WHERE tenant_id = %(tenant)s AND deleted_at IS NULL", params)
        figures.fetched = cursor.fetchone()[0]
    figures.unchanged = figures.fetched - len(written)
    return figures.as_dict()
