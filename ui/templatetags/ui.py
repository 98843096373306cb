"""Template helpers: tenant switcher, sidebar, status badges."""
from __future__ import annotations

from django import template
from django.utils.html import format_html

from accounts.models import Tenant
from ui import humanize
from ui.access import OrgPermissions, is_customer

register = template.Library()

BADGE_CLASSES = {
    "succeeded": "ok", "online": "ok", "finished": "ok", "excellent": "ok", "good": "ok", "ok": "ok",
    "failed": "bad", "offline": "bad", "poor": "bad", "error": "bad", "cancelled": "warn", "partial": "warn",
    "running": "info", "queued": "info", "pending": "info", "dispatched": "info", "scheduled": "info",
    "fair": "warn", "unknown": "warn", "never": "", "initialized": "warn", "stale": "warn",
    "halted": "bad", "awaiting_approval": "warn", "ended": "ok", "waiting": "", "stopped": "warn",
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
    customer = is_customer(request.user)
    for t in tenants:
        # A customer's tenants are theirs: no grouping under the MSP's name.
        groups.setdefault("" if customer else t.organization.name, []).append(t)
    return {"groups": groups, "current": current, "count": len(tenants), "request": request, "customer": customer}


@register.simple_tag(takes_context=True)
def customer_view(context) -> bool:
    """`{% customer_view as customer %}`: whether the page is for a customer's login (no MSP wording)."""
    request = context.get("request")
    return bool(request) and is_customer(request.user)


@register.simple_tag(takes_context=True)
def portal_name(context) -> str:
    """"NCM MSP Portal" for an MSP's staff; "NCM Portal" for customers and on the sign-in page (shared by both)."""
    request = context.get("request")
    user = getattr(request, "user", None)
    if user is not None and user.is_authenticated and not is_customer(user):
        return "NCM MSP Portal"
    return "NCM Portal"


@register.inclusion_tag("ui/_sidebar.html", takes_context=True)
def sidebar(context):
    request = context["request"]
    url_name = getattr(getattr(request, "resolver_match", None), "url_name", "") or ""
    customer = is_customer(request.user)
    return {
        "request": request,
        "tenant": context.get("tenant"),
        "can": context.get("can"),
        "org_can": OrgPermissions(request.user),
        "url_name": url_name,
        "user": request.user,
        "customer": customer,
        "customer_tenants": Tenant.objects.for_user(request.user).count() if customer else 0,
    }


@register.filter
def ago(value) -> str:
    """Plain text: "just now", "1 minute ago", "never"."""
    return humanize.relative(value)


@register.filter(name="when")
def when_filter(value, mode: str = "auto"):
    """`{{ dt|when }}`: a <time> element, relative or a local date, the exact time on hover."""
    return humanize.when(value, mode=mode or "auto")


@register.filter
def noun_for(noun, count) -> str:
    """`{{ noun|noun_for:total }}`: "routers" → "router" when total is 1."""
    return humanize.noun_for(str(noun), count)


@register.simple_tag
def plural(count, singular, plural_form=None) -> str:
    """`{% plural n "router" %}` → "1 router", "2 routers"."""
    return humanize.plural(count, singular, plural_form)


@register.filter
def get_item(mapping, key):
    try:
        return mapping.get(key)
    except AttributeError:
        return None
