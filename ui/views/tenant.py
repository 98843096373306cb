"""Tenant pages: router dashboard, cellular health, router detail, alerts, sync runs (+ sync now)."""
from __future__ import annotations

from django.contrib import messages
from datetime import timedelta, timezone as dt_timezone

from django.contrib.auth.decorators import login_required
from django.http import QueryDict
from django.middleware.csrf import get_token
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.utils.http import url_has_allowed_host_and_scheme
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.html import format_html
from django.views.decorators.http import require_POST

from accounts.models import Tenant
from accounts.roles import Action
from ncm_sync import selectors as ncm
from ncm_sync.filtersets import AlertFilterSet, NetDeviceFilterSet, RouterFilterSet
from ncm_sync.models import SyncRun
from ncm_sync.services.alerts import BULK_ACKNOWLEDGE_LIMIT, alert_acknowledge, alert_unacknowledge, alerts_acknowledge
from ncm_sync.services.configuration import refresh_configuration_managers
from ui import features, mirror
from ui.access import TenantPermissions, require, tenant_or_404
from ui.history import router_history_context, tenant_history_context
from ui.selectors import filterset_filters, first_sync_notice
from ui.humanize import exact, relative, when
from ui.tables import Column, DataTable, Grouping, when_column
from ui.templatetags.ui import badge


def tenant_context(request, tenant, **extra):
    return {"tenant": tenant, "can": TenantPermissions(request.user, tenant), **extra}


def _card(label, value, url, active, css, key):
    return {"label": label, "value": value, "url": url, "active": active, "css": css, "key": key}


#
# Router dashboard
#
def _router_link(tenant):
    def render(r):
        return format_html('<a href="{}">{}</a>', reverse("ui:router-detail", args=[tenant.pk, r.pk]), r.name or r.ncm_id)
    return render


def _firmware_cell(r):
    if r.firmware_outdated:
        return format_html('{} <span class="badge warn" title="Target: {}">out of date</span>', r.firmware or "—",
                           (r.group.firmware if r.group_id else "") or "NCM target")
    return format_html("{}", r.firmware or "—")


ROUTER_STATES = {"online", "offline", "initialized"}


@login_required
def tenant_dashboard(request, tenant_id):
    tenant = tenant_or_404(request, tenant_id)
    routers = ncm.routers_for(request.user, tenant)
    # The API's filters (RouterFilterSet), under the page's parameter names.
    filters = filterset_filters(RouterFilterSet, {
        "state": "state", "alerting": "has_open_alerts", "outdated": "firmware_outdated", "in_group": "group",
    })
    columns = [
        Column("name", "Name", value=lambda r: r.name or r.ncm_id, order_by="name", render=_router_link(tenant), css="nowrap"),
        Column("state", "State", value="state", order_by="state", render=lambda r: badge(r.state)),
        Column("product", "Product", value="product", order_by="product", priority=2, css="nowrap"),
        Column("firmware", "Firmware", value="firmware", order_by="firmware", render=_firmware_cell),
        Column("outdated", "Firmware out of date", value=lambda r: "yes" if r.firmware_outdated else "no", priority=3, clickable=False,
               render=lambda r: format_html('<span class="badge warn">yes</span>') if r.firmware_outdated else "no"),
        Column("group", "Group", value="group.name", order_by="group__name", css="nowrap"),
        Column("serial", "Serial", value="serial_number", order_by="serial_number", priority=2),
        Column("mac", "MAC", value="mac", order_by="mac", priority=3),
        Column("ip", "IPv4", value="ipv4_address", order_by="ipv4_address", priority=2),
        Column("alerts", "Open alerts", value="open_alerts", order_by="open_alerts", css="num", clickable=False,
               render=lambda r: format_html('<a class="badge bad" href="{}?status=open&amp;router={}">{}</a>',
                                            reverse("ui:alerts", args=[tenant.pk]), r.pk, r.open_alerts) if r.open_alerts else "0"),
        when_column("since", "State since", "state_updated_at", order_by="state_updated_at", never="—", priority=2),
        Column("ncm_id", "NCM id", value="ncm_id", order_by="ncm_id", priority=3),
    ]
    table = DataTable(
        request, routers, columns, table_id="routers-table", title=f"{tenant.name}: routers",
        export_name=f"{tenant.slug}-routers",
        search_fields=["name", "serial_number", "mac", "product", "firmware", "group__name", "ipv4_address", "ncm_id"],
        default_sort="name", filters=filters,
        groupings=[Grouping("group", "Group", "group__name"), Grouping("product", "Product", "product"),
                   Grouping("firmware", "Firmware", "firmware"), Grouping("state", "State", "state")],
        empty_message="No routers mirrored yet. Run a sync to fetch this tenant's fleet from NCM.",
    )
    export = table.export_response()
    if export:
        return export
    f = ncm.router_figures(routers)
    af = table.active_filters
    open_alerts = ncm.alerts_for(request.user, tenant).filter(ncm.open_alert_q()).count()
    cards = [
        _card("Routers", f["total"], "?", not af, "primary", "total"),
        _card("Routers online", f["online"], "?state=online", af.get("state") == "online", "ok", "online"),
        _card("Routers offline", f["offline"], "?state=offline", af.get("state") == "offline", "bad", "offline"),
        _card("Routers with open alerts", f["alerting"], "?alerting=1", af.get("alerting") == "1", "warn", "alerting"),
        _card("Routers with firmware out of date", f["outdated"], "?outdated=1", af.get("outdated") == "1", "info", "outdated"),
        # The same figure as the MSP overview's "Open alerts" and `open` in /api/v1/alerts/counts/.
        {**_card("Open alerts", open_alerts, reverse("ui:alerts", args=[tenant.pk]) + "?status=open", False, "warn",
                 "open-alerts"), "page": True,
         "hint": "Problems nobody has acknowledged (events such as a router coming online are not open alerts)"},
    ]
    # The tenant's other vendor (devices app): its access points are one click away, on "All devices".
    from devices.selectors import devices_for

    eccloud = devices_for(request.user, tenant).filter(provider="eccloud").count()
    if eccloud:
        cards.append({**_card("IgniteNet devices", eccloud, reverse("ui:devices", args=[tenant.pk]) + "?vendor=eccloud",
                              False, "info", "eccloud-devices"), "page": True,
                      "hint": "ecCloud access points of this tenant, beside its routers on “All devices”"})
    last_run = SyncRun.objects.for_user(request.user).filter(tenant=tenant).first()
    return render(request, "ui/tenant/dashboard.html", tenant_context(
        request, tenant, table=table, cards=cards, noun="routers", last_run=last_run,
        jobs_enabled=features.jobs_enabled(),
        **({} if request.headers.get("HX-Request") else tenant_history_context(request.user, tenant)),
        **first_sync_notice(request, Tenant.objects.for_user(request.user).filter(pk=tenant.pk))))


#
# Cellular health
#
def _band_cell(m):
    return format_html('<span class="band {}"></span><span class="health-{}">{}</span>', m.band, m.band, m.band.title())


def _ncm_time(raw):
    """NCM's own timestamp strings (e.g. `update_ts`) as people read them; unparseable ones as given."""
    moment = parse_datetime(raw) if isinstance(raw, str) and raw else raw
    if moment is None or isinstance(moment, str):
        return raw or format_html('<span class="muted">—</span>')
    if timezone.is_naive(moment):
        moment = moment.replace(tzinfo=dt_timezone.utc)
    return when(moment)


def _fmt(value, unit=""):
    return "" if value is None else f"{value:g}{unit}" if isinstance(value, float) else f"{value}{unit}"


@login_required
def cellular(request, tenant_id):
    tenant = tenant_or_404(request, tenant_id)
    modems = ncm.modems_for(request.user, tenant)
    filters = {
        # "band" is the page's own figure (NCM's category, else signal strength); the rest are the API's filters.
        "band": lambda q, v: q.filter(band=v) if v in (*ncm.HEALTH_BANDS, "unknown") else q,
        **filterset_filters(NetDeviceFilterSet, {"state": "router_state", "carrier": "carrier"}),
    }
    columns = [
        Column("device", "Device", value=lambda m: (m.router.name if m.router_id else "") or m.name, order_by="router__name",
               render=lambda m: format_html('<a href="{}">{}</a>', reverse("ui:router-detail", args=[tenant.pk, m.router_id]),
                                            m.router.name or m.router.ncm_id) if m.router_id else m.name),
        Column("status", "Status", value="router.state", order_by="router__state", render=lambda m: badge(m.router.state if m.router_id else "")),
        Column("model", "Model", value="router.product", order_by="router__product", priority=2),
        Column("interface", "Interface", value="name", order_by="name", priority=3),
        Column("carrier", "Carrier", value="carrier", order_by="carrier"),
        Column("health", "Health", value="band", order_by="band", render=_band_cell),
        Column("score", "Score", value="health_score", order_by="health_score", css="num", clickable=False),
        Column("rssi", "RSSI (dBm)", value="rssi", order_by="rssi", css="num", clickable=False, priority=3),
        Column("rsrp", "RSRP (dBm)", value=lambda m: _fmt(m.rsrp), order_by="rsrp", css="num", clickable=False, priority=2),
        Column("rsrq", "RSRQ (dB)", value=lambda m: _fmt(m.rsrq), order_by="rsrq", css="num", clickable=False, priority=3),
        Column("sinr", "SINR (dB)", value=lambda m: _fmt(m.sinr), order_by="sinr", css="num", clickable=False, priority=2),
        Column("signal", "Signal %", value="signal_strength", order_by="signal_strength", css="num", clickable=False, priority=2),
        Column("connection", "Connection", value="connection_state", order_by="connection_state", priority=2),
        Column("updated", "Last updated", value="metrics_updated", order_by="metrics_updated", clickable=False,
               render=lambda m: _ncm_time(m.metrics_updated), css="nowrap", priority=2),
    ]
    table = DataTable(
        request, modems, columns, table_id="modems-table", title=f"{tenant.name}: cellular health",
        export_name=f"{tenant.slug}-cellular-health",
        search_fields=["router__name", "name", "carrier", "router__product", "imei", "iccid", "connection_state"],
        default_sort="device", filters=filters,
        groupings=[Grouping("carrier", "Carrier", "carrier"), Grouping("band", "Health", "band"),
                   Grouping("model", "Model", "router__product")],
        empty_message="No cellular modems mirrored for this tenant yet.",
    )
    export = table.export_response()
    if export:
        return export
    f = ncm.modem_figures(modems)
    af = table.active_filters
    # Every card counts modems (a router may have several), never routers: the labels say so.
    cards = [
        _card("Modems", f["total"], "?", not af, "primary", "total"),
        _card("Modems on online routers", f["online"], "?state=online", af.get("state") == "online", "ok", "online"),
        _card("Modems on offline routers", f["offline"], "?state=offline", af.get("state") == "offline", "bad", "offline"),
        _card("Modems in excellent health", f["excellent"], "?band=excellent", af.get("band") == "excellent", "ok", "excellent"),
        _card("Modems in good health", f["good"], "?band=good", af.get("band") == "good", "info", "good"),
        _card("Modems in fair health", f["fair"], "?band=fair", af.get("band") == "fair", "warn", "fair"),
        _card("Modems in poor health", f["poor"], "?band=poor", af.get("band") == "poor", "bad", "poor"),
    ]
    return render(request, "ui/tenant/cellular.html", tenant_context(request, tenant, table=table, cards=cards, noun="modems"))


#
# Router detail
#
@login_required
def router_detail(request, tenant_id, router_id):
    tenant = tenant_or_404(request, tenant_id)
    router = get_object_or_404(ncm.routers_for(request.user, tenant), pk=router_id)
    modems = list(ncm.modems_for(request.user, tenant, router=router))
    alerts = [_with_words(a) for a in ncm.alerts_for(request.user, tenant).filter(router=router).order_by("-ncm_created_at", "-id")[:50]]
    job_items = []
    if features.jobs_enabled():
        from jobs.models import JobItem

        job_items = list(JobItem.objects.for_user(request.user).filter(router=router).select_related("job").order_by("-id")[:25])
    context = tenant_context(
        request, tenant, router=router, modems=modems, alerts=alerts, location=ncm.latest_location(router),
        config_notice=refresh_configuration_managers(tenant=tenant, routers=[router]).message,
        config=mirror.configuration_layers(router), job_items=job_items, jobs_enabled=features.jobs_enabled(),
        other_interfaces=router.net_devices.filter(deleted_at__isnull=True).exclude(type="mdm"),
        **router_history_context(request, router),
    )
    return render(request, "ui/tenant/router_detail.html", context)


#
# Alerts
#
def _with_words(alert):
    alert.type_label = ncm.alert_type_label(alert.type, (alert.data or {}).get("info"))
    alert.status = ncm.alert_status(alert)
    return alert


STATUS_BADGE = {"open": "bad", "acknowledged": "ok", "event": "info"}


def _status_cell(a):
    status = ncm.alert_status(a)
    label = ncm.ALERT_STATUSES[status]
    if status == "acknowledged":
        by = a.acknowledged_by.username if a.acknowledged_by_id and a.acknowledged_by else "someone"
        return format_html('<span class="badge {}" title="by {}, {} ({})">{}</span>', STATUS_BADGE[status], by,
                           relative(a.acknowledged_at), exact(a.acknowledged_at), label)
    return format_html('<span class="badge {}">{}</span>', STATUS_BADGE[status], label)


def _alert_action_cell(request, tenant, can_change):
    def render(a):
        if not can_change:
            return ""
        acked = a.acknowledged_at is not None
        url = reverse("ui:alert-reopen" if acked else "ui:alert-acknowledge", args=[tenant.pk, a.pk])
        return format_html(
            '<form method="post" action="{}" hx-boost="false" class="inline">'
            '<input type="hidden" name="csrfmiddlewaretoken" value="{}"><input type="hidden" name="next" value="{}">'
            '<button class="btn small" type="submit" data-alert-action="{}">{}</button></form>',
            url, get_token(request), request.get_full_path(), "reopen" if acked else "acknowledge",
            "Reopen" if acked else "Acknowledge",
        )
    return render


def _alerts_table(request, tenant, can_change) -> DataTable:
    """The alerts table of a tenant with the request's search and filters (the page and its bulk action)."""
    qs = ncm.alerts_for(request.user, tenant).select_related("acknowledged_by")
    columns = [
        when_column("created", "When", "ncm_created_at", order_by="ncm_created_at", never="—"),
        Column("type", "Type", value=lambda a: ncm.alert_type_label(a.type, (a.data or {}).get("info")), order_by="type",
               render=lambda a: format_html('<span title="NCM type: {}">{}</span>', a.type,
                                            ncm.alert_type_label(a.type, (a.data or {}).get("info"))), clickable=False),
        Column("status", "Status", value=lambda a: ncm.alert_status(a), order_by="acknowledged_at", render=_status_cell,
               clickable=False),
        Column("router", "Router", value="router.name", order_by="router__name",
               render=lambda a: format_html('<a href="{}">{}</a>', reverse("ui:router-detail", args=[tenant.pk, a.router_id]), a.router.name or a.router.ncm_id) if a.router_id else ""),
        Column("info", "Details", value="friendly_info"),
        Column("action", "", value=None, render=_alert_action_cell(request, tenant, can_change), export=False,
               clickable=False),
    ]
    # The API's filters (AlertFilterSet): ?status=open|acknowledged|event, ?type=, ?router=.
    filters = filterset_filters(AlertFilterSet, ["status", "type", "router"])
    filters["recent"] = lambda q, v: q.filter(ncm_created_at__gte=timezone.now() - RECENT) if v == "1" else q
    return DataTable(
        request, qs, columns, table_id="alerts-table", title=f"{tenant.name}: alerts", export_name=f"{tenant.slug}-alerts",
        search_fields=["type", "friendly_info", "router__name"], default_sort="-created",
        filters=filters,
        groupings=[Grouping("type", "Type", "type", display=lambda t: ncm.alert_type_label(t)),
                   Grouping("router", "Router", "router__name")],
        empty_message="No alerts mirrored for this tenant.",
    )


@login_required
def alerts(request, tenant_id):
    tenant = tenant_or_404(request, tenant_id)
    can_change = TenantPermissions(request.user, tenant).allows(Action.CHANGE)
    table = _alerts_table(request, tenant, can_change)
    export = table.export_response()
    if export:
        return export
    counts = (ncm.alert_counts(ncm.alerts_for(request.user, tenant)) or [{"open": 0, "acknowledged": 0, "events": 0, "total": 0}])[0]
    status = table.active_filters.get("status")
    only_status = set(table.active_filters) <= {"status"}
    cards = [
        {**_card("Open alerts", counts["open"], "?status=open", status == "open" and only_status, "bad", "open"),
         "hint": "Problems nobody has acknowledged, whatever their age"},
        _card("Acknowledged", counts["acknowledged"], "?status=acknowledged", status == "acknowledged" and only_status, "ok", "acknowledged"),
        {**_card("Events", counts["events"], "?status=event", status == "event" and only_status, "info", "event"),
         "hint": "Informational (e.g. a router came online): never open"},
        _card("All alerts", counts["total"], "?", not table.active_filters, "primary", "all"),
    ]
    # "Acknowledge all": the open alerts among what the table shows (search and filters), not just this page.
    open_shown = table.filtered().filter(ncm.open_alert_q()).count() if can_change else 0
    return render(request, "ui/tenant/alerts.html", tenant_context(
        request, tenant, table=table, cards=cards, noun="alerts", can_change=can_change, open_shown=open_shown,
        query=request.GET.urlencode(), bulk_limit=BULK_ACKNOWLEDGE_LIMIT))


RECENT = timedelta(hours=24)


def _alert_in_scope(request, tenant_id, alert_id):
    tenant = tenant_or_404(request, tenant_id)
    require(TenantPermissions(request.user, tenant), Action.CHANGE)
    alert = get_object_or_404(ncm.alerts_for(request.user, tenant, Action.CHANGE), pk=alert_id)
    return tenant, alert


def _back(request, tenant):
    target = request.POST.get("next") or ""
    if target and url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}, require_https=request.is_secure()):
        return redirect(target)
    return redirect("ui:alerts", tenant_id=tenant.pk)


@login_required
@require_POST
def alert_acknowledge_view(request, tenant_id, alert_id):
    tenant, alert = _alert_in_scope(request, tenant_id, alert_id)
    if alert.acknowledged_at is None:
        alert_acknowledge(alert=alert, user=request.user, source="ui")
        messages.success(request, f"Alert acknowledged: {ncm.alert_type_label(alert.type, (alert.data or {}).get('info'))}.")
    else:
        messages.info(request, "That alert was already acknowledged.")
    return _back(request, tenant)


@login_required
@require_POST
def alerts_acknowledge_view(request, tenant_id):
    """Acknowledge every open alert the alerts table shows with the posted search and filters (`query`)."""
    tenant = tenant_or_404(request, tenant_id, Action.CHANGE)
    request.GET = QueryDict(request.POST.get("query", ""))
    table = _alerts_table(request, tenant, True)
    scoped = table.filtered().filter(ncm.open_alert_q()).filter(
        pk__in=ncm.alerts_for(request.user, tenant, Action.CHANGE).values("pk"))
    done = alerts_acknowledge(queryset=scoped, user=request.user, source="ui")
    messages.success(request, f"{done} open alert{'s' if done != 1 else ''} acknowledged.")
    target = reverse("ui:alerts", args=[tenant.pk])
    return redirect(f"{target}?{request.GET.urlencode()}" if request.GET else target)


@login_required
@require_POST
def alert_reopen_view(request, tenant_id, alert_id):
    tenant, alert = _alert_in_scope(request, tenant_id, alert_id)
    if alert.acknowledged_at is not None:
        alert_unacknowledge(alert=alert, user=request.user, source="ui")
        messages.success(request, "Alert reopened.")
    return _back(request, tenant)


#
# Sync runs
#
def _run_figures(r):
    return f"+{r.created} ~{r.updated} −{r.deleted} ={r.unchanged}"


@login_required
def sync_runs(request, tenant_id):
    tenant = tenant_or_404(request, tenant_id)
    qs = SyncRun.objects.for_user(request.user).filter(tenant=tenant).select_related("requested_by")
    columns = [
        Column("id", "Run", value="pk", order_by="id", clickable=False),
        when_column("created", "Requested", "created_at", order_by="created_at"),
        Column("trigger", "Trigger", value="trigger", order_by="trigger", priority=2),
        Column("by", "By", value="requested_by.username", priority=2, css="nowrap"),
        Column("status", "Status", value="status", order_by="status", render=lambda r: badge(r.status, r.get_status_display())),
        Column("duration", "Duration (s)", value=lambda r: f"{r.duration:.1f}" if r.duration is not None else "", css="num", clickable=False),
        Column("api_calls", "NCM calls", value="api_calls", order_by="api_calls", css="num", clickable=False),
        Column("created_rows", "Created", value="created", css="num", clickable=False),
        Column("updated_rows", "Updated", value="updated", css="num", clickable=False),
        Column("deleted_rows", "Deleted", value="deleted", css="num", clickable=False),
        Column("unchanged_rows", "Unchanged", value="unchanged", css="num", clickable=False, priority=2),
        Column("error", "Error", value="error", render=lambda r: format_html('<span class="error">{}</span>', r.error[:300]) if r.error else ""),
    ]
    table = DataTable(
        request, qs, columns, table_id="sync-runs-table", title=f"{tenant.name}: sync runs",
        export_name=f"{tenant.slug}-sync-runs", search_fields=["error", "status", "trigger"], default_sort="-created",
        filters={"status": lambda q, v: q.filter(status=v)},
        empty_message="This tenant has never been synced.",
    )
    export = table.export_response()
    if export:
        return export
    # While a run is queued or running, #sync-active polls this page (keeping the table's state) and swaps in the
    # runs table and the "synced … ago" line too; once the run is over it says how it ended and stops polling.
    active = qs.filter(status__in=["queued", "running"]).first()
    watched = None
    watch = request.GET.get("watch") or ""
    if active is None and watch.isdigit():
        watched = qs.filter(pk=int(watch)).first()
    poll_url = ""
    if active is not None:
        params = request.GET.copy()
        params["watch"] = str(active.pk)
        poll_url = f"{request.path}?{params.urlencode()}"
    from ncm_sync.services.runs import dispatcher_last_run, dispatcher_status

    dispatcher = {**dispatcher_status(), "last_run": dispatcher_last_run()}
    return render(request, "ui/tenant/sync_runs.html", tenant_context(
        request, tenant, table=table, active=active, watched=watched, poll_url=poll_url, noun="runs",
        dispatcher=dispatcher))


@login_required
@require_POST
def sync_now(request, tenant_id):
    from ncm_sync.services.runs import request_sync

    tenant = tenant_or_404(request, tenant_id)
    require(TenantPermissions(request.user, tenant), Action.SYNC)
    run, created = request_sync(tenant=tenant, user=request.user)
    if created:
        messages.success(request, f"Sync #{run.pk} queued. This page refreshes while it runs.")
    else:
        messages.info(request, f"Sync #{run.pk} is already {run.status}; it will fetch the latest data.")
    return redirect("ui:sync-runs", tenant_id=tenant.pk)
