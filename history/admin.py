"""Admin: history rows, read-only (NCM is the source of truth), scoped like the API."""
from django.contrib import admin

from history.models import Cursor, Report, ReportSchedule, Rollup, SignalSample, StateSample, UsageSample
from portal.admin import ReadOnlyAdminMixin, TenantScopedAdmin


class ReadOnlyHistoryAdmin(ReadOnlyAdminMixin, TenantScopedAdmin):
    list_filter = ("tenant",)
    list_select_related = ("tenant",)
    show_full_result_count = False
    date_hierarchy = "created_at"


@admin.register(SignalSample)
class SignalSampleAdmin(ReadOnlyHistoryAdmin):
    list_display = ("created_at", "tenant", "net_device", "rsrp", "rsrq", "sinr", "signal_percent")


@admin.register(UsageSample)
class UsageSampleAdmin(ReadOnlyHistoryAdmin):
    list_display = ("created_at", "tenant", "net_device", "bytes_in", "bytes_out", "period")


@admin.register(StateSample)
class StateSampleAdmin(ReadOnlyHistoryAdmin):
    list_display = ("created_at", "tenant", "router", "state", "period")


@admin.register(Rollup)
class RollupAdmin(ReadOnlyHistoryAdmin):
    list_display = ("bucket", "tenant", "kind", "period", "device_id", "samples", "bytes_in", "bytes_out", "rsrp",
                    "online_seconds")
    list_filter = ("tenant", "kind", "period")
    date_hierarchy = "bucket"


@admin.register(Cursor)
class CursorAdmin(ReadOnlyHistoryAdmin):
    list_display = ("tenant", "kind", "device_id", "cursor_at", "covered_from", "updated_at")
    list_filter = ("tenant", "kind")
    date_hierarchy = None


@admin.register(ReportSchedule)
class ReportScheduleAdmin(TenantScopedAdmin):
    list_display = ("tenant", "frequency", "enabled", "next_run_at")
    list_filter = ("frequency", "enabled")
    fields = ("tenant", "frequency", "recipients", "enabled", "next_run_at")
    readonly_fields = ("next_run_at",)

    def save_object(self, request, obj, form, change):
        from history.reports import report_schedule_save

        saved = report_schedule_save(actor=request.user, tenant=obj.tenant, frequency=obj.frequency,
                                     recipients=obj.recipients, enabled=obj.enabled,
                                     schedule=ReportSchedule.objects.get(pk=obj.pk) if change else None)
        obj.pk, obj.next_run_at = saved.pk, saved.next_run_at

    def delete_object(self, request, obj):
        from history.reports import report_schedule_delete

        report_schedule_delete(actor=request.user, schedule=obj)


@admin.register(Report)
class ReportAdmin(ReadOnlyAdminMixin, TenantScopedAdmin):
    list_display = ("created_at", "tenant", "frequency", "period_start", "status", "sent_at")
    list_filter = ("tenant", "frequency", "status")
    exclude = ("pdf",)
