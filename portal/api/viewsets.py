"""The one base viewset every API view derives from. It applies `for_user(user, action)` to every request.

Subclasses cannot override the methods that scope (checked when the class is defined, as PostHog does):
extra filtering goes in `scoped_queryset(qs)`, custom actions declare `@action(required_action=...)`.

- Reads are filtered by `read_action` (default `view`); an object outside it answers 404.
- Writes need `write_action` (default `change`) on the object's scope; an object the caller can see but not
  change answers 403, as does any request for an action the caller's roles never allow.
- Every organization or tenant a create or update names is authorized for the write action *before* the
  save (a customer may see its MSP organization, but may not write to it); the services authorize the
  same targets on every face (accounts/authorization.py). As a second line, the saved object is
  re-checked inside the transaction, so a write that lands outside the caller's scope is rolled back (403).
- Every create, update and delete is written to the audit log in the same transaction.
"""
from __future__ import annotations

from django.apps import apps
from django.db import transaction
from rest_framework import mixins, viewsets
from rest_framework.exceptions import PermissionDenied
from rest_framework.permissions import SAFE_METHODS

from portal.audit import AuditAction, record_change, snapshot, was_recorded
from portal.authorization import actions_on
from portal.roles import Action, roles_allowing
from portal.scoping import is_operator

__all__ = [
    "TenantScopedViewSet",
    "TenantScopedModelViewSet",
    "TenantScopedReadOnlyViewSet",
    "user_has_action_anywhere",
]

PROTECTED_METHODS = {
    "get_queryset": "Override scoped_queryset(qs) to narrow or annotate the scoped queryset.",
    "get_object": "Objects are looked up in the scoped queryset; use scoped_queryset(qs).",
    "get_permissions": "Declare write_action/read_action, or @action(required_action=...).",
    "initial": "Role checks run here for every request.",
    "perform_create": "Override perform_save(serializer) (called inside the checked transaction).",
    "perform_update": "Override perform_save(serializer) (called inside the checked transaction).",
    "perform_destroy": "Override perform_delete(instance).",
}


def user_has_action_anywhere(user, action: str) -> bool:
    if is_operator(user):
        return True
    return apps.get_model("accounts", "Membership").objects.filter(user=user, role__in=roles_allowing(action)).exists()


class TenantScopedViewSet(viewsets.GenericViewSet):
    """Scoped access for every request. Concrete viewsets set queryset, serializer_class, filterset_*."""

    read_action: str = Action.VIEW
    write_action: str = Action.CHANGE
    # Set per custom action through @action(required_action=...); DRF passes it as an init kwarg.
    required_action: str | None = None
    write_any_of: tuple[str, ...] = ()
    # Only platform operators create objects of this kind (e.g. organizations).
    create_requires_operator: bool = False

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        for name, hint in PROTECTED_METHODS.items():
            # Compare the resolved attribute, so a mixin listed before the base cannot shadow it either.
            if getattr(cls, name) is not TenantScopedViewSet.__dict__[name]:
                raise TypeError(f"{cls.__name__}.{name} may not be overridden: scoping would be bypassable. {hint}")

    #
    # Scope
    #
    def action_for_request(self) -> str:
        if self.required_action:
            return self.required_action
        if self.request.method in SAFE_METHODS:
            return self.read_action
        return self.write_action

    def initial(self, request, *args, **kwargs):
        super().initial(request, *args, **kwargs)
        action = self.action_for_request()
        if getattr(request.user, "token_read_only", False) and request.method not in SAFE_METHODS:
            raise PermissionDenied("This API token is read-only.")
        # Detail routes are checked in get_object(): an object outside the read scope answers 404 first.
        is_detail = (self.lookup_url_kwarg or self.lookup_field) in self.kwargs
        # Some resources admit a write for any of several actions, narrowed per object by for_user (jobs).
        candidates = self.write_any_of if (action == self.write_action and self.write_any_of) else (action,)
        if action != Action.VIEW and not is_detail and not any(
            user_has_action_anywhere(request.user, candidate) for candidate in candidates
        ):
            raise PermissionDenied(f"Your role does not allow '{action}'.")
        if self.create_requires_operator and self.action == "create" and not is_operator(request.user):
            raise PermissionDenied("Only a platform operator can create this.")

    def get_permissions(self):
        # Authentication only; authorisation is the role/scope logic of this class, not permission_classes.
        return super().get_permissions()

    def scoped_queryset(self, queryset):
        """Hook: narrow or annotate (select_related, prefetch) the already-scoped queryset."""
        return queryset

    def get_queryset(self):
        queryset = self.queryset.all().for_user(self.request.user, self.read_action)
        return self.scoped_queryset(queryset)

    def get_object(self):
        instance = super().get_object()  # 404 outside the read scope
        action = self.action_for_request()
        if action != self.read_action and not self._allowed(instance, action):
            raise PermissionDenied(f"Your role does not allow '{action}' on this object.")
        return instance

    def _allowed(self, instance, action: str) -> bool:
        manager = type(instance)._default_manager
        return manager.all().for_user(self.request.user, action).filter(pk=instance.pk).exists()

    def _authorize_targets(self, serializer) -> None:
        """Refuse, before saving, a body naming an organization or tenant the caller may not write to."""
        action = self.action_for_request()
        candidates = self.write_any_of if (action == self.write_action and self.write_any_of) else (action,)
        field_names = {field.source: name for name, field in serializer.fields.items()}
        Organization, Tenant = apps.get_model("accounts", "Organization"), apps.get_model("accounts", "Tenant")
        for name, value in serializer.validated_data.items():
            if isinstance(value, Organization):
                scope = {"organization": value}
            elif isinstance(value, Tenant):
                scope = {"tenant": value}
            else:
                continue
            if not set(candidates) & actions_on(self.request.user, **scope):
                raise PermissionDenied({field_names.get(name, name): [f"Your role does not allow '{action}' on {value}."]})

    def _recheck(self, instance) -> None:
        if not self._allowed(instance, self.action_for_request()):
            # Raised inside the atomic block: the save is rolled back.
            raise PermissionDenied("This change would put the object outside what you may manage.")

    #
    # Writes
    #
    def perform_save(self, serializer):
        """Hook: save through the serializer (which calls a service). Runs inside the checked transaction."""
        return serializer.save()

    def perform_delete(self, instance) -> None:
        """Hook: delete (or deactivate) the instance."""
        instance.delete()

    def perform_create(self, serializer):
        self._authorize_targets(serializer)
        with transaction.atomic():
            instance = self.perform_save(serializer)
            serializer.instance = instance
            self._recheck(instance)
            if not was_recorded(instance, AuditAction.CREATE):  # a service that audits itself already did
                record_change(actor=self.request.user, action=AuditAction.CREATE, instance=instance)

    def perform_update(self, serializer):
        self._authorize_targets(serializer)
        with transaction.atomic():
            before = snapshot(serializer.instance)
            instance = self.perform_save(serializer)
            self._recheck(instance)
            if not was_recorded(instance, AuditAction.UPDATE):
                record_change(actor=self.request.user, action=AuditAction.UPDATE, instance=instance, before=before,
                              after=snapshot(instance))

    def perform_destroy(self, instance):
        with transaction.atomic():
            before, pk = snapshot(instance), instance.pk
            self.perform_delete(instance)
            instance.pk = instance.pk or pk  # Django clears it on delete; the audit entry names the row
            if not was_recorded(instance, AuditAction.DELETE):
                record_change(actor=self.request.user, action=AuditAction.DELETE, instance=instance, before=before)

    def audit_action(self, instance, name: str, details: dict | None = None) -> None:
        """Record a non-CRUD action (sync, revoke, rotate...) against an object."""
        record_change(
            actor=self.request.user, action=AuditAction.ACTION, instance=instance,
            extra={"action": name, **(details or {})},
        )


# The scoped base comes first so its perform_* wrap the mixins' (enforced by __init_subclass__).
class TenantScopedModelViewSet(
    TenantScopedViewSet,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    mixins.UpdateModelMixin,
    mixins.DestroyModelMixin,
):
    """List, retrieve, create, update, delete, all scoped."""


class TenantScopedReadOnlyViewSet(TenantScopedViewSet, mixins.ListModelMixin, mixins.RetrieveModelMixin):
    """List and retrieve, scoped (mirrored NCM data, audit events)."""
