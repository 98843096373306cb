"""Shared abstract models."""
from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _

from portal.scoping import TenantScopedQuerySet

__all__ = ["TenantOwnedModel", "TimestampedModel", "EncryptedSecretsMixin"]


class TimestampedModel(models.Model):
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        abstract = True


def tenant_foreign_key(db_index: bool = True) -> models.ForeignKey:
    """The `tenant` link of a tenant-owned row. A model whose indexes all lead with the tenant passes
    db_index=False: a separate tenant index would only be a third copy every write pays for."""
    return models.ForeignKey(
        "accounts.Tenant",
        on_delete=models.PROTECT,
        related_name="%(app_label)s_%(class)s_set",
        verbose_name=_("tenant"),
        db_index=db_index,
    )


class TenantOwnedModel(models.Model):
    """A row that belongs to exactly one tenant. Reads go through `objects.for_user(user, action)`."""

    tenant = tenant_foreign_key()

    objects = TenantScopedQuerySet.as_manager()

    class Meta:
        abstract = True


class EncryptedSecretsMixin:
    """A model holding a MultiFernet token in `encrypted_field`; `manage.py rotate_encryption_keys` finds it."""

    encrypted_field = "secret_encrypted"

    @classmethod
    def rotate_encrypted_secrets(cls) -> int:
        """Re-encrypt every row under the primary key (call inside a transaction)."""
        from portal.crypto import rotate_token

        field = cls.encrypted_field
        count = 0
        for row in cls._default_manager.select_for_update().only("pk", field):
            setattr(row, field, rotate_token(getattr(row, field)))
            row.save(update_fields=[field])
            count += 1
        return count
