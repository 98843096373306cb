"""The vendor-neutral mirror: every managed device of every provider, and ecCloud's sites.

- `Device` is one row per device whatever its vendor: the columns every screen and filter uses (`provider`,
  `remote_id`, `name`, `serial`, `mac`, `status`, `site` or `group`, `last_contact`) plus the vendor's own object
  in `vendor` (JSON). NCM routers are *projected* here from the NCM mirror (`router` links the row it came
  from) after each sync; ecCloud devices are synced here directly.
- `Site` is an ecCloud site (NCM's equivalent, the group, stays in ncm_sync and is linked as `group`).
- Like the NCM mirror: a content hash (an unchanged object is never rewritten), first/last seen, and a
  tombstone (`deleted_at`) set only after a complete listing no longer returns the row.
"""
from __future__ import annotations

from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from accounts.models import Provider
from portal.models import TenantOwnedModel, tenant_foreign_key
from portal.scoping import TenantScopedQuerySet

__all__ = ["DeviceProvider", "DeviceStatus", "Site", "Device"]


# The same choices as a credential's provider (one enum in the OpenAPI schema).
DeviceProvider = Provider


class DeviceStatus(models.TextChoices):
    ONLINE = "online", _("online")
    OFFLINE = "offline", _("offline")
    UNKNOWN = "unknown", _("unknown")


class MirrorQuerySet(TenantScopedQuerySet):
    def live(self):
        return self.filter(deleted_at__isnull=True)


class MirrorRow(TenantOwnedModel):
    tenant = tenant_foreign_key(db_index=False)  # (tenant, provider, remote_id) and (tenant, deleted_at) lead with it
    provider = models.CharField(_("provider"), max_length=20, choices=DeviceProvider.choices)
    remote_id = models.CharField(_("vendor id"), max_length=64)
    content_hash = models.CharField(max_length=32, editable=False, blank=True)
    first_seen_at = models.DateTimeField(_("first seen at"))
    last_seen_at = models.DateTimeField(_("last seen at"))
    deleted_at = models.DateTimeField(_("deleted at"), null=True, blank=True)

    objects = MirrorQuerySet.as_manager()

    class Meta:
        abstract = True


class Site(MirrorRow):
    name = models.CharField(max_length=200, blank=True)
    data = models.JSONField(_("vendor object"), default=dict)

    class Meta:
        ordering = ["tenant_id", "name", "id"]
        constraints = [models.UniqueConstraint(fields=["tenant", "provider", "remote_id"], name="devices_site_unique_remote")]
        # Plain btrees, not db_index=True: see ncm_sync.models._mirror_meta.
        indexes = [
            models.Index(fields=["tenant", "deleted_at"], name="devices_site_live"),
            models.Index(fields=["provider"], name="devices_site_provider"),
            models.Index(fields=["name"], name="devices_site_name"),
        ]

    def __str__(self) -> str:
        return self.name or f"site {self.remote_id}"


class Device(MirrorRow):
    name = models.CharField(max_length=200, blank=True)
    serial = models.CharField(max_length=64, blank=True)
    mac = models.CharField(max_length=32, blank=True)
    status = models.CharField(max_length=20, blank=True)
    last_contact = models.DateTimeField(null=True, blank=True)
    site_remote_id = models.CharField(max_length=64, blank=True)
    site = models.ForeignKey(Site, null=True, blank=True, on_delete=models.SET_NULL, related_name="devices")
    group = models.ForeignKey("ncm_sync.Group", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    router = models.OneToOneField("ncm_sync.Router", null=True, blank=True, on_delete=models.CASCADE,
                                  related_name="device", help_text=_("NCM: the mirrored router this row projects."))
    vendor = models.JSONField(_("vendor fields"), default=dict)
    # ecCloud's flags the pages and pushes need as columns.
    config_suspended = models.BooleanField(default=False)
    config_pending = models.IntegerField(_("unfinished config tasks"), null=True, blank=True)

    class Meta:
        ordering = ["tenant_id", "name", "id"]
        constraints = [
            models.UniqueConstraint(fields=["tenant", "provider", "remote_id"], name="devices_device_unique_remote"),
            models.CheckConstraint(condition=Q(site__isnull=True) | Q(group__isnull=True), name="devices_site_or_group"),
        ]
        indexes = [
            models.Index(fields=["tenant", "deleted_at"], name="devices_device_live"),
            *(models.Index(fields=[column], name=f"devices_device_{column}") for column in ("provider", "name", "serial", "mac", "status")),
        ]

    def __str__(self) -> str:
        return self.name or f"{self.provider} device {self.remote_id}"
