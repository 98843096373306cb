"""`/metrics`: Prometheus text for operators, behind `Authorization: Bearer $PORTAL_METRICS_TOKEN`.

Without the token configured, or without the right bearer, it answers 404 (the endpoint does not exist for
anyone else). Each app contributes its own figures (settings.METRICS_COLLECTORS: dotted callables yielding
prometheus_client metric families), read from the database at scrape time, so every web process reports the
same numbers whatever process did the work.
"""
from __future__ import annotations

import hmac
import logging

from django.conf import settings
from django.http import Http404, HttpResponse
from django.utils.module_loading import import_string
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.exposition import CONTENT_TYPE_LATEST

logger = logging.getLogger(__name__)

__all__ = ["metrics"]


class _AppsCollector:
    def collect(self):
        failed = GaugeMetricFamily("portal_metrics_collector_errors", "Collectors that failed in this scrape.",
                                   labels=["collector"])
        for path in getattr(settings, "METRICS_COLLECTORS", []):
            try:
                yield from import_string(path)()
            except Exception as exc:  # a broken collector never hides the others
                logger.warning("metrics collector %s failed: %s", path, exc.__class__.__name__)
                failed.add_metric([path], 1)
        yield failed


def _authorized(request) -> bool:
    token = getattr(settings, "PORTAL_METRICS_TOKEN", "") or ""
    header = request.headers.get("Authorization", "")
    return bool(token) and header.startswith("Bearer ") and hmac.compare_digest(header[7:].strip(), token)


def metrics(request):
    if not _authorized(request):
        raise Http404
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_AppsCollector())
    return HttpResponse(generate_latest(registry), content_type=CONTENT_TYPE_LATEST)
