"""Writes for accounts: organizations, tenants, users, memberships, credentials, API tokens.

The API, the UI and the admin all call these, and each write that names a scope (organization, tenant,
user, role, token binding) is authorized here, on that target, before anything is saved
(accounts/authorization.py). `actor=None` is the platform itself (management commands, the demo seed).
"""
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

from accounts.authorization import ScopeDenied, require_action, require_can_grant, require_manages_user
from accounts.audit import AuditAction, record_change, snapshot
from accounts.models import PROVIDER_REQUIRED_SECRETS, PROVIDER_SECRETS, SECRET_FIELDS, ApiToken, Credential, Membership, Organization, Tenant, User
from accounts.roles import Action
from portal.crypto import decrypt_json, encrypt_json
from portal.scoping import allowed_organizations, allowed_tenants, is_operator, token_tenant_id

__all__ = [
    "organization_update",
    "organization_create",
    "organization_delete",
    "tenant_save",
    "tenant_delete",
    "user_create",
    "user_update",
    "authorize_user_update",
    "membership_create",
    "membership_update",
    "membership_delete",
    "credential_save",
    "credential_record_test",
    "record_account_action",
    "credential_secrets",
    "validate_base_url",
    "api_token_create",
    "api_token_rename",
    "api_token_revoke",
    "api_token_lookup",
    "rotate_all_secrets",
    "mask_secret",
]

def _audit(actor, action: str, instance, *, before: dict | None = None, extra: dict | None = None) -> None:
    """Audit a person's write (the face it came through comes from the request); the platform's own writes
    (`actor=None`: management commands, the demo seed) are not audited."""
    if actor is not None:
        record_change(actor=actor, action=action, instance=instance, before=before,
                      after=snapshot(instance) if action == AuditAction.UPDATE else None, extra=extra)


def record_account_action(*, user: User, name: str, instance=None) -> None:
    """Audit a sign-in security action on one's own account (two-factor on/off, password changed)."""
    _audit(user, AuditAction.ACTION, instance or user, extra={"action": name})


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
    if home_organization and home_tenant:
        raise ValidationError({"organization": ["Give at most one of organization or tenant."]})
    if not home_organization and not home_tenant and not created_by.is_superuser:
        home_organization, home_tenant = _default_home_scope(created_by=created_by)
        if not home_organization and not home_tenant:
            raise ValidationError(
                {"organization": ["Say which organization or tenant manages this user (you administer several)."]}
            )
    if home_organization or home_tenant:
        require_action(created_by, Action.MANAGE_USERS, organization=home_organization, tenant=home_tenant)
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
    _audit(created_by, AuditAction.CREATE, user)
    return user


def _set_password(user: User, password: str) -> None:
    """Validate against the password policy (errors name the field), then hash."""
    try:
        validate_password(password, user)
    except ValidationError as exc:
        raise ValidationError({"password": exc.messages}) from None
    user.set_password(password)


# What a login may change on itself; everything else about a login is changed by someone who manages it.
SELF_EDITABLE_FIELDS = frozenset({"email", "first_name", "last_name"})
USER_FIELDS = SELF_EDITABLE_FIELDS | {"is_active", "home_organization", "home_tenant"}


def authorize_user_update(*, actor: User | None, user: User, fields: dict) -> None:
    """Refuse a change to `user` that `actor` may not make (shared by user_update and the admin)."""
    unknown = set(fields) - USER_FIELDS
    if unknown:
        raise ValidationError({sorted(unknown)[0]: ["This field cannot be changed here."]})
    if actor is None or (actor.pk == user.pk and set(fields) <= SELF_EDITABLE_FIELDS):
        return
    require_manages_user(actor, user)
    home_org = fields.get("home_organization", user.home_organization)
    home_tenant = fields.get("home_tenant", user.home_tenant)
    if home_org and home_tenant:
        raise ValidationError({"organization": ["Give at most one of organization or tenant."]})
    moved = ("home_organization" in fields and fields["home_organization"] != user.home_organization) or (
        "home_tenant" in fields and fields["home_tenant"] != user.home_tenant)
    if moved and (home_org or home_tenant):
        require_action(actor, Action.MANAGE_USERS, organization=home_org, tenant=home_tenant)


def user_update(*, actor: User | None, user: User, password: str | None = None, **fields) -> User:
    """Change a login. Its managers may change anything here; the login itself only its profile and
    password. Platform flags (`is_superuser`, `is_staff`, permissions) are never changed here."""
    authorize_user_update(actor=actor, user=user, fields=fields)
    if password and actor is not None and actor.pk == user.pk and token_tenant_id(actor) is not None:
        # A token bound to one tenant would otherwise set a password and sign in with the owner's whole reach.
        raise ScopeDenied("A token bound to one tenant cannot change its owner's password.")
    before = snapshot(user)
    for name, value in fields.items():
        setattr(user, name, value)
    if password:
        _set_password(user, password)
    user.save()
    _audit(actor, AuditAction.UPDATE, user, before=before)
    return user


#
# Memberships
#
def _scope_of(organization, tenant) -> tuple[Organization | None, Tenant | None]:
    if bool(organization) == bool(tenant):
        raise ValidationError({"organization": ["Give exactly one of organization or tenant."]})
    return organization, tenant


def membership_create(
    *, actor: User | None, user: User, role: str, organization: Organization | None = None,
    tenant: Tenant | None = None,
) -> Membership:
    """Give `user` a role on an organization or tenant. The actor must manage the user (never itself) and
    hold, on that scope, `manage_users` and every action the role allows."""
    organization, tenant = _scope_of(organization, tenant)
    if actor is not None:
        require_manages_user(actor, user)
        require_can_grant(actor, role, organization=organization, tenant=tenant)
    membership = Membership(user=user, organization=organization, tenant=tenant, role=role)
    membership.full_clean(validate_unique=False)
    membership.save()
    _audit(actor, AuditAction.CREATE, membership)
    return membership


def membership_update(
    *, actor: User | None, membership: Membership, role: str | None = None, user: User | None = None,
    **scope,
) -> Membership:
    """Change a membership's role or scope. Both the scope it leaves and the one it enters are checked."""
    if user is not None and user.pk != membership.user_id:
        raise ValidationError({"user": ["A membership's user cannot change; remove it and add a new one."]})
    organization = scope.get("organization", membership.organization)
    tenant = scope.get("tenant", membership.tenant)
    if "organization" in scope and "tenant" not in scope and organization:
        tenant = None
    if "tenant" in scope and "organization" not in scope and tenant:
        organization = None
    organization, tenant = _scope_of(organization, tenant)
    role = role or membership.role
    if actor is not None:
        require_manages_user(actor, membership.user)
        require_action(actor, Action.MANAGE_USERS, organization=membership.organization, tenant=membership.tenant)
        require_can_grant(actor, role, organization=organization, tenant=tenant)
    before = snapshot(membership)
    membership.organization, membership.tenant, membership.role = organization, tenant, role
    membership.full_clean(validate_unique=False)
    membership.save()
    _audit(actor, AuditAction.UPDATE, membership, before=before)
    return membership


def membership_delete(*, actor: User | None, membership: Membership) -> None:
    if actor is not None:
        require_manages_user(actor, membership.user)
        require_action(actor, Action.MANAGE_USERS, organization=membership.organization, tenant=membership.tenant)
    _audit(actor, AuditAction.DELETE, membership, before=snapshot(membership))
    membership.delete()


#
# Organizations and tenants
#
ORGANIZATION_FIELDS = frozenset({"name", "slug", "require_two_factor", "job_approval_threshold"})


def organization_update(*, actor: User | None, organization: Organization, **fields) -> Organization:
    """Rename an organization or change its sign-in policy: its admins (`manage_users`) only."""
    if actor is not None:
        require_action(actor, Action.MANAGE_USERS, organization=organization)
    before = snapshot(organization)
    for name, value in fields.items():
        if name in ORGANIZATION_FIELDS and hasattr(organization, name):
            setattr(organization, name, value)
    organization.full_clean()
    organization.save()
    _audit(actor, AuditAction.UPDATE, organization, before=before)
    return organization


def organization_create(*, actor: User | None, name: str, slug: str, **fields) -> Organization:
    """A new MSP organization: the platform operator only."""
    if actor is not None and not is_operator(actor):
        raise ScopeDenied("Only the platform operator creates an organization.")
    organization = Organization(name=name, slug=slug,
                                **{k: v for k, v in fields.items() if k in ORGANIZATION_FIELDS})
    organization.full_clean()
    organization.save()
    _audit(actor, AuditAction.CREATE, organization)
    return organization


def organization_delete(*, actor: User | None, organization: Organization) -> None:
    """Remove an MSP organization: the platform operator only (its tenants protect it until they are gone)."""
    if actor is not None and not is_operator(actor):
        raise ScopeDenied("Only the platform operator removes an organization.")
    before, pk = snapshot(organization), organization.pk
    organization.delete()
    organization.pk = pk
    _audit(actor, AuditAction.DELETE, organization, before=before)


TENANT_FIELDS = frozenset({"name", "slug", "timezone", "sync_interval_minutes"})


def tenant_save(*, actor: User | None, tenant: Tenant | None = None, organization: Organization | None = None,
                **fields) -> Tenant:
    """Create a tenant in an organization, or change one. Creating or moving a tenant needs `change` on the
    organization (an organization-level role): a customer cannot add tenants to its MSP."""
    creating = tenant is None
    tenant = tenant or Tenant()
    target_org = organization or (tenant.organization if not creating else None)
    if target_org is None:
        raise ValidationError({"organization": ["This field is required."]})
    if actor is not None:
        if creating or target_org.pk != tenant.organization_id:
            require_action(actor, Action.CHANGE, organization=target_org)
        if not creating:
            require_action(actor, Action.CHANGE, tenant=tenant)
    before = None if creating else snapshot(tenant)
    tenant.organization = target_org
    for name, value in fields.items():
        if name in TENANT_FIELDS:
            setattr(tenant, name, value)
    tenant.full_clean(validate_unique=False)
    tenant.save()
    _audit(actor, AuditAction.CREATE if creating else AuditAction.UPDATE, tenant, before=before)
    return tenant


def tenant_delete(*, actor: User | None, tenant: Tenant) -> None:
    """Delete a customer account: an organization-level `change` role only (a customer cannot remove itself
    from its MSP). Mirrored data and jobs protect it (409) until they are gone."""
    if actor is not None:
        require_action(actor, Action.CHANGE, organization=tenant.organization)
    before, pk = snapshot(tenant), tenant.pk
    tenant.delete()
    tenant.pk = pk
    _audit(actor, AuditAction.DELETE, tenant, before=before)


#
# Credentials
#


def validate_base_url(value: str, provider: str = "ncm") -> str:
    """A credential's base URL must be http(s), without credentials or query, under an allowed prefix."""
    allowed, setting = ((settings.ECCLOUD_ALLOWED_BASE_URLS, "ECCLOUD_ALLOWED_BASE_URLS") if provider == "eccloud"
                        else (settings.NCM_ALLOWED_BASE_URLS, "NCM_ALLOWED_BASE_URLS"))
    value = (value or "").strip().rstrip("/")
    parts = urlsplit(value)
    if parts.scheme not in {"http", "https"} or not parts.hostname:
        raise ValidationError({"base_url": ["Enter an http(s) URL such as https://www.cradlepointecm.com/api/v2."]})
    if parts.username or parts.password or parts.query or parts.fragment:
        raise ValidationError({"base_url": ["The base URL may not contain a user, password, query or fragment."]})
    if not any(value == prefix.rstrip("/") or value.startswith(prefix) for prefix in allowed):
        raise ValidationError(
            {"base_url": [f"This base URL is not allowed. Allowed prefixes ({setting}): " + ", ".join(allowed)]}
        )
    return value


# A hint shows a secret's last four characters, so people can tell keys apart, when the secret is long enough
# (8+) that four characters leave at least as many hidden; shorter ones show no characters at all.
HINT_MIN_LENGTH = 8


def mask_secret(value: str) -> str:
    if not value:
        return ""
    return "••••" + value[-4:] if len(value) >= HINT_MIN_LENGTH else "••••"


def credential_save(
    *,
    actor: User | None = None,
    tenant: Tenant,
    provider: str,
    base_url: str | None,
    secrets_in: dict[str, str],
    credential: Credential | None = None,
) -> Credential:
    """Create or update a credential. Secrets not given on update keep their stored value."""
    if actor is not None:
        require_action(actor, Action.MANAGE_CREDENTIALS, tenant=tenant)
        if credential is not None and credential.tenant_id != tenant.pk:
            require_action(actor, Action.MANAGE_CREDENTIALS, tenant=credential.tenant)
    if provider not in PROVIDER_SECRETS:
        raise ValidationError({"provider": [f"Unknown provider {provider!r}: one of {', '.join(PROVIDER_SECRETS)}."]})
    if credential is not None and credential.provider != provider:
        raise ValidationError({"provider": ["A credential's provider cannot change; create another credential."]})
    default_base = settings.ECCLOUD_DEFAULT_BASE_URL if provider == "eccloud" else settings.NCM_DEFAULT_BASE_URL
    base_url = validate_base_url(base_url or (credential.base_url if credential else default_base), provider)
    if credential is None and Credential.objects.filter(tenant=tenant, provider=provider).exists():
        raise ValidationError({"provider": [f"This tenant already has a {provider} credential; update that one."]})
    current = decrypt_json(credential.secrets_encrypted) if credential else {}
    used = PROVIDER_SECRETS[provider]
    merged = {name: current.get(name, "") if name in used else "" for name in SECRET_FIELDS}
    merged.update({name: value for name, value in secrets_in.items() if name in used and value is not None})
    missing = [name for name in PROVIDER_REQUIRED_SECRETS[provider] if not merged.get(name)]
    if missing:
        raise ValidationError({name: ["This field is required."] for name in missing})
    before = snapshot(credential) if credential is not None else None
    credential = credential or Credential(tenant=tenant)
    credential.tenant = tenant
    credential.provider = provider
    credential.base_url = base_url
    credential.secrets_encrypted = encrypt_json(merged)
    credential.secret_hints = {name: mask_secret(merged.get(name, "")) for name in SECRET_FIELDS}
    credential.save()
    _audit(actor, AuditAction.UPDATE if before else AuditAction.CREATE, credential, before=before)
    return credential


def credential_record_test(*, actor: User | None, credential: Credential, ok: bool, title: str) -> None:
    """Record a connection test of this credential: `last_verified_at` when it succeeded, and the audit entry."""
    if actor is not None:
        require_action(actor, Action.MANAGE_CREDENTIALS, tenant=credential.tenant)
    if ok:
        credential.last_verified_at = timezone.now()
        Credential.objects.filter(pk=credential.pk).update(last_verified_at=credential.last_verified_at)
    _audit(actor, AuditAction.ACTION, credential, extra={"action": "test_connection", "ok": ok, "result": title})


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


def _request_token(user) -> ApiToken | None:
    """The API token this request authenticated with (set by accounts.authentication), if any."""
    return getattr(user, "request_token", None)


def api_token_create(
    *, user: User, name: str = "", expires_days: int | None = None, tenant: Tenant | None = None,
    write_enabled: bool = True,
) -> tuple[ApiToken, str]:
    """Create a token of `user` (as authenticated: a session, or a token); returns (row, clear value). The
    clear value is never stored or shown again.

    A token never creates a token wider than itself: a read-only token creates none, a tenant-bound token
    only tokens bound to the same tenant, and no new token outlives the one that made it.

    Format: `ncmp_` + 36 base62 characters + 6-character CRC32 checksum (secret scanners can verify it).
    """
    if expires_days is not None and expires_days < 1:
        raise ValidationError({"expires_days": ["Must be at least 1 day."]})
    expires_at = timezone.now() + timedelta(days=expires_days) if expires_days else None
    parent = _request_token(user)
    if parent is not None:
        if not parent.write_enabled:
            raise ScopeDenied("A read-only token cannot create tokens.")
        if parent.tenant_id is not None and (tenant is None or tenant.pk != parent.tenant_id):
            raise ValidationError({"tenant": [
                f"This token is bound to tenant {parent.tenant_id}: it can only create tokens bound to that tenant."]})
        if parent.expires_at is not None:
            if expires_at is not None and expires_at > parent.expires_at:
                raise ValidationError({"expires_days": ["A token cannot outlive the token that creates it."]})
            expires_at = expires_at or parent.expires_at
    if tenant is not None and not Tenant.objects.for_user(user).filter(pk=tenant.pk).exists():
        raise ValidationError({"tenant": ["You have no role on this tenant."]})
    body = "".join(secrets.choice(_ALPHABET) for _ in range(36))
    clear = f"{TOKEN_PREFIX}{body}{_base62(zlib.crc32(body.encode()), 6)}"
    token = ApiToken.objects.create(
        user=user,
        name=name,
        prefix=clear[: len(TOKEN_PREFIX) + 6],
        digest=_digest(clear),
        expires_at=expires_at,
        tenant=tenant,
        write_enabled=write_enabled,
    )
    _audit(user, AuditAction.CREATE, token)
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


def api_token_rename(*, actor: User | None, token: ApiToken, name: str) -> ApiToken:
    """Only a token's label changes after creation: its reach is fixed. Same reach rule as revoking."""
    if actor is not None:
        parent = _request_token(actor)
        if parent is not None and parent.pk != token.pk and parent.tenant_id is not None and token.tenant_id != parent.tenant_id:
            raise ScopeDenied("This token is bound to one tenant: it can rename only itself or tokens bound there.")
        if token.user_id != actor.pk:
            require_manages_user(actor, token.user)
    before = snapshot(token)
    token.name = name
    token.save(update_fields=["name"])
    _audit(actor, AuditAction.UPDATE, token, before=before)
    return token


def api_token_revoke(*, actor: User | None, token: ApiToken) -> ApiToken:
    """Revoke a token. A token may always revoke itself; a tenant-bound token only tokens bound to its tenant;
    other users' tokens need `manage_users` over their owner."""
    if actor is not None:
        parent = _request_token(actor)
        if parent is None or parent.pk != token.pk:
            if parent is not None and parent.tenant_id is not None and token.tenant_id != parent.tenant_id:
                raise ScopeDenied("This token is bound to one tenant: it can revoke only itself or tokens bound there.")
            if token.user_id != actor.pk:
                require_manages_user(actor, token.user)
    if token.revoked_at is None:
        token.revoked_at = timezone.now()
        token.save(update_fields=["revoked_at"])
        _audit(actor, AuditAction.ACTION, token, extra={"action": "revoke"})
    return token


#
# Two-factor sign-in (TOTP devices of one's own account)
#
TOTP_DEVICE_NAME = "Authenticator app"


def two_factor_pending_device(*, user: User):
    """The unconfirmed TOTP device enrolment shows as a QR code (made once, reused until confirmed)."""
    from django_otp.plugins.otp_totp.models import TOTPDevice

    device = TOTPDevice.objects.filter(user=user, confirmed=False).first()
    return device or TOTPDevice.objects.create(user=user, name=TOTP_DEVICE_NAME, confirmed=False)


def two_factor_confirm(*, user: User, device, code: str) -> bool:
    """Confirm enrolment with one current code; audited."""
    if device.user_id != user.pk or not device.verify_token(code):
        return False
    device.confirmed = True
    device.save(update_fields=["confirmed"])
    record_account_action(user=user, name="two_factor_enabled")
    return True


def two_factor_disable(*, user: User, code: str) -> bool:
    """Turn two-factor sign-in off with a current code, unless an organization of the user requires it."""
    from django_otp import devices_for_user
    from django_otp.plugins.otp_totp.models import TOTPDevice

    from accounts.twofactor import requires_two_factor

    if requires_two_factor(user):
        raise ScopeDenied("Your organization requires two-factor sign-in; it cannot be turned off.")
    if not any(d.verify_token(code) for d in devices_for_user(user, confirmed=True)):
        return False
    TOTPDevice.objects.filter(user=user).delete()
    record_account_action(user=user, name="two_factor_disabled")
    return True


def prune_audit_events(*, now=None) -> int:
    """Audit events past retention (settings.RETENTION_DAYS["audit_events"], the longest), in batches. The log is
    append-only for everyone; only this retention removes its oldest entries."""
    from accounts.models import AuditEvent
    from portal.retention import delete_in_batches, retention_cutoff

    cutoff = retention_cutoff("audit_events", now)
    if cutoff is None:
        return 0
    return delete_in_batches(AuditEvent.objects.filter(created_at__lt=cutoff))
