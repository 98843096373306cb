from django.contrib import admin

from jobs.models import Job, JobItem, MaintenanceWindow
from portal.admin import TenantScopedAdmin


class JobItemInline(admin.TabularInline):
    model = JobItem
    fields = ["router", "group", "status", "error", "dispatched_at", "finished_at"]
    readonly_fields = fields
    extra = 0
    can_delete = False
    show_change_link = False


@admin.register(Job)
class JobAdmin(TenantScopedAdmin):
    list_display = ["id", "tenant", "kind", "status", "created_by", "created_at", "finished_at"]
    list_filter = ["kind", "status"]
    readonly_fields = [f.name for f in Job._meta.fields]
    inlines = [JobItemInline]

    def has_add_permission(self, request):
        return False  # jobs are created through the API or UI, which validate targets and roles


@admin.register(MaintenanceWindow)
class MaintenanceWindowAdmin(TenantScopedAdmin):
    list_display = ["tenant", "name", "weekday", "start_time", "duration_minutes", "enabled"]
