"""A tenant's NCM credential (roles that manage credentials): masked hints, set/replace secrets, test connection.

Secrets are write-only: the page shows provider, base URL and masked hints; password inputs are never
filled back; an empty input keeps the stored value. "Test connection" does a cheap read with the stored
keys and says what NCM answered, without a secret or a stack trace.
"""
from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.db import transaction
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from accounts import services as account_services
from accounts.models import Credential, Provider
from accounts.roles import Action
from ncm_sync.services.credentials import verify_credential
from ui.access import tenant_or_404
from ui.forms import CredentialForm, apply_errors
from ui.views.tenant import tenant_context

MANAGE = Action.MANAGE_CREDENTIALS
# The button should answer within seconds: one retry, short timeouts (a sync uses the full retry policy).


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
                account_services.credential_save(
                    actor=request.user, tenant=tenant, provider=Provider.NCM, base_url=form.cleaned_data["base_url"],
                    secrets_in=form.secrets_in(), credential=credential,
                )
        except ValidationError as exc:
            apply_errors(form, exc)
        else:
            changed = sorted(form.secrets_in())
            messages.success(request, "NCM credential saved" + (f" ({len(changed)} secret{'s' if len(changed) != 1 else ''} replaced)" if credential and changed else "")
                             + ". Use “Test connection” to check it.")
            return redirect("ui:credentials", tenant_id=tenant.pk)
    # Never send a typed secret back: a new unbound-looking form keeps only the base URL and the errors.
    return _page(request, tenant, credential, form, status=400)


@login_required
@require_POST
def credential_test(request, tenant_id):
    tenant = tenant_or_404(request, tenant_id, MANAGE)
    credential = _credential(request, tenant)
    if credential is None:
        result = {"ok": False, "title": "No credential yet", "detail": "Enter the four NCM API keys below and save first."}
    else:
        result = verify_credential(actor=request.user, credential=credential)
    if request.headers.get("HX-Request"):
        return render(request, "ui/tenant/_connection_result.html", {"result": result, "credential": credential})
    return _page(request, tenant, credential, CredentialForm(credential=credential), result=result)
