"""Admin base: the same `for_user` scoping as the API for non-superuser staff, and audit of every change."""
from __future__ import annotations

from django.apps import apps
from django.contrib import admin
from django.db import transaction

from portal.audit import AuditAction, record_change, snapshot, was_recorded
from portal.authorization import ScopeDenied, actions_on
from portal.roles import Action

__all__ = ["TenantScopedAdmin", "ReadOnlyAdminMixin"]


class TenantScopedAdmin(admin.ModelAdmin):
    """ModelAdmin whose rows, foreign-key choices and permissions follow the caller's roles."""

    write_action = Action.CHANGE
    read_action = Action.VIEW

    def get_queryset(self, request):
        return super().get_queryset(request).for_user(request.user, self.read_action)

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        related = db_field.related_model._default_manager
        if hasattr(related.all(), "for_user"):
            kwargs["queryset"] = related.all().for_user(request.user, Action.VIEW)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def _may_write(self, request, obj=None) -> bool:
        if request.user.is_superuser:
            return True
        qs = self.model._default_manager.all().for_user(request.user, self.write_action)
        return qs.filter(pk=obj.pk).exists() if obj is not None else qs.exists() or self.model.__name__ == "Tenant"

    def has_view_permission(self, request, obj=None):
        return request.user.is_active and request.user.is_staff

    def has_module_permission(self, request):
        return request.user.is_active and request.user.is_staff

    def has_change_permission(self, request, obj=None):
        return request.user.is_staff and self._may_write(request, obj)

    def has_add_permission(self, request):
        return request.user.is_staff and self._may_write(request)

    def has_delete_permission(self, request, obj=None):
        return request.user.is_staff and self._may_write(request, obj)

    def authorize_targets(self, request, cleaned_data: dict) -> None:
        """Refuse, before saving, a form naming an organization or tenant the caller may not write to."""
        if request.user.is_superuser:
            return
        Organization, Tenant = apps.get_model("accounts", "Organization"), apps.get_model("accounts", "Tenant")
        for value in cleaned_data.values():
            if isinstance(value, Organization) and self.write_action not in actions_on(request.user, organization=value):
                raise ScopeDenied(f"Your role does not allow '{self.write_action}' on {value}.")
            if isinstance(value, Tenant) and self.write_action not in actions_on(request.user, tenant=value):
                raise ScopeDenied(f"Your role does not allow '{self.write_action}' on {value}.")

    def save_object(self, request, obj, form, change) -> None:
        """Hook: save through the app's service (defaults to the model's save)."""
        super().save_model(request, obj, form, change)

    def save_model(self, request, obj, form, change):
        self.authorize_targets(request, form.cleaned_data)
        with transaction.atomic():
            before = snapshot(type(obj).objects.get(pk=obj.pk)) if change and obj.pk else None
            self.save_object(request, obj, form, change)
            if not request.user.is_superuser and not self._may_write(request, obj):
                raise PermissionError("This change would put the object outside what you may manage.")
            action = AuditAction.UPDATE if change else AuditAction.CREATE
            if not was_recorded(obj, action):  # a service that audits itself already did
                record_change(actor=request.user, action=action, instance=obj, before=before, after=snapshot(obj))

    def delete_object(self, request, obj) -> None:
        """Hook: delete through the app's service (defaults to the model's delete)."""
        super().delete_model(request, obj)

    def delete_model(self, request, obj):
        with transaction.atomic():
            before, pk = snapshot(obj), obj.pk
            self.delete_object(request, obj)
            obj.pk = obj.pk or pk
            if not was_recorded(obj, AuditAction.DELETE):
                record_change(actor=request.user, action=AuditAction.DELETE, instance=obj, before=before)

    def delete_queryset(self, request, queryset):
        for obj in queryset:
            self.delete_model(request, obj)


class ReadOnlyAdminMixin:
    """For rows nobody edits by hand (audit events, mirrored NCM data): view only."""

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
