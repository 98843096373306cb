"""Devices of every vendor (NCM routers beside ecCloud access points), sites, an ecCloud device page with its
merged configuration and origins, and the ecCloud config push (the only job ecCloud supports)."""
from __future__ import annotations

import json

from django import forms

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.html import format_html

from devices import selectors
from devices.filtersets import DeviceFilterSet
from devices.providers import PROVIDERS
from jobs import services as job_services
from jobs.preview import job_preview
from ui.access import TenantPermissions, tenant_or_404
from ui.selectors import filterset_filters
from ui.tables import Column, DataTable, Grouping, when_column
from ui.templatetags.ui import badge
from ui.views.tenant import _card, tenant_context

VENDORS = {"ncm": "Cradlepoint", "eccloud": "IgniteNet"}


def _device_url(tenant, d):
    if d.provider == "ncm" and d.router_id:
        return reverse("ui:router-detail", args=[tenant.pk, d.router_id])
    return reverse("ui:device-detail", args=[tenant.pk, d.pk])


@login_required
def devices(request, tenant_id):
    tenant = tenant_or_404(request, tenant_id)
    qs = selectors.devices_for(request.user, tenant)
    filters = filterset_filters(DeviceFilterSet, {"vendor": "provider", "status": "status", "site": "site"})
    columns = [
        Column("vendor", "Vendor", value=lambda d: VENDORS.get(d.provider, d.provider), order_by="provider",
               render=lambda d: format_html('<span class="badge info" data-vendor="{}">{}</span>', d.provider,
                                            VENDORS.get(d.provider, d.provider))),
        Column("name", "Name", value=lambda d: d.name or d.remote_id, order_by="name", css="nowrap",
               render=lambda d: format_html('<a href="{}">{}</a>', _device_url(tenant, d), d.name or d.remote_id)),
        Column("status", "Status", value="status", order_by="status", render=lambda d: badge(d.status)),
        Column("place", "Site / group", value=lambda d: (d.site.name if d.site_id else d.group.name if d.group_id else "—")),
        Column("serial", "Serial", value="serial", order_by="serial", priority=2),
        Column("mac", "MAC", value="mac", order_by="mac", priority=3),
        when_column("contact", "Last contact", "last_contact", order_by="last_contact", never="—", priority=2),
        Column("remote_id", "Vendor id", value="remote_id", order_by="remote_id", priority=3),
    ]
    table = DataTable(
        request, qs, columns, table_id="devices-table", title=f"{tenant.name}: devices",
        export_name=f"{tenant.slug}-devices", search_fields=["name", "serial", "mac", "remote_id", "site__name", "group__name"],
        default_sort="name", filters=filters,
        groupings=[Grouping("vendor", "Vendor", "provider"), Grouping("site", "Site", "site__name"),
                   Grouping("status", "Status", "status")],
        empty_message="No devices mirrored yet. Add a credential (NCM or ecCloud) and run a sync.",
    )
    export = table.export_response()
    if export:
        return export
    f = selectors.device_figures(qs)
    af = table.active_filters
    cards = [
        _card("Devices", f["total"], "?", not af, "primary", "total"),
        _card("Cradlepoint routers", f.get("ncm", 0), "?vendor=ncm", af.get("vendor") == "ncm", "info", "ncm"),
        _card("IgniteNet devices", f.get("eccloud", 0), "?vendor=eccloud", af.get("vendor") == "eccloud", "info", "eccloud"),
        _card("Online", f["online"], "?status=online", af.get("status") == "online", "ok", "online"),
        _card("Offline", f["offline"], "?status=offline", af.get("status") == "offline", "bad", "offline"),
    ]
    sites = list(selectors.sites_for(request.user, tenant).order_by("name"))
    return render(request, "ui/tenant/devices.html", tenant_context(
        request, tenant, table=table, cards=cards, noun="devices", sites=sites))


@login_required
def device_detail(request, tenant_id, device_id):
    tenant = tenant_or_404(request, tenant_id)
    device = get_object_or_404(selectors.devices_for(request.user, tenant), pk=device_id)
    if device.provider == "ncm" and device.router_id:
        return redirect("ui:router-detail", tenant_id=tenant.pk, router_id=device.router_id)
    config = selectors.device_configuration(device)
    rows = [{"key": k, **v} for k, v in sorted(config.get("keys", {}).items())]
    provider = PROVIDERS.get(device.provider)
    return render(request, "ui/tenant/device_detail.html", tenant_context(
        request, tenant, device=device, config=config, rows=rows, provider=provider,
        vendor_fields=sorted((device.vendor or {}).items()), can_push=provider and provider.supports("config_push")))


def _parse_changes(text: str) -> dict:
    """`key = value` lines (`key = ` with nothing, or `key = null`, removes the override), or a JSON object."""
    text = (text or "").strip()
    if text.startswith("{"):
        try:
            value = json.loads(text)
        except ValueError as exc:
            raise ValidationError({"changes": [f"Not valid JSON: {exc}"]}) from None
        return value
    changes = {}
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip() or line.strip().startswith("#"):
            continue
        if "=" not in line:
            raise ValidationError({"changes": [f"Line {number}: write key = value."]})
        key, value = (part.strip() for part in line.split("=", 1))
        changes[key] = None if value in ("", "null") else value
    return changes


def push_wizard_url(tenant, device_ids=()) -> str:
    """The jobs wizard with a config push chosen and these ecCloud devices picked."""
    from urllib.parse import urlencode

    query = [("kind", "config_push")] + [("devices", pk) for pk in device_ids]
    return f"{reverse('ui:job-new', args=[tenant.pk])}?{urlencode(query)}"


@login_required
def device_push(request, tenant_id):
    """Push configuration to ecCloud devices. Opening it leads into the jobs wizard (config push, the devices
    picked); a POST from an old form still previews/creates the job here, through the same service."""
    tenant = tenant_or_404(request, tenant_id)
    perms = TenantPermissions(request.user, tenant)
    if not perms.push_config:
        raise PermissionDenied("Your role cannot push configuration on this tenant.")
    if request.method != "POST":
        return redirect(push_wizard_url(tenant, sorted({int(v) for v in request.GET.getlist("devices") if str(v).isdigit()})))
    data = request.POST
    choices = list(selectors.devices_for(request.user, tenant).filter(provider="eccloud").order_by("name")[:500])
    selected = {int(v) for v in data.getlist("devices") if str(v).isdigit()}
    context = tenant_context(request, tenant, choices=choices, selected=selected, changes_text=data.get("changes", ""),
                             errors=[], preview=None)
    if request.method != "POST":
        return render(request, "ui/tenant/device_push.html", context)
    try:
        changes = _parse_changes(data.get("changes", ""))
        if data.get("step") == "confirm":
            with transaction.atomic():
                job = job_services.job_create(user=request.user, tenant=tenant, kind="config_push", device_ids=sorted(selected),
                                              parameters={"changes": changes}, source="ui")
            messages.success(request, f"Job #{job.pk} created: config push to {len(selected)} device(s).")
            return redirect("ui:job-detail", tenant_id=tenant.pk, job_id=job.pk)
        if not selected:
            raise ValidationError({"devices": ["Choose at least one device."]})
        context["preview"] = job_preview(user=request.user, tenant=tenant, kind="config_push", device_ids=sorted(selected),
                                         parameters={"changes": changes})
    except ValidationError as exc:
        errors = exc.message_dict if hasattr(exc, "error_dict") else {"": exc.messages}
        context["errors"] = [f"{k}: {m}" if k else m for k, ms in errors.items() for m in ms]
        return render(request, "ui/tenant/device_push.html", context, status=400)
    return render(request, "ui/tenant/device_push.html", context)


class EcCloudCredentialForm(forms.Form):
    """The key is write-only: never shown, an empty input keeps the stored one."""

    base_url = forms.CharField(label="Base URL", max_length=300,
                               help_text="ecCloud public API root, e.g. https://cloud.ignitenet.com/pub/v1")
    api_key = forms.CharField(label="API key (x-api-key)", required=False, max_length=2000, strip=True,
                              widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "off"}))


@login_required
def eccloud_credential(request, tenant_id):
    """A tenant's ecCloud credential (roles that manage credentials): base URL and a write-only API key."""
    from django.conf import settings

    from accounts import services as account_services
    from accounts.models import Credential
    from accounts.roles import Action
    from ui.forms import apply_errors

    tenant = tenant_or_404(request, tenant_id, Action.MANAGE_CREDENTIALS)
    credential = Credential.objects.for_user(request.user, Action.MANAGE_CREDENTIALS).filter(
        tenant=tenant, provider="eccloud").first()
    form = EcCloudCredentialForm(request.POST or None, initial={
        "base_url": credential.base_url if credential else settings.ECCLOUD_DEFAULT_BASE_URL})
    status = 200
    if request.method == "POST":
        if form.is_valid():
            try:
                with transaction.atomic():
                    account_services.credential_save(
                        actor=request.user, tenant=tenant, provider="eccloud", base_url=form.cleaned_data["base_url"],
                        secrets_in={"api_key": form.cleaned_data["api_key"]} if form.cleaned_data["api_key"] else {},
                        credential=credential)
            except ValidationError as exc:
                apply_errors(form, exc)
            else:
                messages.success(request, "ecCloud credential saved. The next sync mirrors its sites and devices.")
                return redirect("ui:eccloud-credential", tenant_id=tenant.pk)
        status = 400
    hint = (credential.secret_hints or {}).get("api_key") if credential else ""
    return render(request, "ui/tenant/eccloud_credential.html",
                  tenant_context(request, tenant, credential=credential, form=form, hint=hint), status=status)
