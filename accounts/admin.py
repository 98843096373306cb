"""Django admin for operators (and scoped staff). Credentials show masked hints only."""
from django import forms
from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin

from accounts import services
from accounts.authorization import ScopeDenied
from accounts.models import SECRET_FIELDS, ApiToken, AuditEvent, Credential, Membership, Organization, Tenant, User
from accounts.roles import Action
from portal.admin import ReadOnlyAdminMixin, TenantScopedAdmin


@admin.register(Organization)
class OrganizationAdmin(TenantScopedAdmin):
    list_display = ["name", "slug", "require_two_factor"]
    search_fields = ["name", "slug"]
    prepopulated_fields = {"slug": ["name"]}
    write_action = Action.MANAGE_USERS


@admin.register(Tenant)
class TenantAdmin(TenantScopedAdmin):
    list_display = ["name", "organization", "timezone", "sync_interval_minutes", "sync_status", "last_synced_at"]
    list_filter = ["sync_status", "organization"]
    search_fields = ["name", "slug"]
    readonly_fields = ["last_synced_at", "sync_status", "sync_error", "next_sync_at"]


# Platform flags: only a superuser (the platform operator) sees or sets them.
PLATFORM_FIELDS = ("is_superuser", "is_staff", "groups", "user_permissions")


@admin.register(User)
class UserAdmin(TenantScopedAdmin, DjangoUserAdmin):
    write_action = Action.MANAGE_USERS
    list_display = ["username", "email", "is_active", "is_staff", "home_organization", "home_tenant"]
    fieldsets = DjangoUserAdmin.fieldsets + (("Managed by", {"fields": ("home_organization", "home_tenant")}),)

    def get_fieldsets(self, request, obj=None):
        fieldsets = super().get_fieldsets(request, obj)
        if request.user.is_superuser:
            return fieldsets
        return [(name, {**opts, "fields": [f for f in opts["fields"] if f not in PLATFORM_FIELDS]})
                for name, opts in fieldsets]

    def save_object(self, request, obj, form, change):
        if not request.user.is_superuser:
            if set(form.changed_data) & set(PLATFORM_FIELDS):
                raise ScopeDenied("Only the platform operator changes platform flags.")
            if change:  # the same rule as the API and the UI
                fields = {name: form.cleaned_data[name] for name in form.changed_data if name in services.USER_FIELDS}
                services.authorize_user_update(actor=request.user, user=User.objects.get(pk=obj.pk), fields=fields)
        super().save_object(request, obj, form, change)


@admin.register(Membership)
class MembershipAdmin(TenantScopedAdmin):
    write_action = Action.MANAGE_USERS
    list_display = ["user", "organization", "tenant", "role"]
    list_filter = ["role"]

    def save_object(self, request, obj, form, change):
        data = form.cleaned_data
        if change:
            saved = services.membership_update(
                actor=request.user, membership=Membership.objects.get(pk=obj.pk), user=data.get("user"),
                role=data.get("role"), organization=data.get("organization"), tenant=data.get("tenant"),
            )
        else:
            saved = services.membership_create(
                actor=request.user, user=data["user"], role=data["role"], organization=data.get("organization"),
                tenant=data.get("tenant"),
            )
        obj.pk = saved.pk

    def delete_object(self, request, obj):
        services.membership_delete(actor=request.user, membership=obj)


class CredentialForm(forms.ModelForm):
    """Secrets are write-only: empty inputs keep the stored value; nothing stored is ever rendered back."""

    cp_api_id = forms.CharField(required=False, widget=forms.PasswordInput(render_value=False))
    cp_api_key = forms.CharField(required=False, widget=forms.PasswordInput(render_value=False))
    ecm_api_id = forms.CharField(required=False, widget=forms.PasswordInput(render_value=False))
    ecm_api_key = forms.CharField(required=False, widget=forms.PasswordInput(render_value=False))
    api_token = forms.CharField(required=False, widget=forms.PasswordInput(render_value=False))

    class Meta:
        model = Credential
        fields = ["tenant", "provider", "base_url"]


@admin.register(Credential)
class CredentialAdmin(TenantScopedAdmin):
    form = CredentialForm
    read_action = Action.MANAGE_CREDENTIALS
    write_action = Action.MANAGE_CREDENTIALS
    list_display = ["tenant", "provider", "base_url", "masked", "updated_at"]
    readonly_fields = ["masked", "last_verified_at"]

    @admin.display(description="Secrets (masked)")
    def masked(self, obj):
        return ", ".join(f"{k}: {v}" for k, v in (obj.secret_hints or {}).items() if v)

    def save_object(self, request, obj, form, change):
        # The stored row, not the form-modified instance: moving a credential is checked on both tenants.
        saved = services.credential_save(
            actor=request.user, tenant=form.cleaned_data["tenant"], provider=form.cleaned_data["provider"],
            base_url=form.cleaned_data["base_url"],
            secrets_in={name: form.cleaned_data.get(name) or None for name in SECRET_FIELDS},
            credential=Credential.objects.get(pk=obj.pk) if change else None,
        )
        obj.pk = saved.pk


@admin.register(ApiToken)
class ApiTokenAdmin(TenantScopedAdmin):
    list_display = ["prefix", "name", "user", "created_at", "expires_at", "last_used_at", "revoked_at"]
    readonly_fields = ["prefix", "user", "created_at", "last_used_at"]
    fields = ["user", "name", "prefix", "expires_at", "revoked_at", "created_at", "last_used_at"]
    write_action = Action.VIEW

    def has_add_permission(self, request):
        return False  # tokens are created by `manage.py create_api_token` or the API, which show the value once


@admin.register(AuditEvent)
class AuditEventAdmin(ReadOnlyAdminMixin, TenantScopedAdmin):
    read_action = Action.VIEW_AUDIT
    list_display = ["created_at", "actor_username", "source", "action", "object_type", "object_id", "tenant"]
    list_filter = ["action", "source", "object_type"]
    search_fields = ["object_repr", "actor_username", "request_id"]
