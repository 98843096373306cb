"""A tenant's weekly maintenance windows (in the tenant's time zone): everyone in scope reads them, roles with
`change` create, edit and delete them (audited as "ui", re-checked after each save)."""
from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html
from django.views.decorators.http import require_POST

from accounts.roles import Action
from jobs import services as job_services
from jobs.models import MaintenanceWindow
from jobs.services import next_window_start
from ui.access import TenantPermissions, require, tenant_or_404
from ui.forms import WEEKDAYS, MaintenanceWindowForm
from ui.tables import Column, DataTable
from ui.views.tenant import tenant_context

DAY_NAMES = dict(WEEKDAYS)


def _ends(w: MaintenanceWindow) -> str:
    end = datetime.combine(datetime(2000, 1, 3).date(), w.start_time) + timedelta(days=w.weekday, minutes=w.duration_minutes)
    return f"{DAY_NAMES[end.weekday()]} {end:%H:%M}"


def _hours(minutes: int) -> str:
    h, m = divmod(minutes, 60)
    return f"{h} h {m:02d} min" if h and m else f"{h} h" if h else f"{m} min"


@login_required
def maintenance_windows(request, tenant_id):
    tenant = tenant_or_404(request, tenant_id)
    perms = TenantPermissions(request.user, tenant)
    qs = MaintenanceWindow.objects.for_user(request.user).filter(tenant=tenant)
    can_change = perms.allows(Action.CHANGE)
    form = MaintenanceWindowForm(request.POST or None, tenant=tenant)
    if request.method == "POST":
        require(perms, Action.CHANGE)
        if form.is_valid():
            window = job_services.maintenance_window_save(actor=request.user, tenant=tenant, **form.cleaned_data)
            messages.success(request, f"Maintenance window “{window}” added: {DAY_NAMES[window.weekday]} {window.start_time:%H:%M} ({tenant.timezone}).")
            return redirect("ui:maintenance", tenant_id=tenant.pk)
    columns = [
        Column("name", "Name", value=lambda w: str(w), order_by="name",
               render=(lambda w: format_html('<a href="{}">{}</a>', reverse("ui:maintenance-edit", args=[tenant.pk, w.pk]), w))
               if can_change else None),
        Column("weekday", "Day", value=lambda w: DAY_NAMES.get(w.weekday, w.weekday), order_by="weekday"),
        Column("start", f"Starts ({tenant.timezone})", value=lambda w: w.start_time.strftime("%H:%M"), order_by="start_time", clickable=False),
        Column("duration", "Duration", value=lambda w: _hours(w.duration_minutes), order_by="duration_minutes", clickable=False),
        Column("ends", "Ends", value=_ends, clickable=False),
        Column("enabled", "Enabled", value=lambda w: "yes" if w.enabled else "no", order_by="enabled",
               render=lambda w: format_html('<span class="badge ok">enabled</span>') if w.enabled else format_html('<span class="badge">off</span>')),
    ]
    table = DataTable(
        request, qs, columns, table_id="windows-table", title=f"{tenant.name}: maintenance windows",
        export_name=f"{tenant.slug}-maintenance-windows", search_fields=["name"], default_sort="weekday",
        empty_message="No maintenance windows: jobs set to wait for a window cannot be scheduled on this tenant.",
    )
    export = table.export_response()
    if export:
        return export
    now = timezone.now()
    next_start = next_window_start(tenant, now)
    return render(request, "ui/tenant/maintenance.html", tenant_context(
        request, tenant, table=table, noun="windows", form=form if can_change else None, can_change=can_change,
        next_start=next_start.astimezone(ZoneInfo(tenant.timezone)) if next_start else None, open_now=bool(next_start and next_start <= now),
    ), status=400 if request.method == "POST" else 200)


def _window_or_404(request, tenant, window_id) -> MaintenanceWindow:
    return get_object_or_404(MaintenanceWindow.objects.for_user(request.user).filter(tenant=tenant), pk=window_id)


@login_required
def maintenance_edit(request, tenant_id, window_id):
    tenant = tenant_or_404(request, tenant_id)
    window = _window_or_404(request, tenant, window_id)
    require(TenantPermissions(request.user, tenant), Action.CHANGE)
    form = MaintenanceWindowForm(request.POST or None, instance=window, tenant=tenant)
    if request.method == "POST" and form.is_valid():
        window = job_services.maintenance_window_save(actor=request.user, tenant=tenant,
                                                      window=MaintenanceWindow.objects.get(pk=window.pk), **form.cleaned_data)
        messages.success(request, f"Maintenance window “{window}” saved.")
        return redirect("ui:maintenance", tenant_id=tenant.pk)
    return render(request, "ui/tenant/maintenance_edit.html", tenant_context(request, tenant, window=window, form=form),
                  status=400 if request.method == "POST" else 200)


@login_required
@require_POST
def maintenance_delete(request, tenant_id, window_id):
    tenant = tenant_or_404(request, tenant_id)
    window = _window_or_404(request, tenant, window_id)
    require(TenantPermissions(request.user, tenant), Action.CHANGE)
    name = str(window)
    job_services.maintenance_window_delete(actor=request.user, window=window)
    messages.success(request, f"Maintenance window “{name}” deleted.")
    return redirect("ui:maintenance", tenant_id=tenant.pk)
