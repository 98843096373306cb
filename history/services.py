"""History writes: incremental collection of NCM's time series, roll-ups and retention (docs/history.md).

Collection, per tenant, endpoint and device:
- a `Cursor` row says every sample up to `cursor` (a created_at_timeuuid) is stored, and everything from
  `covered_from` on. A device without one starts at now - HISTORY_INITIAL_DAYS (a floor timeuuid).
- devices are asked in batches of up to 100 (`net_device__in` / `router__in` where NCM allows it; one device
  per call for `historical_locations` and `router_logs`) from the batch's smallest cursor, oldest first, pages
  of 500 following `meta.next` (`created_at_timeuuid__gt`). Each page is stored in one transaction *with* the
  cursors it completes (ON CONFLICT DO NOTHING on (device, created_at_timeuuid)): a failed page leaves the
  cursors at the last stored page, so the next run resumes there: nothing twice, nothing lost.
- every call goes through the credential's shared Redis `RateBudget` (ncm_sync.ratebudget: the sync and the
  collector of a tenant share one budget), and a run stops after HISTORY_MAX_CALLS_PER_RUN calls (the cursors
  say where the next run resumes).
- on demand (a router page), `request_recent(router)` queues a collection of that router's series for its last
  HISTORY_ON_DEMAND_DAYS (7) days, at most once per HISTORY_ON_DEMAND_TTL_SECONDS (cached).
"""
from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from datetime import timezone as dt_timezone

from django.conf import settings
from django.core.cache import cache
from django.db import transaction
from django.db.models import Avg, Count, Min, Q, Sum
from django.db.models.functions import TruncDay, TruncHour
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from history.models import (Cursor, LocationSample, Period, Rollup, RollupKind, RouterLog, SignalSample,
                            StateSample, StreamUsageSample, UsageSample)
from portal.retention import delete_in_batches

logger = logging.getLogger(__name__)

__all__ = ["KINDS", "CYCLE_KINDS", "collect_tenant", "collect_router", "request_recent", "rollup",
           "prune_history", "timeuuid_floor", "tenants_to_collect"]

_UUID_EPOCH_TICKS = 122192928000000000


@dataclass(frozen=True)
class Kind:
    name: str
    endpoint: str
    model: type
    device: str  # "net_device" or "router"
    batch: bool  # NCM takes `<device>__in`

    @property
    def device_model(self):
        from django.apps import apps

        return apps.get_model("ncm_sync", "NetDevice" if self.device == "net_device" else "Router")


KINDS = {k.name: k for k in (
    Kind("signal", "net_device_signal_samples", SignalSample, "net_device", True),
    Kind("usage", "net_device_usage_samples", UsageSample, "net_device", True),
    Kind("state", "router_state_samples", StateSample, "router", True),
    Kind("stream", "router_stream_usage_samples", StreamUsageSample, "router", True),
    Kind("locations", "historical_locations", LocationSample, "router", False),
    Kind("logs", "router_logs", RouterLog, "router", False),
)}
# Collected for every device on every cycle; the rest only on demand (a router page).
CYCLE_KINDS = ("signal", "usage", "state")
BATCH = 100


def timeuuid_floor(at: datetime) -> str:
    """The smallest version-1 UUID of instant `at`: every sample created at or after `at` sorts above it."""
    ticks = int((at.timestamp()) * 10_000_000) + _UUID_EPOCH_TICKS
    fields = (ticks & 0xFFFFFFFF, (ticks >> 32) & 0xFFFF, ((ticks >> 48) & 0x0FFF) | 0x1000, 0x80, 0, 0)
    return str(uuid.UUID(fields=fields))


def _parse_time(value):
    if not value:
        return None
    parsed = parse_datetime(str(value).replace(" ", "T", 1))
    if parsed is None:
        return None
    return parsed if parsed.tzinfo else timezone.make_aware(parsed, dt_timezone.utc)


def _clean(model, name, value):
    field = model._meta.get_field(name)
    internal = field.get_internal_type()
    if value is None or value == "":
        return "" if internal in ("CharField", "TextField") else None
    try:
        if internal in ("FloatField",):
            return float(value)
        if internal in ("IntegerField", "BigIntegerField"):
            return int(float(value))
        if internal == "DateTimeField":
            return _parse_time(value)
        if internal in ("CharField", "TextField"):
            return str(value)[: field.max_length] if field.max_length else str(value)
    except (TypeError, ValueError):
        return None
    return value


def _ncm_id(value) -> str:
    text = str(value or "").rstrip("/")
    return text.rsplit("/", 1)[-1]


class _Budget:
    def __init__(self, client, max_calls: int):
        self.client, self.start, self.max_calls = client, client.calls, max_calls

    @property
    def spent(self) -> bool:
        return self.max_calls > 0 and self.client.calls - self.start >= self.max_calls


def _client(tenant):
    from accounts.models import Credential
    from ncm_sync.client import client_for_credential

    credential = Credential.objects.filter(tenant=tenant, provider="ncm").first()
    if credential is None:
        return None
    return client_for_credential(credential)


def _devices(tenant, kind: Kind, router_ids=None):
    """(portal id, ncm id) of the tenant's live devices of this kind (modems/WAN devices for net devices)."""
    qs = kind.device_model.objects.filter(tenant=tenant, deleted_at__isnull=True)
    if kind.device == "net_device":
        qs = qs.filter(mode="wan")
        if kind.name == "signal":
            qs = qs.filter(type="mdm")  # signal samples are reported by modems only
        if router_ids is not None:
            qs = qs.filter(router_id__in=router_ids)
    elif router_ids is not None:
        qs = qs.filter(pk__in=router_ids)
    return list(qs.values_list("pk", "ncm_id"))


def collect_tenant(tenant, *, kinds=CYCLE_KINDS, router_ids=None, days: float | None = None, client=None,
                   max_calls: int | None = None) -> dict:
    """Collect `kinds` for the tenant's devices (or those of `router_ids`). `days`: make sure the stored range
    starts at least that far back (a backfill before existing cursors). Returns counts per kind.

    Raises the client's error when a page fails after its retries (what was stored stays, with its cursors)."""
    own_client = client is None
    client = client or _client(tenant)
    if client is None:
        return {}
    budget = _Budget(client, settings.HISTORY_MAX_CALLS_PER_RUN if max_calls is None else max_calls)
    now = timezone.now()
    counts: dict[str, int] = {}
    touched: dict[str, datetime] = {}
    try:
        for name in kinds:
            kind = KINDS[name]
            devices = _devices(tenant, kind, router_ids)
            if not devices:
                continue
            start = now - timedelta(days=days if days is not None else settings.HISTORY_INITIAL_DAYS)
            inserted, oldest = _collect_kind(tenant, kind, devices, start, client, budget, backfill=days is not None)
            counts[name] = inserted
            if oldest is not None:
                touched[name] = oldest
            if budget.spent:
                logger.info("history: call budget of this run spent for tenant %s; the rest next run", tenant.pk)
                break
    finally:
        if own_client:
            client.close()
        for name, oldest in touched.items():
            if name in (RollupKind.USAGE, RollupKind.SIGNAL, RollupKind.STATE):
                rollup(tenant, name, since=oldest)
    return counts


def _collect_kind(tenant, kind: Kind, devices, start: datetime, client, budget, *, backfill: bool):
    ids = [pk for pk, _ in devices]
    cursors = {c.device_id: c for c in Cursor.objects.filter(kind=kind.name, device_id__in=ids)}
    fresh = [Cursor(tenant=tenant, kind=kind.name, device_id=pk, cursor=timeuuid_floor(start), cursor_at=start,
                    covered_from=start) for pk in ids if pk not in cursors]
    if fresh:
        Cursor.objects.bulk_create(fresh, ignore_conflicts=True)
        cursors = {c.device_id: c for c in Cursor.objects.filter(kind=kind.name, device_id__in=ids)}
    ncm_ids = dict(devices)
    inserted, oldest = 0, None

    # Backfill: devices whose stored range starts after `start` get [start, covered_from) first.
    if backfill:
        for pk in ids:
            cur = cursors[pk]
            if cur.covered_from <= start or budget.spent:
                continue
            n, low = _walk(tenant, kind, [(pk, ncm_ids[pk])], client, budget,
                           {"created_at_timeuuid__gt": timeuuid_floor(start),
                            "created_at_timeuuid__lt": timeuuid_floor(cur.covered_from)}, advance=None)
            inserted += n
            oldest = min(filter(None, (oldest, low)), default=None)
            if not budget.spent:
                Cursor.objects.filter(pk=cur.pk).update(covered_from=start)

    # Forward: from each batch's smallest cursor (devices sorted by cursor so batches start close together).
    order = sorted(ids, key=lambda pk: cursors[pk].cursor_at)
    size = BATCH if kind.batch else 1
    for offset in range(0, len(order), size):
        if budget.spent:
            break
        chunk = order[offset:offset + size]
        first = min((cursors[pk] for pk in chunk), key=lambda c: c.cursor_at)
        n, low = _walk(tenant, kind, [(pk, ncm_ids[pk]) for pk in chunk], client, budget,
                       {"created_at_timeuuid__gt": first.cursor}, advance={pk: cursors[pk] for pk in chunk})
        inserted += n
        oldest = min(filter(None, (oldest, low)), default=None)
    return inserted, oldest


def _walk(tenant, kind: Kind, devices, client, budget, bounds: dict, advance: dict | None):
    """Page through one listing; store each page (and, going forward, the cursors it completes) atomically."""
    by_ncm = {str(ncm): pk for pk, ncm in devices}
    device_ids = list(by_ncm)
    filters = {f"{kind.device}__in": device_ids} if kind.batch else {kind.device: device_ids[0]}
    model, inserted, oldest = kind.model, 0, None
    pages = client.iter_pages(kind.endpoint, **filters, **bounds)
    while True:
        if budget.spent:
            return inserted, oldest
        try:
            page = next(pages)
        except StopIteration:
            return inserted, oldest
        rows = []
        for obj in page:
            pk = by_ncm.get(_ncm_id(obj.get(kind.device)))
            created = _parse_time(obj.get("created_at"))
            tuuid = str(obj.get("created_at_timeuuid") or "")
            if pk is None or created is None or not tuuid:
                continue
            values = {name: _clean(model, name, obj.get(name)) for name in model.NCM_FIELDS}
            rows.append(model(tenant=tenant, created_at=created, created_at_timeuuid=tuuid[:64],
                              **{f"{kind.device}_id": pk}, **values))
            oldest = created if oldest is None or created < oldest else oldest
        with transaction.atomic():
            created_rows = model.objects.bulk_create(rows, ignore_conflicts=True, batch_size=1000)
            inserted += len(created_rows)
            if advance and page:
                last = page[-1]
                last_at = _parse_time(last.get("created_at"))
                last_uuid = str(last.get("created_at_timeuuid"))
                behind = [c.pk for c in advance.values() if last_at and c.cursor_at < last_at]
                # Conditional in SQL too: an overlapping run that got further is never moved back.
                Cursor.objects.filter(pk__in=behind, cursor_at__lt=last_at).update(
                    cursor=last_uuid, cursor_at=last_at, updated_at=timezone.now())
                for c in advance.values():
                    if c.pk in behind:
                        c.cursor, c.cursor_at = last_uuid, last_at


def collect_router(router, *, days: float | None = None, kinds=None) -> dict:
    """Every series of one router and its WAN devices, covering at least its last `days` days."""
    days = settings.HISTORY_ON_DEMAND_DAYS if days is None else days
    return collect_tenant(router.tenant, kinds=kinds or tuple(KINDS), router_ids=[router.pk], days=days, max_calls=0)


def request_recent(router) -> bool:
    """A router page asks for its recent history: queue a collection unless one was asked for recently
    (cached HISTORY_ON_DEMAND_TTL_SECONDS). Returns True when queued."""
    from portal.tasks import enqueue

    key = f"history:on-demand:router:{router.pk}"
    if not cache.add(key, 1, timeout=settings.HISTORY_ON_DEMAND_TTL_SECONDS):
        return False
    try:
        enqueue("history.tasks.collect_router_task", router.pk)
    except Exception:  # a broker hiccup must not break the page; the cycle collects anyway
        logger.warning("history: could not queue the on-demand collection of router %s", router.pk, exc_info=True)
        cache.delete(key)
        return False
    return True


def tenants_to_collect():
    from accounts.models import Credential

    return list(Credential.objects.filter(provider="ncm").values_list("tenant_id", flat=True))


#
# Roll-ups
#
def rollup(tenant, kind: str, *, since: datetime | None = None, until: datetime | None = None) -> int:
    """(Re)compute the hourly and daily roll-ups of `kind` for the tenant from the raw samples, for every bucket
    from the day of `since` (all when None). Idempotent: buckets are upserted from a full recount."""
    model = {RollupKind.USAGE: UsageSample, RollupKind.SIGNAL: SignalSample, RollupKind.STATE: StateSample}[kind]
    device = model.DEVICE_FIELD
    written = 0
    for period, trunc in ((Period.HOUR, TruncHour), (Period.DAY, TruncDay)):
        qs = model.objects.filter(tenant=tenant)
        if since is not None:
            qs = qs.filter(created_at__gte=since.replace(hour=0, minute=0, second=0, microsecond=0))
        if until is not None:
            qs = qs.filter(created_at__lt=until)
        qs = qs.annotate(bucket=trunc("created_at", tzinfo=dt_timezone.utc)).values(f"{device}_id", "bucket")
        if kind == RollupKind.USAGE:
            qs = qs.annotate(samples=Count("id"), s_in=Sum("bytes_in"), s_out=Sum("bytes_out"))
        elif kind == RollupKind.SIGNAL:
            qs = qs.annotate(samples=Count("id"), a_rsrp=Avg("rsrp"), a_rsrq=Avg("rsrq"), a_sinr=Avg("sinr"),
                             m_rsrp=Min("rsrp"))
        else:
            qs = qs.annotate(samples=Count("id"), on=Sum("period", filter=Q(state="online")),
                             off=Sum("period", filter=~Q(state="online")))
        rows = list(qs.order_by())
        if not rows:
            continue
        routers = {}
        if device == "net_device":
            from ncm_sync.models import NetDevice

            ids = {r["net_device_id"] for r in rows}
            routers = dict(NetDevice.objects.filter(pk__in=ids).values_list("pk", "router_id"))
        objs = []
        for r in rows:
            dev = r[f"{device}_id"]
            obj = Rollup(tenant=tenant, kind=kind, period=period, bucket=r["bucket"], device_id=dev, samples=r["samples"])
            if device == "net_device":
                obj.net_device_id, obj.router_id = dev, routers.get(dev)
            else:
                obj.router_id = dev
            if kind == RollupKind.USAGE:
                obj.bytes_in, obj.bytes_out = r["s_in"] or 0, r["s_out"] or 0
            elif kind == RollupKind.SIGNAL:
                obj.rsrp, obj.rsrq, obj.sinr, obj.rsrp_min = r["a_rsrp"], r["a_rsrq"], r["a_sinr"], r["m_rsrp"]
            else:
                obj.online_seconds, obj.offline_seconds = r["on"] or 0.0, r["off"] or 0.0
            objs.append(obj)
        Rollup.objects.bulk_create(
            objs, batch_size=1000, update_conflicts=True, unique_fields=["kind", "period", "device_id", "bucket"],
            update_fields=ROLLUP_VALUES,
        )
        written += len(objs)
    return written + rollup_months(tenant, kind, since=since)


ROLLUP_VALUES = ["samples", "bytes_in", "bytes_out", "rsrp", "rsrq", "sinr", "rsrp_min", "online_seconds",
                 "offline_seconds", "router", "net_device"]


def rollup_months(tenant, kind: str, *, since: datetime | None = None) -> int:
    """(Re)compute monthly roll-ups from the daily ones, from the month of `since` (all when None): sums, the
    signal averages weighted by samples, the minimum RSRP. Billing per month reads these (13 months of 10k
    devices is 130k rows instead of 4M daily ones)."""
    from django.db.models import ExpressionWrapper, F, FloatField
    from django.db.models.functions import TruncMonth

    daily = Rollup.objects.filter(tenant=tenant, kind=kind, period=Period.DAY)
    if since is not None:
        daily = daily.filter(bucket__gte=since.replace(day=1, hour=0, minute=0, second=0, microsecond=0))

    def weighted(name):
        return Sum(ExpressionWrapper(F(name) * F("samples"), output_field=FloatField()))

    rows = list(daily.annotate(month=TruncMonth("bucket", tzinfo=dt_timezone.utc))
                .values("device_id", "month", "router_id", "net_device_id")
                .annotate(n=Sum("samples"), b_in=Sum("bytes_in"), b_out=Sum("bytes_out"), on=Sum("online_seconds"),
                          off=Sum("offline_seconds"), w_rsrp=weighted("rsrp"), w_rsrq=weighted("rsrq"),
                          w_sinr=weighted("sinr"), m_rsrp=Min("rsrp_min")).order_by())
    objs = []
    for r in rows:
        n = r["n"] or 0
        objs.append(Rollup(
            tenant=tenant, kind=kind, period=Period.MONTH, bucket=r["month"], device_id=r["device_id"],
            router_id=r["router_id"], net_device_id=r["net_device_id"], samples=n, bytes_in=r["b_in"] or 0,
            bytes_out=r["b_out"] or 0, online_seconds=r["on"] or 0.0, offline_seconds=r["off"] or 0.0,
            rsrp=(r["w_rsrp"] / n) if n and r["w_rsrp"] is not None else None,
            rsrq=(r["w_rsrq"] / n) if n and r["w_rsrq"] is not None else None,
            sinr=(r["w_sinr"] / n) if n and r["w_sinr"] is not None else None, rsrp_min=r["m_rsrp"]))
    Rollup.objects.bulk_create(objs, batch_size=1000, update_conflicts=True,
                               unique_fields=["kind", "period", "device_id", "bucket"], update_fields=ROLLUP_VALUES)
    return len(objs)


#
# Retention
#
def prune_history(now: datetime | None = None) -> dict:
    """Raw samples older than HISTORY_RAW_RETENTION_DAYS (30), daily roll-ups older than
    HISTORY_ROLLUP_RETENTION_DAYS (395), hourly ones older than HISTORY_HOURLY_ROLLUP_RETENTION_DAYS (92: the charts
    read hourly buckets for at most 30 days; a year of hourly rows for 10k devices would be ~260M rows for nothing).
    0 keeps forever. In batches (portal.retention)."""
    now = now or timezone.now()
    out = {}
    raw_days, rollup_days = settings.HISTORY_RAW_RETENTION_DAYS, settings.HISTORY_ROLLUP_RETENTION_DAYS
    if raw_days > 0:
        cutoff = now - timedelta(days=raw_days)
        for kind in KINDS.values():
            out[kind.name] = delete_in_batches(kind.model.objects.filter(created_at__lt=cutoff))
    if rollup_days > 0:
        out["rollups"] = delete_in_batches(Rollup.objects.filter(period__in=[Period.DAY, Period.MONTH],
                                                                 bucket__lt=now - timedelta(days=rollup_days)))
    hourly_days = settings.HISTORY_HOURLY_ROLLUP_RETENTION_DAYS
    if hourly_days > 0:
        out["hourly_rollups"] = delete_in_batches(
            Rollup.objects.filter(period=Period.HOUR, bucket__lt=now - timedelta(days=hourly_days)))
    return out
