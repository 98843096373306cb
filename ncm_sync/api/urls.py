from ncm_sync.api import views
from portal.api.router import router

router.register("accounts", views.AccountViewSet, basename="ncm-account")
router.register("groups", views.GroupViewSet, basename="ncm-group")
router.register("routers", views.RouterViewSet, basename="ncm-router")
router.register("net-devices", views.NetDeviceViewSet, basename="ncm-netdevice")
router.register("locations", views.LocationViewSet, basename="ncm-location")
router.register("alerts", views.AlertViewSet, basename="ncm-alert")
router.register("sync-runs", views.SyncRunViewSet, basename="syncrun")
router.register("tenants", views.TenantSyncViewSet, basename="tenant-sync")
