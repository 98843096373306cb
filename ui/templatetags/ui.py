"""Template helpers: tenant switcher, sidebar, status badges."""
from __future__ import annotations

from django import template
from django.utils import timezone
from django.utils.html import format_html

from accounts.models import Tenant
from ui.access import OrgPermissions

register = template.Library()

BADGE_CLASSES = {
    "succeeded": "ok", "online": "ok", "finished": "ok", "excellent": "ok", "good": "ok", "ok": "ok",
    "failed": "bad", "offline": "bad", "poor": "bad", "error": "bad", "cancelled": "warn", "partial": "warn",
    "running": "info", "queued": "info", "pending": "info", "dispatched": "info", "scheduled": "info",
    "fair": "warn", "unknown": "warn", "never": "", "initialized": "warn", "stale": "warn",
}


@register.filter
def badge_class(value) -> str:
    return BADGE_CLASSES.get(str(value or "").lower(), "")


@register.simple_tag
def badge(value, label=None):
    text = label if label is not None else (value if value not in (None, "") else "—")
    return format_html('<span class="badge {}">{}</span>', badge_class(value), text)


@register.inclusion_tag("ui/_tenant_switcher.html", takes_context=True)
def tenant_switcher(context):
    request = context["request"]
    current = context.get("tenant")
    tenants = list(Tenant.objects.for_user(request.user).select_related("organization").only("id", "name", "organization__id", "organization__name"))
    groups: dict[str, list] = {}
    for t in tenants:
        groups.setdefault(t.organization.name, []).append(t)
    return {"groups": groups, "current": current, "count": len(tenants), "request": request}


@register.inclusion_tag("ui/_sidebar.html", takes_context=True)
def sidebar(context):
    request = context["request"]
    url_name = getattr(getattr(request, "resolver_match", None), "url_name", "") or ""
    return {
        "request": request,
        "tenant": context.get("tenant"),
        "can": context.get("can"),
        "org_can": OrgPermissions(request.user),
        "url_name": url_name,
        "user": request.user,
    }


@register.filter
def ago(value) -> str:
    if not value:
        return "never"
    from django.utils.timesince import timesince

    return f"{timesince(value, timezone.now()).split(',')[0]} ago"


@register.filter
def get_item(mapping, key):
    try:
        return mapping.get(key)
    except AttributeError:
        return None
