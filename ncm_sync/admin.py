"""Admin: the mirror and sync runs, read-only (NCM is the source of truth), scoped like the API."""
from django.contrib import admin

from ncm_sync.models import (
    Account,
    Alert,
    ConfigurationManager,
    Group,
    Location,
    NetDevice,
    NetDeviceHealth,
    NetDeviceMetrics,
    Router,
    SyncRun,
)
from portal.admin import ReadOnlyAdminMixin, TenantScopedAdmin


class ReadOnlyMirrorAdmin(ReadOnlyAdminMixin, TenantScopedAdmin):
    list_display = ("ncm_id", "tenant", "last_seen_at", "deleted_at")
    list_filter = ("tenant",)
    search_fields = ("ncm_id",)
    list_select_related = ("tenant",)
    show_full_result_count = False


@admin.register(Router)
class RouterAdmin(ReadOnlyMirrorAdmin):
    list_display = ("name", "ncm_id", "tenant", "state", "product", "firmware", "serial_number", "mac", "deleted_at")
    list_filter = ("tenant", "state", "product")
    search_fields = ("name", "ncm_id", "serial_number", "mac")


@admin.register(NetDevice)
class NetDeviceAdmin(ReadOnlyMirrorAdmin):
    list_display = ("name", "ncm_id", "tenant", "router", "carrier", "connection_state", "deleted_at")
    list_filter = ("tenant", "carrier", "mode")
    search_fields = ("name", "ncm_id", "serial", "mac", "iccid", "imei")
    list_select_related = ("tenant", "router")


@admin.register(Group)
class GroupAdmin(ReadOnlyMirrorAdmin):
    list_display = ("name", "ncm_id", "tenant", "product", "firmware", "deleted_at")
    search_fields = ("name", "ncm_id")


@admin.register(Account)
class AccountAdmin(ReadOnlyMirrorAdmin):
    list_display = ("name", "ncm_id", "tenant", "deleted_at")
    search_fields = ("name", "ncm_id")


class AcknowledgedFilter(admin.SimpleListFilter):
    title = "acknowledged"
    parameter_name = "acknowledged"

    def lookups(self, request, model_admin):
        return [("no", "Open"), ("yes", "Acknowledged")]

    def queryset(self, request, queryset):
        if self.value() == "no":
            return queryset.filter(acknowledged_at__isnull=True)
        if self.value() == "yes":
            return queryset.filter(acknowledged_at__isnull=False)
        return queryset


@admin.register(Alert)
class AlertAdmin(ReadOnlyMirrorAdmin):
    list_display = ("type", "ncm_id", "tenant", "router", "ncm_created_at", "friendly_info", "acknowledged_at",
                    "acknowledged_by")
    list_filter = ("tenant", AcknowledgedFilter, "type", ("ncm_created_at", admin.DateFieldListFilter))
    list_select_related = ("tenant", "router", "acknowledged_by")
    search_fields = ("ncm_id", "friendly_info", "type")
    date_hierarchy = "ncm_created_at"
    actions = ["acknowledge"]

    @admin.action(description="Acknowledge selected alerts")
    def acknowledge(self, request, queryset):
        from accounts.roles import Action
        from ncm_sync.services.alerts import alert_acknowledge

        allowed = queryset.for_user(request.user, Action.CHANGE).filter(acknowledged_at__isnull=True)
        done = 0
        for alert in allowed:
            alert_acknowledge(alert=alert, user=request.user)
            done += 1
        skipped = queryset.count() - done
        self.message_user(request, f"{done} alert(s) acknowledged" + (f"; {skipped} skipped (already acknowledged "
                          "or outside what you may change)." if skipped else "."))


for model in (Location, NetDeviceHealth, NetDeviceMetrics, ConfigurationManager):
    admin.site.register(model, ReadOnlyMirrorAdmin)


@admin.register(SyncRun)
class SyncRunAdmin(ReadOnlyMirrorAdmin):
    list_display = ("id", "tenant", "status", "trigger", "created_at", "started_at", "finished_at", "api_calls",
                    "created", "updated", "deleted", "unchanged")
    list_filter = ("status", "tenant")
    search_fields = ("error",)
