"""Filters for sites and devices (every list also filters by ?tenant=<id>; tombstones hidden unless ?deleted=)."""
import django_filters
from django.db.models import Q

from devices.models import Device, DeviceProvider, Site
from ncm_sync.filtersets import MirrorFilterSet


class SiteFilterSet(MirrorFilterSet):
    ncm_id = django_filters.CharFilter(field_name="remote_id", help_text="Alias of remote_id.")
    provider = django_filters.ChoiceFilter(choices=DeviceProvider.choices)
    remote_id = django_filters.CharFilter()

    class Meta:
        model = Site
        fields = ["tenant", "provider", "remote_id"]


class DeviceFilterSet(MirrorFilterSet):
    ncm_id = django_filters.CharFilter(field_name="remote_id", help_text="Alias of remote_id.")
    provider = django_filters.ChoiceFilter(choices=DeviceProvider.choices, help_text="ncm or eccloud.")
    remote_id = django_filters.CharFilter(help_text="The vendor's id.")
    status = django_filters.CharFilter(help_text="online, offline, ...")
    site = django_filters.NumberFilter(field_name="site_id")
    group = django_filters.NumberFilter(field_name="group_id")
    q = django_filters.CharFilter(method="filter_q", help_text="Name, serial or MAC contains.")

    class Meta:
        model = Device
        fields = ["tenant", "provider", "remote_id", "status", "site", "group"]

    def filter_q(self, queryset, name, value):
        return queryset.filter(Q(name__icontains=value) | Q(serial__icontains=value) | Q(mac__icontains=value))
