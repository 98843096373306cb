"""Portal-styled error pages (403, 404, 500), with a way back, also when DJANGO_DEBUG=1 (the demo).

portal/urls.py names these as handler403/404/500. With DEBUG on Django never calls handler404/handler500 (it shows
its technical pages, listing every URL pattern); so every page view is wrapped by `portal_errors` (ui/urls.py)
and unknown page paths end in `not_found_view`. The API (/api/, /hooks/) keeps JSON errors.
"""
from __future__ import annotations

import functools
import logging
from urllib.parse import urlsplit

from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponse, JsonResponse
from django.shortcuts import render
from django.template import loader
from django.utils.http import url_has_allowed_host_and_scheme

logger = logging.getLogger("django.request")

JSON_PREFIXES = ("/api/", "/hooks/")

TEXT = {
    403: ("You are not allowed to do that", "Your role does not allow this here. Ask an administrator of your "
          "organization if you need it."),
    404: ("Page not found", "There is no such page, or it is not one you can see."),
    500: ("Something went wrong", "The portal failed to answer this request. It has been logged; try again in a "
          "moment."),
}


def _json(request) -> bool:
    return request.path.startswith(JSON_PREFIXES)


def _back_url(request) -> str:
    """The page the person came from, when it is ours and not this very page."""
    referer = request.META.get("HTTP_REFERER") or ""
    if referer and url_has_allowed_host_and_scheme(referer, allowed_hosts={request.get_host()}, require_https=request.is_secure()):
        if urlsplit(referer).path != request.path:
            return referer
    return ""


def error_page(request, status: int, detail: str = "") -> HttpResponse:
    title, text = TEXT[status]
    if _json(request):
        return JsonResponse({"detail": detail or title}, status=status)
    context = {"status": status, "error_title": title, "error_text": text, "detail": detail,
               "back_url": _back_url(request), "request_id": getattr(request, "request_id", "")}
    return render(request, "ui/error.html", context, status=status)


def permission_denied(request, exception=None):
    detail = str(exception) if exception is not None and str(exception) else ""
    return error_page(request, 403, detail)


def page_not_found(request, exception=None):
    return error_page(request, 404)


def server_error(request):
    """No database, no session, no context processors: whatever failed may fail again."""
    if _json(request):
        return JsonResponse({"detail": "Internal server error. Quote this request id to your operator.",
                             "request_id": getattr(request, "request_id", None)}, status=500)
    title, text = TEXT[500]
    html = loader.get_template("ui/error_500.html").render(
        {"error_title": title, "error_text": text, "request_id": getattr(request, "request_id", "")})
    return HttpResponse(html, status=500)


def not_found_view(request, *args, **kwargs):
    """The last page URL pattern: an unknown page path answers the portal's 404 (also under DEBUG)."""
    raise Http404


def portal_errors(view):
    """Wrap a page view: Http404 answers the portal's 404 page; with DEBUG on, an unexpected exception answers
    the portal's 500 page (the traceback goes to the log) instead of Django's technical page. Without DEBUG
    Django's own handling (handler500, error reporting) is left alone."""

    @functools.wraps(view)
    def wrapped(request, *args, **kwargs):
        try:
            return view(request, *args, **kwargs)
        except Http404:
            return page_not_found(request)
        except PermissionDenied:
            raise  # handler403 renders it, with DEBUG on or off
        except Exception:
            if not settings.DEBUG:
                raise
            logger.exception("Internal Server Error: %s", request.path, extra={"status_code": 500, "request": request})
            return server_error(request)

    return wrapped
