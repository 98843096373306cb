from jobs.api import views
from portal.api.router import router

router.register("jobs", views.JobViewSet, basename="job")
router.register("job-items", views.JobItemViewSet, basename="jobitem")
router.register("speed-test-results", views.SpeedTestResultViewSet, basename="speedtestresult")
router.register("maintenance-windows", views.MaintenanceWindowViewSet, basename="maintenancewindow")
router.register("org-jobs", views.OrgJobViewSet, basename="orgjob")
