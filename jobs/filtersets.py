import django_filters

from jobs.models import Job, JobItem, MaintenanceWindow, OrgJob, SpeedTestResult
from portal.api.filters import TenantFilterSet


class JobFilterSet(TenantFilterSet):
    created_after = django_filters.IsoDateTimeFilter(field_name="created_at", lookup_expr="gte")
    created_before = django_filters.IsoDateTimeFilter(field_name="created_at", lookup_expr="lt")

    class Meta:
        model = Job
        fields = ["kind", "status"]


class JobItemFilterSet(TenantFilterSet):
    job = django_filters.NumberFilter(field_name="job_id")
    router = django_filters.NumberFilter(field_name="router_id")

    class Meta:
        model = JobItem
        fields = ["status"]


class SpeedTestResultFilterSet(TenantFilterSet):
    router = django_filters.NumberFilter(field_name="router_id")
    net_device = django_filters.NumberFilter(field_name="net_device_id")
    job = django_filters.NumberFilter(field_name="job_id")

    class Meta:
        model = SpeedTestResult
        fields = ["state"]


class MaintenanceWindowFilterSet(TenantFilterSet):
    class Meta:
        model = MaintenanceWindow
        fields = ["weekday", "enabled"]


class OrgJobFilterSet(django_filters.FilterSet):
    """MSP-wide jobs belong to an organization (no tenant): filter by it."""

    organization = django_filters.NumberFilter(field_name="organization_id")

    class Meta:
        model = OrgJob
        fields = ["kind", "status"]
