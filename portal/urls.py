"""URL configuration: UI, admin, API v1 (+ schema and docs), health probes."""
from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView, SpectacularSwaggerView

import accounts.api.urls  # noqa: F401  (registers viewsets on the router)
import ncm_sync.api.urls  # noqa: F401
import devices.api.urls  # noqa: F401
import jobs.api.urls  # noqa: F401
import webhooks.api.urls  # noqa: F401
import history.api.urls
from portal import health, metrics
from portal.api.router import router
from webhooks import inbound

urlpatterns = [
    path("healthz", health.healthz, name="healthz"),
    path("readyz", health.readyz, name="readyz"),
    path("metrics", metrics.metrics, name="metrics"),
    path("admin/", admin.site.urls),
    # NCM alert push destinations post here (unguessable per-tenant token + x-cp-signature; no session).
    path("hooks/ncm/<str:token>/", inbound.ncm_alert_push, name="ncm-alert-push"),
    path("api/v1/", include(history.api.urls.urlpatterns)),
    path("api/v1/", include(router.urls)),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="api-schema"), name="api-docs"),
    path("api/redoc/", SpectacularRedocView.as_view(url_name="api-schema"), name="api-redoc"),
    path("", include("ui.urls")),
]

# Portal-styled error pages with a way back (JSON under /api/); ui/urls.py covers DEBUG, where Django skips these.
handler403 = "ui.views.errors.permission_denied"
handler404 = "ui.views.errors.page_not_found"
handler500 = "ui.views.errors.server_error"
