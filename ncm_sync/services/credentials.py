"""Credential verification: one cheap read with a tenant's stored NCM keys, said in words a person can act on.

Used by the UI's "Test connection" (and any other face): the outcome is recorded on the credential
(`last_verified_at`) and in the audit log by accounts.services.credential_record_test.
"""
from __future__ import annotations

import logging

from accounts import services as account_services
from accounts.models import Credential
from ncm_sync.client import (
    NcmAuthError,
    NcmError,
    NcmNotFound,
    NcmRateLimited,
    NcmUnavailable,
    NcmValidationError,
    client_for_credential,
)

logger = logging.getLogger(__name__)

__all__ = ["check_connection", "verify_credential"]

TEST_TIMEOUT = (5.0, 15.0)
TEST_RETRIES = 1


def _first_name(rows: list[dict]) -> str:
    for row in rows:
        if row.get("name"):
            return str(row["name"])[:80]
    return ""


def check_connection(credential: Credential) -> dict:
    """One cheap read with the stored keys: accounts, then the first page of routers. Never raises.

    Returns {"ok": bool, "title": str, "detail": str}; messages are ours (never NCM's echo or a secret).
    """
    base = credential.base_url
    try:
        with client_for_credential(credential, timeout=TEST_TIMEOUT, max_retries=TEST_RETRIES) as client:
            accounts = client.list("accounts")
            page = client.get("routers", limit=100)
        routers = page.get("data") if isinstance(page, dict) else None
        if not isinstance(routers, list):
            raise NcmError("unexpected body")
        more = bool((page.get("meta") or {}).get("next"))
    except NcmAuthError as exc:
        if exc.status is None:
            return {"ok": False, "title": "The stored credential is incomplete",
                    "detail": "Enter all four API keys (X-CP-API-ID, X-CP-API-KEY, X-ECM-API-ID, X-ECM-API-KEY) and save."}
        return {"ok": False, "title": f"NCM rejected the API keys (HTTP {exc.status})",
                "detail": "Check the four keys in NCM under Tools → NetCloud API (the ECM key pair must belong to an "
                          "active user with access to this account), enter them again and save."}
    except NcmNotFound:
        return {"ok": False, "title": "NCM answered 404 Not found",
                "detail": f"The base URL {base} does not look like the NCM API v2 root; it usually ends in /api/v2."}
    except NcmRateLimited:
        return {"ok": False, "title": "NCM is rate limiting these keys (HTTP 429)",
                "detail": "Too many calls with these keys right now (a sync may be running). Try again in a minute."}
    except NcmUnavailable as exc:
        what = f"answered HTTP {exc.status}" if exc.status else "did not answer (timeout or connection refused)"
        return {"ok": False, "title": "NCM did not answer",
                "detail": f"{base} {what}. Try again in a minute; if it keeps failing, check the base URL and NCM's status page."}
    except NcmValidationError as exc:
        return {"ok": False, "title": f"NCM refused the request (HTTP {exc.status})",
                "detail": "The keys were accepted but the read was refused; check the base URL."}
    except NcmError:
        return {"ok": False, "title": "The answer did not come from the NCM API",
                "detail": f"{base} answered something other than NCM API v2 JSON (or redirected elsewhere); check the base URL."}
    except Exception as exc:  # noqa: BLE001 - the button must always say something
        logger.warning("Credential %s connection test failed unexpectedly: %s", credential.pk, type(exc).__name__)
        return {"ok": False, "title": "The connection test failed unexpectedly",
                "detail": f"{type(exc).__name__}. Try again; if it keeps failing, tell your platform operator."}
    example = _first_name(accounts)
    router_count = f"{len(routers)}{'+' if more else ''} router{'s' if len(routers) != 1 or more else ''}"
    return {"ok": True,
            "title": f"Connected: {len(accounts)} account{'s' if len(accounts) != 1 else ''}"
                     + (f", e.g. “{example}”" if example else "") + f"; {router_count}",
            "detail": f"NCM at {base} accepted the keys."}


def verify_credential(*, actor, credential: Credential) -> dict:
    """Test the connection and record the outcome (authorized on the credential's tenant)."""
    result = check_connection(credential)
    account_services.credential_record_test(actor=actor, credential=credential, ok=result["ok"], title=result["title"])
    return result
