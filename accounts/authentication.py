"""API authentication: `Authorization: Token <token>` against hashed API tokens, or a browser session that
has passed two-factor sign-in. There is no password-only API authentication (no HTTP Basic): a password alone
must never reach the API of a user who has, or whose organization requires, a second factor."""
from __future__ import annotations

from rest_framework import authentication, exceptions

from accounts.services import api_token_lookup
from accounts.twofactor import verification_needed


class ApiTokenAuthentication(authentication.BaseAuthentication):
    keyword = "Token"

    def authenticate(self, request):
        header = authentication.get_authorization_header(request).split()
        if not header or header[0].lower() != self.keyword.lower().encode():
            return None
        if len(header) != 2:
            raise exceptions.AuthenticationFailed("Invalid token header: expected 'Token <token>'.")
        try:
            clear = header[1].decode()
        except UnicodeError:
            raise exceptions.AuthenticationFailed("Invalid token header.") from None
        token = api_token_lookup(clear)
        if token is None:
            raise exceptions.AuthenticationFailed("Invalid, expired or revoked token.")
        # The user object is loaded for this request only: the scoping helper reads the binding from it.
        token.user.token_tenant_id = token.tenant_id
        token.user.token_read_only = not token.write_enabled
        token.user.request_token = token
        return token.user, token

    def authenticate_header(self, request):
        return self.keyword


class VerifiedSessionAuthentication(authentication.SessionAuthentication):
    """The browser's session, only once two-factor sign-in is complete (the UI middleware says so too;
    this holds even where a request skips the middleware)."""

    def authenticate(self, request):
        result = super().authenticate(request)
        if result is not None and verification_needed(result[0]):
            raise exceptions.PermissionDenied(
                "Two-factor verification is required for this session. Sign in on the web page."
            )
        return result


try:  # document the token scheme in the OpenAPI schema
    from drf_spectacular.extensions import OpenApiAuthenticationExtension

    class ApiTokenAuthenticationScheme(OpenApiAuthenticationExtension):
        target_class = "accounts.authentication.ApiTokenAuthentication"
        name = "tokenAuth"

        def get_security_definition(self, auto_schema):
            return {
                "type": "apiKey",
                "in": "header",
                "name": "Authorization",
                "description": "`Token <token>`; create one with `manage.py create_api_token USERNAME` or POST /api/v1/tokens/.",
            }
    from drf_spectacular.authentication import SessionScheme

    class VerifiedSessionScheme(SessionScheme):
        target_class = "accounts.authentication.VerifiedSessionAuthentication"
except ImportError:  # pragma: no cover
    pass
