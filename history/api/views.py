"""Read-only history API (docs/history.md). Scoping comes from the base viewset; every list exports CSV.

Flat lists (`/api/v1/signal-samples/?net_device=`…) and the per-device paths the contract names
(`/api/v1/net-devices/{id}/signal-samples/`, `/api/v1/routers/{id}/state-samples/`…) are the same viewsets:
on the per-device paths a device outside the caller's scope answers 404.
"""
from __future__ import annotations

from django.db.models import F, Sum
from django.http import HttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework.decorators import action
from rest_framework.exceptions import NotFound, ValidationError

from history import filtersets
from history.api import serializers
from history.models import (Licence, LocationSample, Report, ReportSchedule, Rollup, RouterLog, SignalSample,
                            StateSample, UsageSample)
from history.reports import report_schedule_delete
from ncm_sync.models import NetDevice, Router
from portal.api.export import ExportableListMixin
from portal.api.viewsets import TenantScopedModelViewSet, TenantScopedReadOnlyViewSet
from portal.roles import Action


class SampleViewSet(ExportableListMixin, TenantScopedReadOnlyViewSet):
    ordering = ["-created_at", "-id"]
    ordering_fields = ["created_at"]

    def scoped_queryset(self, queryset):
        """On the per-device paths (a `net_device_id` / `router_id` URL kwarg): that device's rows, or 404 when
        the device is outside the caller's scope."""
        kwarg = next((k for k in ("net_device_id", "router_id") if k in self.kwargs), None)
        if kwarg is None:
            return queryset
        model = NetDevice if kwarg == "net_device_id" else Router
        try:
            device_pk = int(self.kwargs[kwarg])
        except (TypeError, ValueError):
            raise NotFound() from None
        if not model.objects.for_user(self.request.user, self.read_action).filter(pk=device_pk).exists():
            raise NotFound()
        return queryset.filter(**{kwarg: device_pk})


class SignalSampleViewSet(SampleViewSet):
    """net_device_signal_samples of the caller's modems, newest first; `?since=`/`?until=` (default 7 days)."""

    csv_name = "signal-samples"
    queryset = SignalSample.objects.all()
    serializer_class = serializers.SignalSampleSerializer
    filterset_class = filtersets.SignalSampleFilterSet


class UsageSampleViewSet(SampleViewSet):
    """net_device_usage_samples, newest first; `?since=`/`?until=` (default 7 days)."""

    csv_name = "usage-samples"
    queryset = UsageSample.objects.all()
    serializer_class = serializers.UsageSampleSerializer
    filterset_class = filtersets.UsageSampleFilterSet


class StateSampleViewSet(SampleViewSet):
    """router_state_samples (online/offline and for how long), newest first."""

    csv_name = "state-samples"
    queryset = StateSample.objects.all()
    serializer_class = serializers.StateSampleSerializer
    filterset_class = filtersets.StateSampleFilterSet


class LocationHistoryViewSet(SampleViewSet):
    """historical_locations, newest first."""

    csv_name = "locations-history"
    queryset = LocationSample.objects.all()
    serializer_class = serializers.LocationSampleSerializer
    filterset_class = filtersets.LocationSampleFilterSet


class RouterLogViewSet(SampleViewSet):
    """router_logs, newest first."""

    csv_name = "router-logs"
    queryset = RouterLog.objects.all()
    serializer_class = serializers.RouterLogSerializer
    filterset_class = filtersets.RouterLogFilterSet


GROUPS = {"modem": ("net_device_id", "router_id"), "router": ("router_id",), "tenant": ()}


@extend_schema_view(list=extend_schema(parameters=[
    OpenApiParameter("group_by", OpenApiTypes.STR, enum=list(GROUPS), description="modem (default), router or tenant."),
    OpenApiParameter("period", OpenApiTypes.STR, enum=["day", "month"], description="day (default) or month (UTC)."),
]))
class UsageViewSet(ExportableListMixin, TenantScopedReadOnlyViewSet):
    """Data usage (net_device_usage_samples rolled up) per modem, router or tenant, per day or month (UTC), for
    billing. `?since=`/`?until=` (default: the last 31 days, 13 months with period=month); CSV with `?format=csv`."""

    csv_name = "usage"
    csv_fields = ["tenant", "router", "net_device", "period", "start", "bytes_in", "bytes_out", "bytes_total", "samples"]
    queryset = Rollup.objects.all()
    serializer_class = serializers.UsageSerializer
    filterset_class = filtersets.UsageFilterSet
    ordering_fields = ["start"]

    def _choice(self, name, allowed, default):
        value = self.request.query_params.get(name) or default
        if value not in allowed:
            raise ValidationError({name: [f"One of: {', '.join(allowed)}."]})
        return value

    def filter_queryset(self, queryset):
        if getattr(self, "action", None) != "list":
            return super().filter_queryset(queryset).filter(kind="usage", period="day")
        group = self._choice("group_by", list(GROUPS), "modem")
        period = self._choice("period", ["day", "month"], "day")
        queryset = super().filter_queryset(queryset)
        keys = ["tenant_id", *GROUPS[group]]
        # Month rows are the monthly roll-ups (the filterset picks the period), so both read one row per bucket.
        queryset = queryset.annotate(start=F("bucket"))
        if group == "modem":
            return queryset.annotate(b_in=F("bytes_in"), b_out=F("bytes_out"), n=F("samples")).values(
                "id", *keys, "start", "b_in", "b_out", "n").order_by("-start", "-id")
        return queryset.values(*keys, "start").annotate(
            b_in=Sum("bytes_in"), b_out=Sum("bytes_out"), n=Sum("samples")).order_by("-start", *keys)


class LicenceViewSet(ExportableListMixin, TenantScopedReadOnlyViewSet):
    """Per device its NCM v3 licence (asset endpoint), subscription and end date; soonest end first.
    `?expiring_within=30` (days), `?expired=true`; CSV with `?format=csv`."""

    csv_name = "licences"
    queryset = Licence.objects.all()
    serializer_class = serializers.LicenceSerializer
    filterset_class = filtersets.LicenceFilterSet
    ordering = ["end_time", "id"]
    ordering_fields = ["end_time", "id"]
    search_fields = ["mac_address", "serial_number"]

    def scoped_queryset(self, queryset):
        return queryset.select_related("subscription")


class ReportScheduleViewSet(TenantScopedModelViewSet):
    """Scheduled reports of a tenant: `frequency` (weekly, monthly), `recipients` (emails), `enabled`."""

    queryset = ReportSchedule.objects.all()
    serializer_class = serializers.ReportScheduleSerializer
    filterset_class = filtersets.ReportScheduleFilterSet
    ordering_fields = ["id"]

    def perform_delete(self, instance):
        report_schedule_delete(actor=self.request.user, schedule=instance)


class ReportViewSet(TenantScopedReadOnlyViewSet):
    """The report history (newest first): figures, status, recipients; the PDF at `{id}/download/`."""

    queryset = Report.objects.defer("pdf")
    serializer_class = serializers.ReportSerializer
    filterset_class = filtersets.ReportFilterSet
    ordering_fields = ["id", "created_at"]

    @extend_schema(responses={(200, "application/pdf"): OpenApiTypes.BINARY})
    @action(detail=True, methods=["get"], required_action=Action.VIEW)
    def download(self, request, pk=None):
        report = self.get_object()
        pdf = Report.objects.filter(pk=report.pk).values_list("pdf", flat=True).first()
        response = HttpResponse(bytes(pdf or b""), content_type="application/pdf")
        response["Content-Disposition"] = f'attachment; filename="{report.filename}"'
        response["Cache-Control"] = "private, no-store"
        return response
