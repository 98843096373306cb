"""Users and memberships in scope (roles that manage users): list, create, memberships, deactivate.

Same rules as the API, by construction: users are listed from `User.objects.for_user(user, view)`, every
organization/tenant choice is limited to what the admin manages, and every write is a call to the accounts
services, which authorize it on its target and audit it (as "ui", from the request).
"""
from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Count
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.html import format_html
from django.views.decorators.http import require_POST

from accounts import services as account_services
from accounts.models import Membership, User
from accounts.roles import Action
from ui.access import in_scope, require_anywhere
from ui.forms import MembershipForm, MembershipRoleForm, UserCreateForm, apply_errors
from ui.tables import Column, DataTable, when_column

MANAGE = Action.MANAGE_USERS


def _home(u: User) -> str:
    return (u.home_organization.name if u.home_organization_id else "") or (u.home_tenant.name if u.home_tenant_id else "")


@login_required
def user_list(request):
    require_anywhere(request.user, MANAGE, "Only admins manage users and memberships.")
    qs = (User.objects.for_user(request.user, Action.VIEW).select_related("home_organization", "home_tenant")
          .annotate(roles=Count("memberships", distinct=True)))
    columns = [
        Column("username", "Username", value="username", order_by="username",
               render=lambda u: format_html('<a href="{}">{}</a>', reverse("ui:user-detail", args=[u.pk]), u.username)),
        Column("name", "Name", value=lambda u: u.get_full_name(), order_by="last_name"),
        Column("email", "Email", value="email", order_by="email"),
        Column("home", "Managed by", value=_home, order_by="home_organization__name"),
        Column("roles", "Memberships", value="roles", order_by="roles", css="num", clickable=False),
        Column("active", "Status", value=lambda u: "active" if u.is_active else "deactivated", order_by="is_active",
               render=lambda u: format_html('<span class="badge ok">active</span>') if u.is_active else format_html('<span class="badge bad">deactivated</span>')),
        when_column("last_login", "Last sign-in", "last_login", order_by="last_login"),
    ]
    table = DataTable(
        request, qs, columns, table_id="users-table", title="Users", export_name="users",
        search_fields=["username", "email", "first_name", "last_name"], default_sort="username",
        filters={"active": lambda q, v: q.filter(is_active=v == "1") if v in ("0", "1") else q},
        empty_message="No users in your scope yet. Create one to give a colleague or a customer access.",
    )
    export = table.export_response()
    if export:
        return export
    return render(request, "ui/admin/users.html", {"table": table, "noun": "users"})


@login_required
def user_new(request):
    require_anywhere(request.user, MANAGE, "Only admins create users.")
    form = UserCreateForm(request.POST or None, user=request.user, action=MANAGE)
    if request.method == "POST" and form.is_valid():
        organization, tenant = form.cleaned_data["scope"]
        if organization is None and tenant is None:
            form.add_error("scope", "Choose the organization or tenant that manages this login.")
        else:
            try:
                with transaction.atomic():
                    user = account_services.user_create(
                        created_by=request.user, username=form.cleaned_data["username"], email=form.cleaned_data["email"],
                        password=form.cleaned_data["password"], first_name=form.cleaned_data["first_name"],
                        last_name=form.cleaned_data["last_name"], home_organization=organization, home_tenant=tenant,
                    )
                    membership = account_services.membership_create(
                        actor=request.user, user=user, organization=organization, tenant=tenant,
                        role=form.cleaned_data["role"])
            except ValidationError as exc:
                apply_errors(form, exc)
            else:
                messages.success(request, f"User {user.username} created with the role {membership.get_role_display()} on {organization or tenant}.")
                return redirect("ui:user-detail", user_id=user.pk)
    status = 400 if request.method == "POST" else 200
    return render(request, "ui/admin/user_new.html", {"form": form}, status=status)


def _user_or_404(request, user_id) -> User:
    return get_object_or_404(User.objects.for_user(request.user, Action.VIEW).select_related("home_organization", "home_tenant"), pk=user_id)


def _can_deactivate(request, member: User) -> bool:
    """Manageable, not oneself, and every role of theirs within what the admin manages (a customer's admin
    cannot lock out the MSP's staff who also hold a role on the customer's tenant)."""
    if member.pk == request.user.pk or not in_scope(member, request.user, MANAGE):
        return False
    managed = Membership.objects.for_user(request.user, MANAGE).values("pk")
    return not member.memberships.exclude(pk__in=managed).exists()


@login_required
def user_detail(request, user_id):
    require_anywhere(request.user, MANAGE, "Only admins manage users and memberships.")
    member = _user_or_404(request, user_id)
    visible = (Membership.objects.for_user(request.user, Action.VIEW).filter(user=member)
               .select_related("organization", "tenant", "tenant__organization").order_by("id"))
    manageable = set(Membership.objects.for_user(request.user, MANAGE).filter(user=member).values_list("pk", flat=True))
    own = member.pk == request.user.pk
    can_manage = in_scope(member, request.user, MANAGE) and not own
    rows = [{"m": m, "editable": m.pk in manageable and not own, "form": MembershipRoleForm(initial={"role": m.role}, prefix=f"m{m.pk}")}
            for m in visible]
    hidden = member.memberships.count() - len(rows)
    add_form = MembershipForm(user=request.user, action=MANAGE, member=member) if can_manage else None
    return render(request, "ui/admin/user_detail.html", {
        "member": member, "rows": rows, "hidden_roles": hidden, "add_form": add_form, "own": own,
        "can_manage": can_manage, "can_deactivate": _can_deactivate(request, member),
    })


def _managed_member(request, user_id) -> User:
    """404 outside the view scope; 403 unless the admin manages this user (and it is not themselves)."""
    require_anywhere(request.user, MANAGE, "Only admins manage users and memberships.")
    member = _user_or_404(request, user_id)
    if member.pk == request.user.pk:
        raise PermissionDenied("You cannot change your own roles or deactivate yourself; ask another admin.")
    if not in_scope(member, request.user, MANAGE):
        raise PermissionDenied("Your role does not allow managing this user.")
    return member


@login_required
@require_POST
def membership_add(request, user_id):
    member = _managed_member(request, user_id)
    form = MembershipForm(request.POST, user=request.user, action=MANAGE, member=member)
    if not form.is_valid():
        messages.error(request, " ".join(str(e) for errors in form.errors.values() for e in errors))
        return redirect("ui:user-detail", user_id=member.pk)
    organization, tenant = form.cleaned_data["scope"]
    membership = account_services.membership_create(
        actor=request.user, user=member, organization=organization, tenant=tenant, role=form.cleaned_data["role"])
    messages.success(request, f"{member.username} is now {membership.get_role_display()} on {organization or tenant}.")
    return redirect("ui:user-detail", user_id=member.pk)


def _managed_membership(request, user_id, membership_id) -> Membership:
    member = _managed_member(request, user_id)
    membership = get_object_or_404(Membership.objects.for_user(request.user, Action.VIEW).filter(user=member)
                                   .select_related("organization", "tenant"), pk=membership_id)
    if not in_scope(membership, request.user, MANAGE):
        raise PermissionDenied("Your role does not allow changing this membership.")
    return membership


@login_required
@require_POST
def membership_change(request, user_id, membership_id):
    membership = _managed_membership(request, user_id, membership_id)
    form = MembershipRoleForm(request.POST, prefix=f"m{membership.pk}")
    if not form.is_valid():
        messages.error(request, "Choose one of the roles.")
        return redirect("ui:user-detail", user_id=membership.user_id)
    account_services.membership_update(actor=request.user, membership=membership, role=form.cleaned_data["role"])
    messages.success(request, f"Role on {membership.organization or membership.tenant} is now {membership.get_role_display()}.")
    return redirect("ui:user-detail", user_id=membership.user_id)


@login_required
@require_POST
def membership_remove(request, user_id, membership_id):
    membership = _managed_membership(request, user_id, membership_id)
    scope = membership.organization or membership.tenant
    account_services.membership_delete(actor=request.user, membership=membership)
    messages.success(request, f"Role on {scope} removed.")
    return redirect("ui:user-detail", user_id=user_id)


@login_required
@require_POST
def user_set_active(request, user_id):
    member = _managed_member(request, user_id)
    active = request.POST.get("active") == "1"
    if not active and not _can_deactivate(request, member):
        raise PermissionDenied("This user also holds roles outside what you manage; ask their organization's admin.")
    account_services.user_update(actor=request.user, user=member, is_active=active)
    messages.success(request, f"{member.username} is {'active again' if active else 'deactivated: they can no longer sign in or use API tokens'}.")
    return redirect("ui:user-detail", user_id=member.pk)

