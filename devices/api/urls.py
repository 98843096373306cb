from devices.api import views
from portal.api.router import router

router.register("sites", views.SiteViewSet, basename="site")
router.register("devices", views.DeviceViewSet, basename="device")
