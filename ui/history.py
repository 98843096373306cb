"""History on the portal's pages (charts and their table fallbacks): the router page, the tenant dashboard and the
MSP overview. Figures come from history.selectors (the same reads the API's lists and /usage/ use)."""
from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.db.models import Count, Sum
from django.utils import timezone

from history import selectors as hist
from history.models import Licence, Rollup
from history.services import request_recent

RANGE_LABELS = [("24h", "24 hours"), ("7d", "7 days"), ("30d", "30 days")]


def router_history_context(request, router) -> dict:
    """Context for templates/ui/history/_router_history.html; queues the router's on-demand collection (cached)."""
    key = request.GET.get("range") if request.GET.get("range") in hist.RANGES else "7d"
    now = timezone.now()
    since = now - hist.RANGES[key]
    series = hist.router_series(router, key, now=now)
    usage = Rollup.objects.filter(router=router, kind="usage", period="hour", bucket__gte=since)
    table = list(usage.values("bucket").annotate(i=Sum("bytes_in"), o=Sum("bytes_out")).order_by("-bucket")
                 .values_list("bucket", "i", "o")[:24 * 31])
    total = usage.aggregate(i=Sum("bytes_in"), o=Sum("bytes_out"))
    uptime = hist.uptime_percent(Rollup.objects.filter(router=router), since.replace(hour=0, minute=0, second=0, microsecond=0))
    return {
        "history_range": key, "history_ranges": RANGE_LABELS, "history_series": series, "history_table": table,
        "history_since": since.isoformat(), "history_usage_total": (total["i"] or 0) + (total["o"] or 0),
        "history_uptime": uptime, "history_requested": request_recent(router),
        "on_demand_days": int(settings.HISTORY_ON_DEMAND_DAYS),
    }


def tenant_history_context(user, tenant) -> dict:
    rollups = Rollup.objects.for_user(user).filter(tenant=tenant)
    months = hist.usage_by_month(rollups)
    month_series = {"t": list(range(len(months))), "labels": [m["month"].strftime("%b %Y") for m in months],
                    "bytes_in": [m["bytes_in"] for m in months], "bytes_out": [m["bytes_out"] for m in months]}
    since = timezone.now() - timedelta(days=7)
    licences = Licence.objects.for_user(user).filter(tenant=tenant)
    return {
        "usage_months": months, "usage_month_series": {"usage": month_series},
        "worst_modems": hist.worst_signal_modems(rollups, since),
        "licence_counts": hist.licence_expiry_counts(licences), "licences_known": licences.exists(),
    }


def overview_history_context(user) -> dict:
    since = timezone.now() - timedelta(days=30)
    rows = hist.usage_by_tenant(Rollup.objects.for_user(user), since)[:20]
    series = {"usage": {"t": list(range(len(rows))), "labels": [r["tenant__name"] for r in rows],
                        "bytes_in": [r["bytes_in"] for r in rows], "bytes_out": [r["bytes_out"] for r in rows]}}
    licences = Licence.objects.for_user(user)
    counts = hist.licence_expiry_counts(licences)
    soonest = list(licences.filter(end_time__gt=timezone.now(), end_time__lte=timezone.now() + timedelta(days=90))
                   .values("tenant_id", "tenant__name", "subscription__name", "end_time")
                   .annotate(devices=Count("id")).order_by("end_time", "tenant__name")[:12])
    return {"tenant_usage": rows, "tenant_usage_series": series, "licence_counts": counts,
            "licences_soonest": soonest, "licences_known": licences.exists()}
