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


def readyz(request):
    """200 only when the database and the broker answer."""
    failures = {name: error for name, error in (("database", _check_database()), ("broker", _check_broker())) if error}
    if failures:
        logger.warning("Readiness check failed: %s", failures)
        return JsonResponse({"status": "unavailable", "failures": failures}, status=503)
    return JsonResponse({"status": "ok"})
