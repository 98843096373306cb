"""Writes for accounts: users, credentials, API tokens. Views and serializers call these."""
from __future__ import annotations

import hashlib
import secrets
import string
import zlib
from datetime import timedelta
from urllib.parse import urlsplit

from django.conf import settings
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from accounts.models import SECRET_FIELDS, ApiToken, Credential, Organization, Tenant, User
from accounts.roles import Action
from portal.crypto import decrypt_json, encrypt_json
from portal.scoping import allowed_organizations, allowed_tenants

__all__ = [
    "user_create",
    "user_update",
    "credential_save",
    "credential_secrets",
    "validate_base_url",
    "api_token_create",
    "api_token_revoke",
    "api_token_lookup",
    "rotate_all_secrets",
    "mask_secret",
]

#
# Users
#


def _default_home_scope(*, created_by: User) -> tuple[Organization | None, Tenant | None]:
    """The scope a new login belongs to when the caller administers exactly one."""
    orgs = list(allowed_organizations(created_by, Action.MANAGE_USERS)[:2])
    if len(orgs) == 1:
        return orgs[0], None
    if not orgs:
        tenants = list(allowed_tenants(created_by, Action.MANAGE_USERS)[:2])
        if len(tenants) == 1:
            return None, tenants[0]
    return None, None


def user_create(
    *,
    created_by: User,
    username: str,
    email: str = "",
    password: str | None = None,
    home_organization: Organization | None = None,
    home_tenant: Tenant | None = None,
    first_name: str = "",
    last_name: str = "",
) -> User:
    """Create a login managed by an organization or tenant the creator administers."""
    if not home_organization and not home_tenant and not created_by.is_superuser:
        home_organization, home_tenant = _default_home_scope(created_by=created_by)
        if not home_organization and not home_tenant:
            raise ValidationError(
                {"organization": ["Say which organization or tenant manages this user (you administer several)."]}
            )
    user = User(
        username=username,
        email=email,
        first_name=first_name,
        last_name=last_name,
        home_organization=home_organization,
        home_tenant=home_tenant,
    )
    if password:
        _set_password(user, password)
    else:
        user.set_unusable_password()
    user.full_clean(exclude=["password"])
    user.save()
    return user


def _set_password(user: User, password: str) -> None:
    """Validate against the password policy (errors name the field), then hash."""
    try:
        validate_password(password, user)
    except ValidationError as exc:
        raise ValidationError({"password": exc.messages}) from None
    user.set_password(password)


def user_update(*, user: User, password: str | None = None, **fields) -> User:
    for name, value in fields.items():
        setattr(user, name, value)
    if password:
        _set_password(user, password)
    user.save()
    return user


#
# Credentials
#


def validate_base_url(value: str) -> str:
    """A credential's base URL must be http(s), without credentials or query, under an allowed prefix."""
    value = (value or "").strip().rstrip("/")
    parts = urlsplit(value)
    if parts.scheme not in {"http", "https"} or not parts.hostname:
        raise ValidationError({"base_url": ["Enter an http(s) URL such as https://www.cradlepointecm.com/api/v2."]})
    if parts.username or parts.password or parts.query or parts.fragment:
        raise ValidationError({"base_url": ["The base URL may not contain a user, password, query or fragment."]})
    if not any(value == prefix.rstrip("/") or value.startswith(prefix) for prefix in settings.NCM_ALLOWED_BASE_URLS):
        raise ValidationError(
            {"base_url": ["This base URL is not allowed. Allowed prefixes (NCM_ALLOWED_BASE_URLS): "
                          + ", ".join(settings.NCM_ALLOWED_BASE_URLS)]}
        )
    return value


def mask_secret(value: str) -> str:
    if not value:
        return ""
    return "••••" + value[-4:] if len(value) >= 12 else "••••"


def credential_save(
    *,
    tenant: Tenant,
    provider: str,
    base_url: str | None,
    secrets_in: dict[str, str],
    credential: Credential | None = None,
) -> Credential:
    """Create or update a credential. Secrets not given on update keep their stored value."""
    base_url = validate_base_url(base_url or (credential.base_url if credential else settings.NCM_DEFAULT_BASE_URL))
    current = decrypt_json(credential.secrets_encrypted) if credential else {}
    merged = {name: current.get(name, "") for name in SECRET_FIELDS}
    merged.update({name: value for name, value in secrets_in.items() if name in SECRET_FIELDS and value is not None})
    missing = [name for name in ("cp_api_id", "cp_api_key", "ecm_api_id", "ecm_api_key") if not merged.get(name)]
    if missing:
        raise ValidationError({name: ["This field is required."] for name in missing})
    credential = credential or Credential(tenant=tenant)
    credential.tenant = tenant
    credential.provider = provider
    credential.base_url = base_url
    credential.secrets_encrypted = encrypt_json(merged)
    credential.secret_hints = {name: mask_secret(merged.get(name, "")) for name in SECRET_FIELDS}
    credential.save()
    return credential


def credential_secrets(credential: Credential) -> dict[str, str]:
    """Decrypted secrets, for the NCM client only. Never serialise, log or render the result."""
    return decrypt_json(credential.secrets_encrypted)


def rotate_all_secrets() -> int:
    """Re-encrypt every stored secret under the first key of PORTAL_ENCRYPTION_KEYS. Returns rows rotated."""
    from django.apps import apps

    from portal.models import EncryptedSecretsMixin

    with transaction.atomic():
        return sum(
            model.rotate_encrypted_secrets() for model in apps.get_models() if issubclass(model, EncryptedSecretsMixin)
        )


#
# API tokens
#
TOKEN_PREFIX = "ncmp_"
_ALPHABET = string.ascii_letters + string.digits
LAST_USED_RESOLUTION = timedelta(minutes=1)


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _base62(number: int, width: int) -> str:
    chars = []
    for _ in range(width):
        number, rem = divmod(number, 62)
        chars.append(_ALPHABET[rem])
    return "".join(reversed(chars))


def api_token_create(
    *, user: User, name: str = "", expires_days: int | None = None, tenant: Tenant | None = None,
    write_enabled: bool = True,
) -> tuple[ApiToken, str]:
    """Create a token; returns (row, clear value). The clear value is never stored or shown again.

    Format: `ncmp_` + 36 base62 characters + 6-character CRC32 checksum (secret scanners can verify it).
    """
    if expires_days is not None and expires_days < 1:
        raise ValidationError({"expires_days": ["Must be at least 1 day."]})
    if tenant is not None and not Tenant.objects.for_user(user).filter(pk=tenant.pk).exists():
        raise ValidationError({"tenant": ["You have no role on this tenant."]})
    body = "".join(secrets.choice(_ALPHABET) for _ in range(36))
    clear = f"{TOKEN_PREFIX}{body}{_base62(zlib.crc32(body.encode()), 6)}"
    token = ApiToken.objects.create(
        user=user,
        name=name,
        prefix=clear[: len(TOKEN_PREFIX) + 6],
        digest=_digest(clear),
        expires_at=timezone.now() + timedelta(days=expires_days) if expires_days else None,
        tenant=tenant,
        write_enabled=write_enabled,
    )
    return token, clear


def api_token_lookup(clear: str) -> ApiToken | None:
    """The active token with this value, touching `last_used_at` at most once a minute."""
    token = ApiToken.objects.select_related("user").filter(digest=_digest(clear)).first()
    if token is None or not token.is_active or not token.user.is_active:
        return None
    now = timezone.now()
    if token.last_used_at is None or now - token.last_used_at > LAST_USED_RESOLUTION:
        ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
        token.last_used_at = now
    return token


def api_token_revoke(*, token: ApiToken) -> ApiToken:
    if token.revoked_at is None:
        token.revoked_at = timezone.now()
        token.save(update_fields=["revoked_at"])
    return token
