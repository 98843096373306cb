"""History reads both faces use (API and UI): chart series, usage totals, worst signal, licence expiry counts."""
from __future__ import annotations

from datetime import timedelta

from django.db.models import Avg, Count, F, Min, Q, Sum
from django.utils import timezone

from history.models import Rollup

__all__ = ["EXPIRY_WINDOWS", "licence_expiry_counts", "router_series", "usage_by_month",
           "usage_by_tenant", "worst_signal_modems"]

EXPIRY_WINDOWS = (30, 60, 90)
RANGES = {"24h": timedelta(hours=24), "7d": timedelta(days=7), "30d": timedelta(days=30)}


def licence_expiry_counts(queryset, now=None) -> dict:
    """{expired, 30, 60, 90}: licences (devices) already expired, and ending within 30/60/90 days (cumulative)."""
    now = now or timezone.now()
    agg = queryset.aggregate(
        expired=Count("id", filter=Q(end_time__lte=now)),
        **{f"d{d}": Count("id", filter=Q(end_time__gt=now, end_time__lte=now + timedelta(days=d))) for d in EXPIRY_WINDOWS},
    )
    return {"expired": agg["expired"], **{d: agg[f"d{d}"] for d in EXPIRY_WINDOWS}}


def router_series(router, range_key: str = "7d", now=None) -> dict:
    """Chart data for one router over 24h / 7d / 30d from the hourly roll-ups (daily uptime for 30d): signal
    (RSRP/RSRQ/SINR averaged over its modems), usage (bytes in/out of its WAN devices), uptime (% online).
    Times are epoch seconds (uPlot's x axis)."""
    now = now or timezone.now()
    since = now - RANGES.get(range_key, RANGES["7d"])
    # One point an hour: the router's modems averaged (hourly roll-ups), so two SIMs do not zig-zag one line.
    signal = list(Rollup.objects.filter(router=router, kind="signal", period="hour", bucket__gte=since)
                  .values("bucket").annotate(a=Avg("rsrp"), q=Avg("rsrq"), s=Avg("sinr")).order_by("bucket")
                  .values_list("bucket", "a", "q", "s"))
    signal = [(b, _r(a), _r(q), _r(s)) for b, a, q, s in signal]
    usage = list(Rollup.objects.filter(router=router, kind="usage", period="hour", bucket__gte=since)
                 .values("bucket").annotate(i=Sum("bytes_in"), o=Sum("bytes_out")).order_by("bucket")
                 .values_list("bucket", "i", "o"))
    period = "day" if range_key == "30d" else "hour"
    state = list(Rollup.objects.filter(router=router, kind="state", period=period, bucket__gte=since)
                 .order_by("bucket").values_list("bucket", "online_seconds", "offline_seconds"))

    def ts(value):
        return int(value.timestamp())

    return {
        "range": range_key,
        "signal": {"t": [ts(r[0]) for r in signal], "rsrp": [r[1] for r in signal], "rsrq": [r[2] for r in signal],
                   "sinr": [r[3] for r in signal]},
        "usage": {"t": [ts(r[0]) for r in usage], "bytes_in": [r[1] for r in usage], "bytes_out": [r[2] for r in usage]},
        "uptime": {"t": [ts(r[0]) for r in state],
                   "percent": [round(100.0 * on / (on + off), 1) if on + off else None for _, on, off in state]},
    }


def _r(value):
    return None if value is None else round(value, 1)


def usage_by_month(rollups, months: int = 12) -> list[dict]:
    """[{month, bytes_in, bytes_out}] over daily usage roll-ups (any scope), oldest first."""
    start = (timezone.now() - timedelta(days=31 * months)).replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    return list(rollups.filter(kind="usage", period="month", bucket__gte=start)
                .annotate(month=F("bucket")).values("month")
                .annotate(bytes_in=Sum("bytes_in"), bytes_out=Sum("bytes_out")).order_by("month"))


def usage_by_tenant(rollups, since) -> list[dict]:
    """[{tenant_id, tenant__name, bytes_in, bytes_out, total}] since `since`, biggest first."""
    rows = (rollups.filter(kind="usage", period="day", bucket__gte=since).values("tenant_id", "tenant__name")
            .annotate(total=Sum(F("bytes_in") + F("bytes_out")), b_in=Sum("bytes_in"), b_out=Sum("bytes_out"))
            .order_by("-total", "tenant__name"))
    return [{"tenant_id": r["tenant_id"], "tenant__name": r["tenant__name"], "bytes_in": r["b_in"],
             "bytes_out": r["b_out"], "total": r["total"]} for r in rows]


def worst_signal_modems(rollups, since, limit: int = 10) -> list[dict]:
    """Modems with the lowest average RSRP since `since` (daily signal roll-ups)."""
    return list(rollups.filter(kind="signal", period="day", bucket__gte=since, rsrp__isnull=False)
                .values("net_device_id", "net_device__name", "router_id", "router__name")
                .annotate(rsrp=Avg("rsrp"), rsrq=Avg("rsrq"), sinr=Avg("sinr"), rsrp_min=Min("rsrp_min"))
                .order_by("rsrp")[:limit])


def uptime_percent(rollups, since) -> float | None:
    agg = rollups.filter(kind="state", period="day", bucket__gte=since).aggregate(on=Sum("online_seconds"),
                                                                                off=Sum("offline_seconds"))
    total = (agg["on"] or 0) + (agg["off"] or 0)
    return round(100.0 * (agg["on"] or 0) / total, 2) if total else None


