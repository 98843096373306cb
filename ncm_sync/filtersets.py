"""Filters for the mirrored NCM data and sync runs (every list also filters by ?tenant=<id>)."""
import django_filters
from django import forms
from django.db.models import Q

from ncm_sync import selectors
from ncm_sync.models import Account, Alert, Group, Location, NetDevice, Router, SyncRun
from portal.api.filters import TenantFilterSet


class MirrorFilterSet(TenantFilterSet):
    """Tombstoned rows (NCM no longer returns them) are hidden from lists unless ?deleted=true (or any)."""

    ncm_id = django_filters.CharFilter(field_name="ncm_id", help_text="NCM's id.")
    deleted = django_filters.ChoiceFilter(
        choices=[("false", "live rows only (default)"), ("true", "deleted rows only"), ("any", "both")],
        method="filter_deleted", empty_label=None,
        help_text="Rows NCM no longer returns: false (default), true or any.",
    )
    seen_after = django_filters.IsoDateTimeFilter(field_name="last_seen_at", lookup_expr="gte")

    def filter_deleted(self, queryset, name, value):
        return queryset  # applied in filter_queryset so the default also holds when the parameter is absent

    def filter_queryset(self, queryset):
        queryset = super().filter_queryset(queryset)
        value = (self.data.get("deleted") or "").lower()
        view = getattr(getattr(self.request, "parser_context", None) or {}, "get", lambda *_: None)("view")
        if value == "true":
            return queryset.filter(deleted_at__isnull=False)
        if value == "any" or (view is not None and getattr(view, "action", "list") != "list"):
            return queryset
        return queryset.filter(deleted_at__isnull=True)


def _search_ci(fields):
    def method(queryset, name, value):
        query = Q()
        for field in fields:
            query |= Q(**{f"{field}__icontains": value})
        return queryset.filter(query)

    return method


class AccountFilterSet(MirrorFilterSet):
    parent = django_filters.NumberFilter(field_name="parent_id")

    class Meta:
        model = Account
        fields = {"name": ["exact", "icontains"], "is_disabled": ["exact"]}


class GroupFilterSet(MirrorFilterSet):
    account = django_filters.NumberFilter(field_name="account_id")
    product = django_filters.CharFilter(field_name="product", lookup_expr="iexact")
    firmware = django_filters.CharFilter(field_name="firmware", lookup_expr="iexact")

    class Meta:
        model = Group
        fields = {"name": ["exact", "icontains"]}


class RouterFilterSet(MirrorFilterSet):
    group = django_filters.NumberFilter(field_name="group_id")
    account = django_filters.NumberFilter(field_name="account_id")
    # distinct=False: a column of the router itself never repeats a row, and SELECT DISTINCT over every column
    # (NCM's JSON included) sorted all 5,000 offline routers of a 100k fleet to show 100.
    state = django_filters.MultipleChoiceFilter(
        choices=[(s, s) for s in ("online", "offline", "initialized")], help_text="online, offline, initialized",
        distinct=False,
    )
    product = django_filters.CharFilter(method="filter_product", help_text="Full product name (IBR900-600M) or its start (IBR900).")
    firmware = django_filters.CharFilter(field_name="firmware", lookup_expr="iexact", help_text="Firmware version, e.g. 7.24.10.")
    mac = django_filters.CharFilter(method="filter_mac")
    serial_number = django_filters.CharFilter(field_name="serial_number", lookup_expr="iexact")
    config_status = django_filters.CharFilter(field_name="config_status")
    no_group = django_filters.BooleanFilter(field_name="group", lookup_expr="isnull")
    firmware_outdated = django_filters.BooleanFilter(
        method="filter_firmware_outdated",
        help_text="true: firmware differs from NCM's target or the group's version; false: up to date.",
    )
    has_open_alerts = django_filters.BooleanFilter(
        method="filter_has_open_alerts", help_text="true: routers with at least one open alert (see alerts `status`).",
    )

    class Meta:
        model = Router
        fields = {"name": ["exact", "icontains"]}

    def filter_firmware_outdated(self, queryset, name, value):
        return queryset.filter(selectors.outdated_q()) if value else queryset.exclude(selectors.outdated_q())

    def filter_has_open_alerts(self, queryset, name, value):
        q = selectors.has_open_alerts_q()
        return queryset.filter(q) if value else queryset.exclude(q)

    def filter_product(self, queryset, name, value):
        return queryset.filter(Q(product__iexact=value) | Q(product__istartswith=value + "-") | Q(product_ncm_id=value))

    def filter_mac(self, queryset, name, value):
        return queryset.filter(mac=value.strip().lower())


class NetDeviceFilterSet(MirrorFilterSet):
    router = django_filters.NumberFilter(field_name="router_id")
    carrier = django_filters.CharFilter(field_name="carrier", lookup_expr="iexact")
    connection_state = django_filters.CharFilter(field_name="connection_state", lookup_expr="iexact")
    health_category = django_filters.CharFilter(
        field_name="health_category", lookup_expr="iexact", help_text="cellular_health_category: excellent, good, fair, poor"
    )
    health_score_below = django_filters.NumberFilter(field_name="health_score", lookup_expr="lt")
    mac = django_filters.CharFilter(method="filter_mac")
    router_state = django_filters.ChoiceFilter(
        field_name="router__state", choices=[(s, s) for s in ("online", "offline", "initialized")],
        help_text="State of the device's router: online, offline, initialized.",
    )

    class Meta:
        model = NetDevice
        fields = {"mode": ["exact"], "is_asset": ["exact"], "type": ["exact"], "service_type": ["exact"], "name": ["exact"]}

    def filter_mac(self, queryset, name, value):
        return queryset.filter(mac=value.strip().lower())


class LocationFilterSet(MirrorFilterSet):
    router = django_filters.NumberFilter(field_name="router_id")

    class Meta:
        model = Location
        fields = {"method": ["exact"]}


class _AnyValueMultipleField(forms.MultipleChoiceField):
    """Any value NCM may send is valid (alert types are NCM's, not a fixed list)."""

    def valid_value(self, value) -> bool:
        return True


class AnyValueMultipleFilter(django_filters.MultipleChoiceFilter):
    # A field class rather than per-request choices: a filter's form field is built once and then copied.
    field_class = _AnyValueMultipleField

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("distinct", False)  # the alert's own column: no duplicate rows, no SELECT DISTINCT
        super().__init__(*args, **kwargs)


class AlertFilterSet(MirrorFilterSet):
    router = django_filters.NumberFilter(field_name="router_id")
    account = django_filters.NumberFilter(field_name="account_id")
    type = AnyValueMultipleFilter(field_name="type", help_text="Alert type(s); repeat for several.")
    created_after = django_filters.IsoDateTimeFilter(
        field_name="ncm_created_at", lookup_expr="gte", help_text="NCM's created_at at or after (ISO 8601)."
    )
    created_before = django_filters.IsoDateTimeFilter(field_name="ncm_created_at", lookup_expr="lt",
                                                   help_text="NCM's created_at before (ISO 8601).")
    acknowledged = django_filters.BooleanFilter(
        field_name="acknowledged_at", lookup_expr="isnull", exclude=True,
        help_text="true: acknowledged alerts only; false: open (unacknowledged) alerts only.",
    )
    acknowledged_by = django_filters.NumberFilter(field_name="acknowledged_by_id", help_text="User id.")
    status = django_filters.ChoiceFilter(
        choices=list(selectors.ALERT_STATUSES.items()), method="filter_status",
        help_text="open: problems nobody has acknowledged (the `open` of alerts/counts/); acknowledged; "
        "event: informational alerts (e.g. a router came online), never open.",
    )

    class Meta:
        model = Alert
        fields = []

    def filter_status(self, queryset, name, value):
        q = selectors.alert_status_q(value)
        return queryset.filter(q) if q is not None else queryset


class SyncRunFilterSet(TenantFilterSet):
    started_after = django_filters.IsoDateTimeFilter(field_name="created_at", lookup_expr="gte")

    class Meta:
        model = SyncRun
        fields = ["status", "trigger"]
