"""Liveness and readiness probes."""
from __future__ import annotations

import logging

from django.db import connection
from django.http import JsonResponse

logger = logging.getLogger(__name__)


def healthz(request):
    """200 while the process lives."""
    return JsonResponse({"status": "ok"})


def _check_database() -> str | None:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        return None
    except Exception as exc:  # report, never raise: this is a probe
        return exc.__class__.__name__


def _check_broker() -> str | None:
    from portal.celery import app

    try:
        with app.connection_for_write() as conn:
            conn.ensure_connection(max_retries=1, timeout=2)
        return None
    except Exception as exc:
        return exc.__class__.__name__


def _reports() -> dict:
    """Extra facts the apps report (settings.READYZ_REPORTS: name -> dotted callable returning a dict)."""
    from django.conf import settings
    from django.utils.module_loading import import_string

    reports = {}
    for name, path in getattr(settings, "READYZ_REPORTS", {}).items():
        try:
            reports[name] = import_string(path)()
        except Exception as exc:  # report, never raise: this is a probe
            reports[name] = {"error": exc.__class__.__name__}
    return reports


def readyz(request):
    """200 only when the database and the broker answer. The apps' reports ride along (e.g. `sync_dispatcher`:
    whether scheduled syncs run; a warning, not a failure: web serves fine without beat)."""
    failures = {name: error for name, error in (("database", _check_database()), ("broker", _check_broker())) if error}
    if failures:
        logger.warning("Readiness check failed: %s", failures)
        return JsonResponse({"status": "unavailable", "failures": failures}, status=503)
    return JsonResponse({"status": "ok", **_reports()})
