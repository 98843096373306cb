from django.urls import path

from history.api import views
from portal.api.router import router

router.register("signal-samples", views.SignalSampleViewSet, basename="signal-sample")
router.register("usage-samples", views.UsageSampleViewSet, basename="usage-sample")
router.register("state-samples", views.StateSampleViewSet, basename="state-sample")
router.register("locations-history", views.LocationHistoryViewSet, basename="location-history")
router.register("router-logs", views.RouterLogViewSet, basename="router-log")
router.register("usage", views.UsageViewSet, basename="usage")
router.register("licences", views.LicenceViewSet, basename="licence")
router.register("report-schedules", views.ReportScheduleViewSet, basename="report-schedule")
router.register("reports", views.ReportViewSet, basename="report")

_list = {"get": "list"}

# The per-device paths (contract §4 "history"): the same viewsets, narrowed to a device in scope (else 404).
urlpatterns = [
    path("net-devices/<int:net_device_id>/signal-samples/", views.SignalSampleViewSet.as_view(_list),
         name="net-device-signal-samples"),
    path("net-devices/<int:net_device_id>/usage-samples/", views.UsageSampleViewSet.as_view(_list),
         name="net-device-usage-samples"),
    path("routers/<int:router_id>/state-samples/", views.StateSampleViewSet.as_view(_list),
         name="router-state-samples"),
    path("routers/<int:router_id>/locations-history/", views.LocationHistoryViewSet.as_view(_list),
         name="router-locations-history"),
    path("routers/<int:router_id>/logs/", views.RouterLogViewSet.as_view(_list), name="router-logs-nested"),
]
