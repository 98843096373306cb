"""Request-scoped middleware: a request id for the audit log, and JSON (never HTML, never a trace) for API errors."""
from __future__ import annotations

import logging
import uuid
from contextvars import ContextVar

from django.http import JsonResponse

logger = logging.getLogger(__name__)

current_request_id: ContextVar[str | None] = ContextVar("current_request_id", default=None)


class RequestIdMiddleware:
    """Tags each request with an id (or the caller's X-Request-ID) that audit events carry."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        request_id = (request.headers.get("X-Request-ID") or "")[:64] or uuid.uuid4().hex
        request.request_id = request_id
        token = current_request_id.set(request_id)
        try:
            response = self.get_response(request)
        finally:
            current_request_id.reset(token)
        response["X-Request-ID"] = request_id
        return response


class ApiJsonErrorMiddleware:
    """Unhandled exceptions under /api/ answer a JSON 500 with the request id, never a stack trace."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_exception(self, request, exception):
        if not request.path.startswith("/api/"):
            return None
        logger.exception("Unhandled API error (request %s)", getattr(request, "request_id", "-"))
        return JsonResponse(
            {"detail": "Internal server error. Quote this request id to your operator.",
             "request_id": getattr(request, "request_id", None)},
            status=500,
        )
