"""A tenant's scheduled reports: the report history with PDF downloads, and the schedules (history app)."""
from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST
from django.utils.html import format_html
from django.urls import reverse

from history.models import Report, ReportFrequency, ReportSchedule
from history.reports import report_schedule_delete, report_schedule_save
from portal.authorization import ScopeDenied
from portal.roles import Action
from ui.access import tenant_or_404
from ui.tables import Column, DataTable, when_column
from ui.templatetags.ui import badge
from ui.views.tenant import tenant_context


@login_required
def reports(request, tenant_id):
    tenant = tenant_or_404(request, tenant_id)
    qs = Report.objects.for_user(request.user).filter(tenant=tenant).defer("pdf")

    def download(r):
        return format_html('<a href="{}" hx-boost="false">PDF</a>', reverse("ui:report-download", args=[tenant.pk, r.pk]))

    columns = [
        when_column("created", "Generated", "created_at", order_by="created_at"),
        Column("frequency", "Frequency", value="frequency", order_by="frequency"),
        Column("period", "Period (UTC)", value=lambda r: f"{r.period_start:%Y-%m-%d} – {r.period_end:%Y-%m-%d}", order_by="period_start"),
        Column("status", "Status", value="status", order_by="status", render=lambda r: badge(r.status, r.get_status_display())),
        Column("to", "Sent to", value=lambda r: ", ".join(r.recipients or []), priority=2),
        Column("uptime", "Uptime %", value=lambda r: (r.figures or {}).get("uptime", {}).get("percent"), css="num", clickable=False),
        Column("download", "Download", value=lambda r: "", render=download, clickable=False, export=False),
    ]
    table = DataTable(request, qs, columns, table_id="reports-table", title=f"{tenant.name}: reports",
                      export_name=f"{tenant.slug}-reports", search_fields=["status", "frequency"], default_sort="-created",
                      empty_message="No reports yet. A schedule (API /api/v1/report-schedules/ or the admin) sends one "
                                    "every week or month.")
    export = table.export_response()
    if export:
        return export
    schedules = ReportSchedule.objects.for_user(request.user).filter(tenant=tenant)
    return render(request, "ui/tenant/reports.html", tenant_context(
        request, tenant, table=table, schedules=schedules, frequencies=ReportFrequency.choices))


@login_required
@require_POST
def report_schedule_add(request, tenant_id):
    """Add a schedule (needs `change` on the tenant: the service authorizes and audits)."""
    tenant = tenant_or_404(request, tenant_id)
    try:
        report_schedule_save(actor=request.user, tenant=tenant, frequency=request.POST.get("frequency", ""),
                             recipients=request.POST.get("recipients", ""), enabled=True)
    except ValidationError as exc:
        messages.error(request, " ".join(m for msgs in exc.message_dict.values() for m in msgs))
    except ScopeDenied as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, "Report scheduled.")
    return redirect("ui:reports", tenant_id=tenant.pk)


@login_required
@require_POST
def report_schedule_remove(request, tenant_id, schedule_id):
    tenant = tenant_or_404(request, tenant_id)
    schedule = get_object_or_404(ReportSchedule.objects.for_user(request.user, Action.VIEW).filter(tenant=tenant),
                                 pk=schedule_id)
    try:
        report_schedule_delete(actor=request.user, schedule=schedule)
    except ScopeDenied as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, "Schedule removed.")
    return redirect("ui:reports", tenant_id=tenant.pk)


@login_required
def report_download(request, tenant_id, report_id):
    tenant = tenant_or_404(request, tenant_id)
    report = get_object_or_404(Report.objects.for_user(request.user).filter(tenant=tenant), pk=report_id)
    response = HttpResponse(bytes(report.pdf), content_type="application/pdf")
    response["Content-Disposition"] = f'attachment; filename="{report.filename}"'
    response["Cache-Control"] = "private, no-store"
    return response
