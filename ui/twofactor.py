"""Two-factor sign-in (TOTP, django-otp): who must use it, and the middleware that enforces it.

A user must verify a TOTP code after the password when they have a confirmed device, or when any
organization they belong to (directly, through a tenant, or as its managed login) sets
`require_two_factor`; such a user without a device is sent to enrol first. Until then every page answers
with a redirect (and the session-authenticated API with 403), except sign-out and the two-factor pages.
"""
from __future__ import annotations

from django.http import JsonResponse
from django.shortcuts import redirect
from django.urls import reverse

from accounts.twofactor import requires_two_factor, verification_needed

__all__ = ["requires_two_factor", "TwoFactorEnforcementMiddleware", "SESSION_PENDING_KEY"]

SESSION_PENDING_KEY = "ui_2fa_next"


EXEMPT_PREFIXES = ("/static/", "/healthz", "/readyz", "/login/", "/logout/", "/account/2fa/")


class TwoFactorEnforcementMiddleware:
    """Place after django_otp.middleware.OTPMiddleware."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        path = request.path
        user = getattr(request, "user", None)
        if user is not None and not path.startswith(EXEMPT_PREFIXES) and user.is_authenticated:
            needed = verification_needed(user)
            if needed:
                if path.startswith("/api/"):
                    return JsonResponse(
                        {"detail": "Two-factor verification is required for this session. Sign in on the web page."},
                        status=403,
                    )
                target = reverse("ui:2fa-verify" if needed == "verify" else "ui:2fa-setup")
                if request.method == "GET" and not request.headers.get("HX-Request"):
                    request.session[SESSION_PENDING_KEY] = request.get_full_path()
                if request.headers.get("HX-Request"):
                    response = JsonResponse({"detail": "two-factor verification required"}, status=403)
                    response["HX-Redirect"] = target
                    return response
                return redirect(target)
        return self.get_response(request)
