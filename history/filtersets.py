"""Filters for history lists: ?tenant=, ?since= / ?until= (ISO 8601; default: the last 7 days), the device."""
from datetime import timedelta

import django_filters
from django.utils import timezone

from history.models import LocationSample, Rollup, RouterLog, SignalSample, StateSample, UsageSample
from portal.api.filters import TenantFilterSet

DEFAULT_DAYS = 7


class SampleFilterSet(TenantFilterSet):
    since = django_filters.IsoDateTimeFilter(field_name="created_at", lookup_expr="gte",
                                             help_text="From this time (ISO 8601); default 7 days ago.")
    until = django_filters.IsoDateTimeFilter(field_name="created_at", lookup_expr="lt",
                                             help_text="Before this time (ISO 8601); default now.")

    def filter_queryset(self, queryset):
        queryset = super().filter_queryset(queryset)
        if not self.data.get("since"):
            queryset = queryset.filter(created_at__gte=timezone.now() - timedelta(days=DEFAULT_DAYS))
        return queryset


class NetDeviceSampleFilterSet(SampleFilterSet):
    net_device = django_filters.NumberFilter(field_name="net_device_id", help_text="Net device (portal id).")


class RouterSampleFilterSet(SampleFilterSet):
    router = django_filters.NumberFilter(field_name="router_id", help_text="Router (portal id).")


class SignalSampleFilterSet(NetDeviceSampleFilterSet):
    class Meta:
        model = SignalSample
        fields = ["tenant", "net_device", "since", "until"]


class UsageSampleFilterSet(NetDeviceSampleFilterSet):
    class Meta:
        model = UsageSample
        fields = ["tenant", "net_device", "since", "until"]


class StateSampleFilterSet(RouterSampleFilterSet):
    class Meta:
        model = StateSample
        fields = ["tenant", "router", "since", "until"]


class LocationSampleFilterSet(RouterSampleFilterSet):
    class Meta:
        model = LocationSample
        fields = ["tenant", "router", "since", "until"]


class RouterLogFilterSet(RouterSampleFilterSet):
    level = django_filters.CharFilter(field_name="level")

    class Meta:
        model = RouterLog
        fields = ["tenant", "router", "level", "since", "until"]


class UsageFilterSet(TenantFilterSet):
    """Daily usage roll-ups; ?since=/?until= are dates or times (default: the last 31 days)."""

    router = django_filters.NumberFilter(field_name="router_id")
    net_device = django_filters.NumberFilter(field_name="net_device_id")
    since = django_filters.IsoDateTimeFilter(field_name="bucket", lookup_expr="gte")
    until = django_filters.IsoDateTimeFilter(field_name="bucket", lookup_expr="lt")

    class Meta:
        model = Rollup
        fields = ["tenant", "router", "net_device", "since", "until"]

    def filter_queryset(self, queryset):
        period = "month" if self.data.get("period") == "month" else "day"
        queryset = super().filter_queryset(queryset).filter(kind="usage", period=period)
        if not self.data.get("since"):
            if self.data.get("period") == "month":
                start = (timezone.now() - timedelta(days=395)).replace(day=1, hour=0, minute=0, second=0, microsecond=0)
            else:
                start = timezone.now() - timedelta(days=31)
            queryset = queryset.filter(bucket__gte=start)
        return queryset


class LicenceFilterSet(TenantFilterSet):
    router = django_filters.NumberFilter(field_name="router_id")
    expiring_within = django_filters.NumberFilter(method="filter_expiring", min_value=0, max_value=3650,
                                                  help_text="Only licences ending within this many days (not expired).")
    expired = django_filters.BooleanFilter(method="filter_expired")

    class Meta:
        from history.models import Licence

        model = Licence
        fields = ["tenant", "router", "expiring_within", "expired"]

    def filter_expiring(self, queryset, name, value):
        now = timezone.now()
        return queryset.filter(end_time__gt=now, end_time__lte=now + timedelta(days=int(value)))

    def filter_expired(self, queryset, name, value):
        now = timezone.now()
        return queryset.filter(end_time__lte=now) if value else queryset.exclude(end_time__lte=now)


class ReportScheduleFilterSet(TenantFilterSet):
    class Meta:
        from history.models import ReportSchedule

        model = ReportSchedule
        fields = ["tenant", "frequency", "enabled"]


class ReportFilterSet(TenantFilterSet):
    class Meta:
        from history.models import Report

        model = Report
        fields = ["tenant", "frequency", "status"]
