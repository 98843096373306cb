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

__all__ = ["metrics", "celery_queues", "queue_names"]

# kombu's Redis transport keeps a queue's messages of priority p (other than the default) in `<queue>\x06\x16<p>`.
_PRIORITY_SEP = "\x06\x16"
_PRIORITY_STEPS = (0, 3, 6, 9)


def queue_names() -> list[str]:
    """Every queue the portal routes work to (settings.CELERY_TASK_ROUTES) and the default one."""
    names = {route["queue"] for route in getattr(settings, "CELERY_TASK_ROUTES", {}).values() if "queue" in route}
    names.add(getattr(settings, "CELERY_TASK_DEFAULT_QUEUE", "celery"))
    return sorted(names)


def _redis_depths(url: str, names: list[str]) -> tuple[dict[str, int], int]:
    import redis

    client = redis.Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2)
    try:
        pipe = client.pipeline(transaction=False)
        for name in names:
            for step in _PRIORITY_STEPS:
                pipe.llen(name if step == 0 else f"{name}{_PRIORITY_SEP}{step}")
        pipe.hlen("unacked")  # delivered to a worker, not yet acknowledged (kombu's Redis transport)
        answers = pipe.execute()
    finally:
        client.close()
    per = len(_PRIORITY_STEPS)
    return {name: sum(answers[i * per:(i + 1) * per]) for i, name in enumerate(names)}, answers[-1]


def celery_queues():
    """Messages waiting in each Celery queue (METRICS_COLLECTORS). Read with LLEN when the broker is Redis;
    another broker (the demo's filesystem, RabbitMQ: use its own exporter) reports no depth rather than failing."""
    depth = GaugeMetricFamily("portal_celery_queue_length", "Tasks waiting in each Celery queue (Redis broker).",
                              labels=["queue"])
    unacked = GaugeMetricFamily("portal_celery_unacked_tasks", "Tasks handed to a worker and not yet acknowledged (Redis broker).")
    readable = GaugeMetricFamily("portal_celery_queue_length_readable",
                                 "1 when the broker's queue lengths could be read (Redis), 0 otherwise.")
    url = str(getattr(settings, "CELERY_BROKER_URL", "") or "")
    ok = 0.0
    if url.startswith(("redis://", "rediss://", "unix://")):
        try:
            depths, pending = _redis_depths(url, queue_names())
        except Exception as exc:  # broker down: say so, never fail the scrape
            logger.warning("metrics: Celery broker unreadable: %s", exc.__class__.__name__)
        else:
            for name, count in depths.items():
                depth.add_metric([name], count)
            unacked.add_metric([], pending)
            ok = 1.0
    readable.add_metric([], ok)
    yield depth
    yield unacked
    yield readable


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
