"""Encryption of secrets at rest with MultiFernet (keys from PORTAL_ENCRYPTION_KEYS).

The first key encrypts; every key decrypts, so keys rotate by prepending a new one, running
`manage.py rotate_encryption_keys`, then dropping the old one.
"""
from __future__ import annotations

import json
from functools import lru_cache

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

__all__ = ["encrypt_json", "decrypt_json", "rotate_token", "get_fernet", "SecretDecryptionError"]


class SecretDecryptionError(Exception):
    """A stored secret could not be decrypted with any configured key (the message never holds the secret)."""


@lru_cache(maxsize=1)
def get_fernet() -> MultiFernet:
    keys = []
    for position, key in enumerate(settings.PORTAL_ENCRYPTION_KEYS, start=1):
        try:
            keys.append(Fernet(key.encode()))
        except (ValueError, TypeError) as exc:
            # Name the position, never the key itself.
            raise ImproperlyConfigured(
                f"PORTAL_ENCRYPTION_KEYS: key #{position} is not a valid Fernet key "
                "(32 url-safe base64-encoded bytes)."
            ) from exc
    if not keys:
        raise ImproperlyConfigured("PORTAL_ENCRYPTION_KEYS is empty.")
    return MultiFernet(keys)


def encrypt_json(value: dict) -> str:
    return get_fernet().encrypt(json.dumps(value, sort_keys=True).encode()).decode()


def decrypt_json(token: str) -> dict:
    if not token:
        return {}
    try:
        return json.loads(get_fernet().decrypt(token.encode()))
    except InvalidToken:
        raise SecretDecryptionError(
            "A stored secret could not be decrypted: PORTAL_ENCRYPTION_KEYS lacks the key it was encrypted with."
        ) from None


def rotate_token(token: str) -> str:
    """Re-encrypt a token under the first (primary) key."""
    try:
        return get_fernet().rotate(token.encode()).decode()
    except InvalidToken:
        raise SecretDecryptionError("A stored secret could not be decrypted with any configured key.") from None
