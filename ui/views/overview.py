"""MSP overview: one row per tenant in scope, with fleet figures and sync freshness."""
from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.html import format_html

from accounts.models import SyncStatus, Tenant
from accounts.roles import Action
from ncm_sync.selectors import overview_totals
from ui import selectors
from ui.access import is_customer
from ui.history import overview_history_context
from ui.tables import Column, DataTable, Grouping
from ui.humanize import plural, when
from ui.templatetags.ui import badge


def _tenant_link(t):
    return format_html('<a href="{}">{}</a>', reverse("ui:tenant-dashboard", args=[t.pk]), t.name)


def _sync_cell(t):
    """When the data was last synced, and whether a sync is under way (a first one says so)."""
    if t.last_synced_at is None:
        if t.sync_status in (SyncStatus.QUEUED, SyncStatus.RUNNING):
            return format_html('<span class="badge info" data-first-sync title="Figures fill in when it finishes">'
                               'first sync {}</span>', "running" if t.sync_status == SyncStatus.RUNNING else "on its way")
        return format_html('<span class="muted">never synced</span>')
    return format_html('{}{}', when(t.last_synced_at),
                       format_html(' <span class="badge info">syncing</span>') if t.sync_status in
                       (SyncStatus.QUEUED, SyncStatus.RUNNING) else "")


def _num(attr, css_bad=False):
    def render(t):
        value = getattr(t, attr, None)
        if value is None:
            return format_html('<span class="muted">—</span>')
        if css_bad and value:
            return format_html('<span class="badge bad">{}</span>', value)
        return format_html("{}", value)
    return render


def _vendors(t) -> str:
    return " + ".join(name for name, n in (("Cradlepoint", t.routers_total), ("IgniteNet", t.eccloud_devices)) if n)


@login_required
def overview(request):
    customer = is_customer(request.user)
    if customer and not request.GET:
        # A customer's login lands on its own tenant's dashboard; the list is for those with several.
        own = list(Tenant.objects.for_user(request.user, Action.VIEW).values_list("pk", flat=True)[:2])
        if len(own) == 1:
            return redirect("ui:tenant-dashboard", tenant_id=own[0])
    qs = selectors.overview_tenants(request.user)
    filters = {
        "status": lambda q, v: q.filter(sync_status=v) if v in selectors.SYNC_STATUS_FILTERS else q,
        "stale": lambda q, v: q.filter(selectors.stale_q()) if v == "1" else q,
        "offline": lambda q, v: q.filter(routers_offline__gt=0) if v == "1" else q,
        "alerting": lambda q, v: q.filter(alerts_open__gt=0) if v == "1" else q,
        "poor": lambda q, v: q.filter(modems_poor__gt=0) if v == "1" else q,
        # Tenants holding that vendor's devices (`?vendor=ncm` / `?vendor=eccloud`).
        "vendor": lambda q, v: (q.filter(eccloud_devices__gt=0) if v == "eccloud"
                                else q.filter(routers_total__gt=0) if v == "ncm" else q),
    }
    columns = [
        Column("name", "Tenant", value="name", order_by="name", render=_tenant_link, css="nowrap"),
        *([] if customer else [
            Column("organization", "Organization", value="organization.name", order_by="organization__name", priority=2)]),
        Column("routers", "Routers", value="routers_total", order_by="routers_total", css="num", clickable=False),
        Column("vendors", "Vendors", value=_vendors, clickable=False,
               render=lambda t: format_html('<span data-vendors="{}">{}</span>', _vendors(t), _vendors(t) or "—")),
        # Shown when chosen in "Columns" (the Vendors column says which tenants have any): at 1440 px the table
        # must not scroll sideways.
        Column("eccloud", "IgniteNet devices", value="eccloud_devices", order_by="eccloud_devices", css="num",
               clickable=False, priority=3),
        Column("online", "Routers online", value="routers_online", order_by="routers_online", css="num", clickable=False),
        Column("offline", "Routers offline", value="routers_offline", order_by="routers_offline", css="num",
               render=_num("routers_offline", True), clickable=False),
        # The same figure as the tenant dashboard's "Open alerts" and `open` in /api/v1/alerts/counts/.
        Column("alerts", "Open alerts", value="alerts_open", order_by="alerts_open", css="num",
               render=_num("alerts_open", True), clickable=False),
        Column("poor", "Modems in poor health", value="modems_poor", order_by="modems_poor", css="num",
               render=_num("modems_poor", True), clickable=False),
        Column("sync", "Last sync", value=lambda t: t.last_synced_at.isoformat() if t.last_synced_at else "never",
               order_by="last_synced_at", render=_sync_cell, clickable=False, css="nowrap"),
        Column("status", "Sync status", value="sync_status", order_by="sync_status", export=True,
               render=lambda t: badge(t.sync_status, t.get_sync_status_display()), priority=2),
        Column("stale", "Stale", value=lambda t: "yes" if selectors.is_stale(t) else "no", export=True, clickable=False,
               render=lambda t: format_html('<span class="badge warn" title="No successful sync for over two intervals">stale</span>')
               if selectors.is_stale(t) else format_html('<span class="badge ok">fresh</span>')),
        Column("error", "Last error", value="sync_error", priority=3,
               render=lambda t: format_html('<span class="error">{}</span>', t.sync_error[:160]) if t.sync_error else ""),
    ]
    table = DataTable(
        request, qs, columns, table_id="tenants-table", title="Your tenants" if customer else "MSP overview",
        export_name="tenants" if customer else "msp-overview",
        search_fields=["name", "slug", "organization__name"], default_sort="name", filters=filters,
        groupings=[*([] if customer else [Grouping("organization", "Organization", "organization__name")]),
                   Grouping("status", "Sync status", "sync_status")],
        empty_message="No tenants in your scope yet. An organization admin adds tenants and gives you a membership.",
    )
    export = table.export_response()
    if export:
        return export
    base = selectors.overview_tenants(request.user)
    stale_count = base.filter(selectors.stale_q()).count()
    totals = overview_totals(base)
    af = table.active_filters
    cards = [
        {"label": "Tenants", "value": base.count(), "url": "?", "active": not af, "css": "primary", "key": "all"},
        {"label": "Routers online", "value": totals["online"], "url": "?", "active": False, "css": "ok", "key": "online",
         "hint": "Routers (not modems) online in every tenant you can see"},
        {"label": "Tenants with offline routers", "value": totals["tenants_offline"], "url": "?offline=1",
         "active": af.get("offline") == "1", "css": "bad", "key": "offline",
         "hint": f"{plural(totals['offline'], 'router')} offline"},
        {"label": "Open alerts", "value": totals["alerts"], "url": "?alerting=1",
         "active": af.get("alerting") == "1", "css": "warn", "key": "alerting",
         "hint": f"Problems nobody has acknowledged, in {totals['tenants_alerting']} tenants (events such as a router "
                 "coming online are not open alerts). Click to list those tenants."},
        {"label": "Tenants with modems in poor health", "value": totals["tenants_poor"], "url": "?poor=1",
         "active": af.get("poor") == "1", "css": "warn", "key": "poor"},
        {"label": "Stale data", "value": stale_count, "url": "?stale=1", "active": af.get("stale") == "1", "css": "warn", "key": "stale"},
        {"label": "Sync failed", "value": base.filter(sync_status=SyncStatus.FAILED).count(), "url": "?status=failed",
         "active": af.get("status") == "failed", "css": "bad", "key": "failed"},
    ]
    history = {} if request.headers.get("HX-Request") else overview_history_context(request.user)
    return render(request, "ui/overview.html", {"table": table, "cards": cards, "noun": "tenants", "customer": customer,
                                                 **history,
                                                 **selectors.first_sync_notice(request, base)})


@login_required
def tenant_switch(request):
    tenant_id = request.GET.get("tenant")
    if tenant_id and tenant_id.isdigit() and Tenant.objects.for_user(request.user, Action.VIEW).filter(pk=tenant_id).exists():
        return redirect("ui:tenant-dashboard", tenant_id=int(tenant_id))
    return redirect("ui:overview")
