"""Outbound webhooks of the organizations and tenants in scope (roles that manage credentials: a webhook holds a
signing secret), their delivery log and redelivery. The signing secret shows once, right after creation."""
from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.middleware.csrf import get_token
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.html import format_html
from django.views.decorators.http import require_POST


from accounts.roles import Action
from ui.access import require_anywhere
from ui.forms import WebhookForm, apply_errors
from ui.tables import Column, DataTable, when_column
from ui.templatetags.ui import badge
from webhooks import services as webhook_services
from webhooks.models import DeliveryStatus, Event, Webhook, WebhookDelivery

MANAGE = Action.MANAGE_CREDENTIALS
EVENT_LABELS = dict(Event.choices)


def _owner(w: Webhook) -> str:
    return f"{w.organization.name} (organization)" if w.organization_id else (w.tenant.name if w.tenant_id else "")


def _state(w: Webhook):
    if w.enabled:
        return format_html('<span class="badge ok">enabled</span>')
    return format_html('<span class="badge bad" title="{}">disabled</span>', w.disabled_reason or "Switched off")


@login_required
def webhook_list(request):
    require_anywhere(request.user, MANAGE, "Only admins manage webhooks.")
    qs = Webhook.objects.for_user(request.user, MANAGE).select_related("organization", "tenant")
    columns = [
        Column("url", "URL", value="url", order_by="url",
               render=lambda w: format_html('<a href="{}">{}</a>', reverse("ui:webhook-detail", args=[w.pk]), w.url)),
        Column("owner", "For", value=_owner, order_by="tenant__name"),
        Column("events", "Events", value=lambda w: ", ".join(w.events), clickable=False),
        Column("description", "Description", value="description", order_by="description"),
        Column("state", "State", value=lambda w: "enabled" if w.enabled else f"disabled: {w.disabled_reason}".rstrip(": "),
               order_by="enabled", render=_state),
        Column("failures", "Failed in a row", value="consecutive_failures", order_by="consecutive_failures", css="num", clickable=False),
        when_column("created", "Created", "created_at", order_by="created_at"),
    ]
    table = DataTable(
        request, qs, columns, table_id="webhooks-table", title="Webhooks", export_name="webhooks",
        search_fields=["url", "description", "organization__name", "tenant__name"], default_sort="-created",
        filters={"enabled": lambda q, v: q.filter(enabled=v == "1") if v in ("0", "1") else q},
        empty_message="No webhooks yet. Add one to have job, sync, router and alert events POSTed to your systems.",
    )
    export = table.export_response()
    if export:
        return export
    disabled = qs.filter(enabled=False).exclude(disabled_reason="").count()
    return render(request, "ui/admin/webhooks.html", {"table": table, "noun": "webhooks", "disabled": disabled})


@login_required
def webhook_new(request):
    require_anywhere(request.user, MANAGE, "Only admins manage webhooks.")
    form = WebhookForm(request.POST or None, user=request.user, action=MANAGE, with_scope=True, initial={"enabled": True})
    if request.method == "POST" and form.is_valid():
        organization, tenant = form.cleaned_data["scope"]
        if organization is None and tenant is None:
            form.add_error("scope", "Choose the organization or tenant whose events this webhook receives.")
        else:
            try:
                webhook, clear = webhook_services.webhook_save(
                    actor=request.user, url=form.cleaned_data["url"], events=form.cleaned_data["events"], organization=organization,
                    tenant=tenant, enabled=form.cleaned_data["enabled"], description=form.cleaned_data["description"],
                )
            except ValidationError as exc:
                apply_errors(form, exc)
            else:
                # The clear secret is rendered in this response only: never stored in the session or shown again.
                return render(request, "ui/admin/webhook_created.html", {"webhook": webhook, "secret": clear}, status=201)
    return render(request, "ui/admin/webhook_new.html", {"form": form}, status=400 if request.method == "POST" else 200)


def _webhook_or_404(request, webhook_id) -> Webhook:
    require_anywhere(request.user, MANAGE, "Only admins manage webhooks.")
    return get_object_or_404(Webhook.objects.for_user(request.user, MANAGE).select_related("organization", "tenant"), pk=webhook_id)


def _deliveries_table(request, webhook) -> DataTable:
    qs = WebhookDelivery.objects.for_user(request.user, MANAGE).filter(webhook=webhook).select_related("tenant")
    redeliver_url = lambda d: reverse("ui:webhook-redeliver", args=[webhook.pk, d.pk])  # noqa: E731
    columns = [
        when_column("created", "Created", "created_at", order_by="created_at"),
        Column("event", "Event", value="event", order_by="event"),
        Column("tenant", "Tenant", value="tenant.name", order_by="tenant__name"),
        Column("status", "Status", value="status", order_by="status", render=lambda d: badge(d.status, d.get_status_display())),
        Column("redeliver", "", value=lambda d: "", export=False, clickable=False, render=lambda d: format_html(
            '<form method="post" action="{}" class="inline" data-busy="Queuing…" hx-boost="false">'
            '<input type="hidden" name="csrfmiddlewaretoken" value="{}">'
            '<button class="btn small" type="submit" data-redeliver="{}">Redeliver</button></form>',
            redeliver_url(d), get_token(request), d.pk)),
        Column("attempts", "Attempts", value="attempts", order_by="attempts", css="num", clickable=False),
        Column("code", "Response", value="response_code", order_by="response_code", css="num", clickable=False),
        Column("error", "Error", value="error", render=lambda d: format_html('<span class="error">{}</span>', d.error) if d.error else ""),
        when_column("last", "Last attempt", "last_attempt_at", order_by="last_attempt_at", never="—"),
        when_column("next", "Next attempt", lambda d: d.next_attempt_at if d.status != DeliveryStatus.SUCCEEDED else None,
                    order_by="next_attempt_at", never="—"),
        Column("msg_id", "webhook-id", value="msg_id", css="hide-col"),
    ]
    return DataTable(
        request, qs, columns, table_id="deliveries-table", title=f"Deliveries to {webhook.url}",
        export_name=f"webhook-{webhook.pk}-deliveries", search_fields=["event", "error", "msg_id", "status"],
        default_sort="-created", filters={"status": lambda q, v: q.filter(status=v) if v in DeliveryStatus.values else q,
                                          "event": lambda q, v: q.filter(event=v)},
        empty_message="Nothing delivered yet: deliveries appear here when a subscribed event happens.",
    )


@login_required
def webhook_detail(request, webhook_id):
    webhook = _webhook_or_404(request, webhook_id)
    form = WebhookForm(request.POST or None, initial={"url": webhook.url, "events": webhook.events,
                                                      "description": webhook.description, "enabled": webhook.enabled})
    if request.method == "POST" and form.is_valid():
        try:
            was_enabled = webhook.enabled
            webhook, _ = webhook_services.webhook_save(
                actor=request.user, url=form.cleaned_data["url"], events=form.cleaned_data["events"], organization=webhook.organization,
                tenant=webhook.tenant, enabled=form.cleaned_data["enabled"], description=form.cleaned_data["description"],
                webhook=webhook,
            )
        except ValidationError as exc:
            apply_errors(form, exc)
        else:
            messages.success(request, "Webhook saved." + (" It is enabled again." if webhook.enabled and not was_enabled else ""))
            return redirect("ui:webhook-detail", webhook_id=webhook.pk)
    table = _deliveries_table(request, webhook)
    export = table.export_response()
    if export:
        return export
    return render(request, "ui/admin/webhook_detail.html", {
        "webhook": webhook, "form": form, "table": table, "noun": "deliveries", "statuses": DeliveryStatus.choices,
    }, status=400 if request.method == "POST" else 200)


@login_required
@require_POST
def webhook_delete(request, webhook_id):
    webhook = _webhook_or_404(request, webhook_id)
    url = webhook.url
    webhook_services.webhook_delete(actor=request.user, webhook=webhook)
    messages.success(request, f"Webhook {url} deleted with its delivery log.")
    return redirect("ui:webhooks")


@login_required
@require_POST
def webhook_redeliver(request, webhook_id, delivery_id):
    webhook = _webhook_or_404(request, webhook_id)
    delivery = get_object_or_404(WebhookDelivery.objects.for_user(request.user, MANAGE).filter(webhook=webhook), pk=delivery_id)
    webhook_services.redeliver(delivery=delivery, actor=request.user)
    note = "" if webhook.enabled else " The webhook is disabled: enable it first, or the attempt fails at once."
    messages.success(request, f"Delivery #{delivery.pk} ({EVENT_LABELS.get(delivery.event, delivery.event)}) queued again with the same webhook-id.{note}")
    return redirect("ui:webhook-detail", webhook_id=webhook.pk)
