"""Forms of the administration pages. Every choice of organization or tenant is limited to the caller's
scope for the action (`allowed_organizations` / `allowed_tenants`); writes go through the services."""
from __future__ import annotations

from django import forms
from django.conf import settings
from django.core.exceptions import ValidationError

from accounts.models import Membership, Tenant, User
from accounts.roles import Role
from jobs.models import MaintenanceWindow
from portal.scoping import allowed_organizations, allowed_tenants
from webhooks.models import Event

__all__ = ["apply_errors", "ScopeField", "UserCreateForm", "MembershipForm", "MembershipRoleForm", "CredentialForm",
           "MaintenanceWindowForm", "WebhookForm", "WEEKDAYS"]

WEEKDAYS = [(0, "Monday"), (1, "Tuesday"), (2, "Wednesday"), (3, "Thursday"), (4, "Friday"), (5, "Saturday"), (6, "Sunday")]


def apply_errors(form: forms.Form, exc: ValidationError) -> None:
    """Put a service's ValidationError on the form: known fields get their own, the rest go on top."""
    if not hasattr(exc, "error_dict"):
        form.add_error(None, exc.messages)
        return
    for name, errors in exc.message_dict.items():
        field = name if name in form.fields else None
        messages = errors if field else [f"{name.replace('_', ' ').capitalize()}: {m}" if name not in ("__all__", "detail") else m for m in errors]
        form.add_error(field, messages)


class ScopeField(forms.ChoiceField):
    """One select for "organization X (all its tenants)" or "tenant Y": values `org:<id>` / `tenant:<id>`.

    Choices are the organizations and tenants on which `user` holds `action`; cleans to (organization, tenant).
    """

    def __init__(self, *, user, action: str, **kwargs):
        self.orgs = allowed_organizations(user, action).order_by("name")
        self.tenants = allowed_tenants(user, action).select_related("organization").order_by("organization__name", "name")
        choices = [("", "— choose —")]
        org_choices = [(f"org:{o.pk}", f"{o.name} (organization: all its tenants)") for o in self.orgs]
        tenant_choices = [(f"tenant:{t.pk}", f"{t.name} ({t.organization.name})") for t in self.tenants]
        if org_choices:
            choices.append(("Organizations", org_choices))
        if tenant_choices:
            choices.append(("Tenants", tenant_choices))
        super().__init__(choices=choices, **kwargs)

    def clean(self, value):
        value = super().clean(value)
        if not value:
            return None, None
        kind, _, pk = value.partition(":")
        if not pk.isdigit():
            raise ValidationError("Choose an organization or a tenant from the list.")
        if kind == "org":
            org = self.orgs.filter(pk=pk).first()
            if org:
                return org, None
        elif kind == "tenant":
            tenant = self.tenants.filter(pk=pk).first()
            if tenant:
                return None, tenant
        raise ValidationError("Choose an organization or a tenant from the list.")

    @staticmethod
    def value_for(organization=None, tenant=None) -> str:
        if organization is not None:
            return f"org:{organization.pk}"
        if tenant is not None:
            return f"tenant:{tenant.pk}"
        return ""


#
# Users and memberships
#
class UserCreateForm(forms.Form):
    username = forms.CharField(max_length=150, help_text="Letters, digits and @/./+/-/_ only.")
    email = forms.EmailField(required=False)
    first_name = forms.CharField(max_length=150, required=False)
    last_name = forms.CharField(max_length=150, required=False)
    password = forms.CharField(widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"}),
                               strip=False, help_text="Give it to the user through a safe channel; they can change it under Account.")
    role = forms.ChoiceField(choices=Role.choices, initial=Role.READ_ONLY)

    def __init__(self, *args, user, action, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["scope"] = ScopeField(user=user, action=action, label="Managed by and role on",
                                          help_text="The organization or tenant that manages this login; the role below applies there.")
        self.order_fields(["username", "email", "first_name", "last_name", "password", "scope", "role"])

    def clean_username(self):
        username = self.cleaned_data["username"].strip()
        if User.objects.filter(username__iexact=username).exists():
            raise ValidationError("This username is taken.")
        return username


class MembershipForm(forms.Form):
    role = forms.ChoiceField(choices=Role.choices, initial=Role.READ_ONLY)

    def __init__(self, *args, user, action, member: User, **kwargs):
        super().__init__(*args, **kwargs)
        self.member = member
        self.fields["scope"] = ScopeField(user=user, action=action, label="On")
        self.order_fields(["scope", "role"])

    def clean(self):
        data = super().clean()
        organization, tenant = data.get("scope") or (None, None)
        if organization is None and tenant is None:
            if "scope" not in self.errors:
                self.add_error("scope", "Choose an organization or a tenant.")
            return data
        existing = Membership.objects.filter(user=self.member, organization=organization, tenant=tenant)
        if existing.exists():
            self.add_error("scope", "This user already has a role there: change it in the list above.")
        return data


class MembershipRoleForm(forms.Form):
    role = forms.ChoiceField(choices=Role.choices)


#
# Credentials
#
class CredentialForm(forms.Form):
    """Secrets are write-only: inputs never show a stored value; an empty input keeps it."""

    SECRETS = ("cp_api_id", "cp_api_key", "ecm_api_id", "ecm_api_key", "api_token")
    LABELS = {"cp_api_id": "X-CP-API-ID", "cp_api_key": "X-CP-API-KEY", "ecm_api_id": "X-ECM-API-ID",
              "ecm_api_key": "X-ECM-API-KEY", "api_token": "API token (optional)"}

    base_url = forms.CharField(label="Base URL", max_length=300,
                               help_text="NCM API v2 root, e.g. https://www.cradlepointecm.com/api/v2")

    def __init__(self, *args, credential=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.credential = credential
        self.fields["base_url"].initial = credential.base_url if credential else settings.NCM_DEFAULT_BASE_URL
        hints = (credential.secret_hints or {}) if credential else {}
        for name in self.SECRETS:
            stored = hints.get(name)
            self.fields[name] = forms.CharField(
                label=self.LABELS[name], required=False, max_length=2000 if name == "api_token" else 200, strip=True,
                widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "off", "spellcheck": "false"}),
                help_text=(f"Stored: {stored}. Leave empty to keep it." if stored else
                           ("Leave empty unless you use one." if name == "api_token" else "Required.")),
            )

    def secrets_in(self) -> dict[str, str]:
        return {name: self.cleaned_data[name] for name in self.SECRETS if self.cleaned_data.get(name)}


#
# Maintenance windows
#
class MaintenanceWindowForm(forms.ModelForm):
    weekday = forms.TypedChoiceField(choices=WEEKDAYS, coerce=int)
    duration_minutes = forms.IntegerField(label="Duration (minutes)", min_value=1, max_value=10080, initial=120)

    class Meta:
        model = MaintenanceWindow
        fields = ["name", "weekday", "start_time", "duration_minutes", "enabled"]
        widgets = {"start_time": forms.TimeInput(attrs={"type": "time"}, format="%H:%M")}

    def __init__(self, *args, tenant: Tenant, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["start_time"].help_text = f"Wall-clock time in the tenant's time zone ({tenant.timezone})."
        self.fields["name"].help_text = "Optional, e.g. “Sunday night”."


#
# Webhooks
#
class WebhookForm(forms.Form):
    url = forms.URLField(label="URL", max_length=500, assume_scheme="https",
                         help_text="Where the portal POSTs events (https; Standard Webhooks signatures).")
    events = forms.MultipleChoiceField(choices=Event.choices, widget=forms.CheckboxSelectMultiple)
    description = forms.CharField(max_length=200, required=False)
    enabled = forms.BooleanField(required=False, initial=True)

    def __init__(self, *args, user=None, action=None, with_scope: bool = False, **kwargs):
        super().__init__(*args, **kwargs)
        if with_scope:
            self.fields["scope"] = ScopeField(user=user, action=action, label="For",
                                              help_text="An organization's webhook receives the events of all its tenants.")
            self.order_fields(["scope", "url", "events", "description", "enabled"])
