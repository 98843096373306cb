"""`Authorization: Token <token>` authentication against hashed API tokens."""
from __future__ import annotations

from rest_framework import authentication, exceptions

from accounts.services import api_token_lookup


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
        return token.user, token

    def authenticate_header(self, request):
        return self.keyword


class LockoutAwareBasicAuthentication(authentication.BasicAuthentication):
    """HTTP Basic auth through `authenticate(request=...)` so django-axes counts failures; a locked-out
    (username, IP) pair answers 429 with a clear message instead of a generic 401."""

    def authenticate_credentials(self, userid, password, request=None):
        try:
            return super().authenticate_credentials(userid, password, request)
        except exceptions.AuthenticationFailed:
            if request is not None and getattr(request, "axes_locked_out", False):
                raise exceptions.Throttled(detail="Too many failed sign-ins for this user from your address; try again later.") from None
            raise


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
    class LockoutAwareBasicScheme(OpenApiAuthenticationExtension):
        target_class = "accounts.authentication.LockoutAwareBasicAuthentication"
        name = "basicAuth"

        def get_security_definition(self, auto_schema):
            return {"type": "http", "scheme": "basic"}
except ImportError:  # pragma: no cover
    pass
