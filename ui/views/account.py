"""Sign-in extras: TOTP two-factor enrolment and verification, the account page, password change,
and the organization flag that requires two-factor sign-in for all of an organization's users."""
from __future__ import annotations

import base64
import io

from django import forms
from django.contrib import messages
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse, reverse_lazy
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST
from django_otp import login as otp_login
from django_otp import devices_for_user
from django_otp.plugins.otp_totp.models import TOTPDevice

from accounts import services as account_services
from accounts.models import ApiToken, Organization, Tenant
from accounts.roles import Action
from ui.forms import apply_errors
from ui.twofactor import SESSION_PENDING_KEY, requires_two_factor



class TokenForm(forms.Form):
    token = forms.CharField(
        label="6-digit code", max_length=8, min_length=6,
        widget=forms.TextInput(attrs={"autocomplete": "one-time-code", "inputmode": "numeric", "autofocus": True, "pattern": "[0-9 ]*"}),
    )

    def clean_token(self):
        return self.cleaned_data["token"].replace(" ", "")


def _next_url(request) -> str:
    target = request.session.pop(SESSION_PENDING_KEY, None) or reverse("ui:overview")
    if not url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}, require_https=request.is_secure()):
        target = reverse("ui:overview")
    return target


def _qr_svg(data: str) -> str:
    import qrcode
    import qrcode.image.svg

    image = qrcode.make(data, image_factory=qrcode.image.svg.SvgPathImage, box_size=10, border=2)
    buffer = io.BytesIO()
    image.save(buffer)
    return buffer.getvalue().decode()


@login_required
def two_factor_verify(request):
    """Second step of sign-in: a code from a confirmed device."""
    if request.user.is_verified():
        return redirect(_next_url(request))
    devices = list(devices_for_user(request.user, confirmed=True))
    if not devices:
        return redirect("ui:2fa-setup")
    form = TokenForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        for device in devices:
            if device.verify_token(form.cleaned_data["token"]):
                otp_login(request, device)
                return redirect(_next_url(request))
        throttled = any(not d.verify_is_allowed()[0] for d in devices)
        form.add_error(
            "token",
            "Too many wrong codes: wait a few seconds, then try again." if throttled else "That code is not valid. Check your authenticator app's clock and try again.",
        )
    return render(request, "ui/account/2fa_verify.html", {"form": form, "hide_nav": True})


@login_required
def two_factor_setup(request):
    """Enrol an authenticator app: show a QR code of a new (unconfirmed) TOTP key, confirm it with one code."""
    if TOTPDevice.objects.filter(user=request.user, confirmed=True).exists():
        if not request.user.is_verified():
            return redirect("ui:2fa-verify")
        messages.info(request, "Two-factor sign-in is already on for your account.")
        return redirect("ui:account")
    device = account_services.two_factor_pending_device(user=request.user)
    form = TokenForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        if account_services.two_factor_confirm(user=request.user, device=device, code=form.cleaned_data["token"]):
            otp_login(request, device)
            messages.success(request, "Two-factor sign-in is on. You will be asked for a code each time you sign in.")
            return redirect(_next_url(request))
        form.add_error("token", "That code is not valid. Scan the QR code again and enter the current code.")
    context = {
        "form": form,
        "qr_svg": _qr_svg(device.config_url),
        "secret": base64.b32encode(device.bin_key).decode().rstrip("="),
        "required": requires_two_factor(request.user),
        "hide_nav": not request.user.is_verified() and requires_two_factor(request.user),
    }
    return render(request, "ui/account/2fa_setup.html", context)


@login_required
def account(request):
    devices = TOTPDevice.objects.filter(user=request.user, confirmed=True)
    return render(request, "ui/account/account.html", {
        "has_device": devices.exists(),
        "required": requires_two_factor(request.user),
        "memberships": request.user.memberships.select_related("organization", "tenant"),
    })


@login_required
@require_POST
def two_factor_disable(request):
    form = TokenForm(request.POST)
    try:
        disabled = form.is_valid() and account_services.two_factor_disable(user=request.user, code=form.cleaned_data["token"])
    except PermissionDenied as exc:
        messages.error(request, str(exc))
        return redirect("ui:account")
    if disabled:
        messages.success(request, "Two-factor sign-in is off.")
    else:
        messages.error(request, "Enter a current code from your authenticator app to turn two-factor sign-in off.")
    return redirect("ui:account")


class PasswordChangeView(auth_views.PasswordChangeView):
    template_name = "ui/account/password_change.html"
    success_url = reverse_lazy("ui:account")

    def form_valid(self, form):
        response = super().form_valid(form)
        account_services.record_account_action(user=self.request.user, name="password_changed")
        messages.success(self.request, "Your password was changed.")
        return response


#
# Organization sign-in security (organization admins)
#
@login_required
def org_security(request):
    from portal.scoping import allowed_organizations

    orgs = allowed_organizations(request.user, Action.MANAGE_USERS).order_by("name")
    if not orgs.exists():
        raise PermissionDenied("Only organization admins manage sign-in security.")
    if request.method == "POST":
        org = get_object_or_404(Organization.objects.for_user(request.user, Action.MANAGE_USERS), pk=request.POST.get("organization"))
        account_services.organization_update(actor=request.user, organization=org,
                                             require_two_factor=request.POST.get("require_two_factor") == "on")
        messages.success(
            request,
            f"Two-factor sign-in is now {'required' if org.require_two_factor else 'optional'} for users of {org.name}.",
        )
        return redirect("ui:org-security")
    return render(request, "ui/account/org_security.html", {"orgs": orgs})


#
# API tokens (the caller's own): create (shown once), bind to a tenant, read-only, revoke
#
class ApiTokenForm(forms.Form):
    name = forms.CharField(max_length=100, help_text="What uses it, e.g. “billing export”.")
    tenant = forms.ModelChoiceField(queryset=None, required=False, empty_label="Every tenant I can see",
                                    help_text="Bind the token to one tenant: it sees and changes nothing else.")
    read_only = forms.BooleanField(required=False, label="Read-only", help_text="The token can read, never change.")
    expires_days = forms.IntegerField(required=False, min_value=1, max_value=3650, label="Expires after (days)",
                                      help_text="Empty: never expires. Revoke it here at any time.")

    def __init__(self, *args, user=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["tenant"].queryset = Tenant.objects.for_user(user).select_related("organization").order_by("name")
        self.fields["tenant"].label_from_instance = lambda t: f"{t.name} ({t.organization.name})"


@login_required
def api_tokens(request):
    """Your API tokens: the clear value is rendered once, in the response that creates it."""
    form = ApiTokenForm(request.POST or None, user=request.user)
    created = None
    if request.method == "POST" and form.is_valid():
        try:
            token, clear = account_services.api_token_create(
                user=request.user, name=form.cleaned_data["name"], tenant=form.cleaned_data["tenant"],
                write_enabled=not form.cleaned_data["read_only"], expires_days=form.cleaned_data["expires_days"],
            )
        except ValidationError as exc:
            apply_errors(form, exc)
        else:
            created = {"token": token, "clear": clear}
            form = ApiTokenForm(user=request.user)
    tokens = ApiToken.objects.filter(user=request.user).select_related("tenant").order_by("revoked_at", "-created_at")
    status = 201 if created else (400 if request.method == "POST" else 200)
    return render(request, "ui/account/tokens.html", {"form": form, "tokens": tokens, "created": created}, status=status)


@login_required
@require_POST
def api_token_revoke(request, token_id):
    token = get_object_or_404(ApiToken.objects.filter(user=request.user), pk=token_id)
    account_services.api_token_revoke(actor=request.user, token=token)
    messages.success(request, f"Token {token.prefix}… ({token.name or 'unnamed'}) is revoked: it no longer works.")
    return redirect("ui:api-tokens")
