"""A tenant's NCM credential (roles that manage credentials): masked hints, set/replace secrets, test connection.

Secrets are write-only: the page shows provider, base URL and masked hints; password inputs are never
filled back; an empty input keeps the stored value. "Test connection" does a cheap read with the stored
keys and says what NCM answered, without a secret or a stack trace.
"""
from __future__ import annotations

import logging

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.db import transaction
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_POST

from accounts import services as account_services
from accounts.audit import record_change, snapshot
from accounts.models import AuditAction, Credential, Provider
from accounts.roles import Action
from ncm_sync.client import (
    NcmAuthError,
    NcmError,
    NcmNotFound,
    NcmRateLimited,
    NcmUnavailable,
    NcmValidationError,
    client_for_credential,
)
from ui.access import recheck, tenant_or_404
from ui.forms import CredentialForm, apply_errors
from ui.views.tenant import tenant_context

logger = logging.getLogger(__name__)

MANAGE = Action.MANAGE_CREDENTIALS
# The button should answer within seconds: one retry, short timeouts (a sync uses the full retry policy).
TEST_TIMEOUT = (5.0, 15.0)
TEST_RETRIES = 1


def _credential(request, tenant) -> Credential | None:
    return Credential.objects.for_user(request.user, MANAGE).filter(tenant=tenant, provider=Provider.NCM).first()


def _page(request, tenant, credential, form, result=None, status=200):
    return render(request, "ui/tenant/credentials.html", tenant_context(
        request, tenant, credential=credential, form=form, result=result,
        hints=[(CredentialForm.LABELS[name], (credential.secret_hints or {}).get(name) or "") for name in CredentialForm.SECRETS]
        if credential else [],
    ), status=status)


@login_required
def credentials(request, tenant_id):
    tenant = tenant_or_404(request, tenant_id, MANAGE)
    credential = _credential(request, tenant)
    form = CredentialForm(request.POST or None, credential=credential)
    if request.method != "POST":
        return _page(request, tenant, credential, form)
    if form.is_valid():
        try:
            with transaction.atomic():
                before = snapshot(credential) if credential else None
                saved = account_services.credential_save(
                    actor=request.user, tenant=tenant, provider=Provider.NCM, base_url=form.cleaned_data["base_url"],
                    secrets_in=form.secrets_in(), credential=credential,
                )
                recheck(saved, request.user, MANAGE)
                if before is None:
                    record_change(actor=request.user, action=AuditAction.CREATE, instance=saved, source="ui")
                else:
                    record_change(actor=request.user, action=AuditAction.UPDATE, instance=saved, before=before,
                                  after=snapshot(saved), source="ui")
        except ValidationError as exc:
            apply_errors(form, exc)
        else:
            changed = sorted(form.secrets_in())
            messages.success(request, "NCM credential saved" + (f" ({len(changed)} secret{'s' if len(changed) != 1 else ''} replaced)" if credential and changed else "")
                             + ". Use “Test connection” to check it.")
            return redirect("ui:credentials", tenant_id=tenant.pk)
    # Never send a typed secret back: a new unbound-looking form keeps only the base URL and the errors.
    return _page(request, tenant, credential, form, status=400)


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


@login_required
@require_POST
def credential_test(request, tenant_id):
    tenant = tenant_or_404(request, tenant_id, MANAGE)
    credential = _credential(request, tenant)
    if credential is None:
        result = {"ok": False, "title": "No credential yet", "detail": "Enter the four NCM API keys below and save first."}
    else:
        result = check_connection(credential)
        if result["ok"]:
            credential.last_verified_at = timezone.now()
            Credential.objects.filter(pk=credential.pk).update(last_verified_at=credential.last_verified_at)
        record_change(actor=request.user, action=AuditAction.ACTION, instance=credential, source="ui",
                      extra={"action": "test_connection", "ok": result["ok"], "result": result["title"]})
    if request.headers.get("HX-Request"):
        return render(request, "ui/tenant/_connection_result.html", {"result": result, "credential": credential})
    return _page(request, tenant, credential, CredentialForm(credential=credential), result=result)
