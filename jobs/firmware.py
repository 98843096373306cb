"""Firmware upgrades through NCM groups (docs/rollouts.md).

NCM upgrades a router to its group's `target_firmware` (a router's own target is read-only: "Firmware currently
assigned to the router's group"). A `firmware_upgrade` job therefore targets groups: it resolves the requested
version to the firmware of each group's product (`/firmwares/?version=`), refuses a version a product lacks or
one older than what the group's routers run (unless `allow_downgrade`), PATCHes each group's target once, and
follows every router until NCM shows its `actual_firmware` equal to the target (success), a `firmware_upgrade`
alert with `success: false` (failure, NCM's words), or the timeout passes (`unknown`).

Also the firmware inventory both faces show: which versions run where, which groups are behind.
"""
from __future__ import annotations

from django.core.exceptions import ValidationError

from accounts.models import Credential
from ncm_sync.client import NcmError, client_for_credential
from ncm_sync.models import Group, Router, ncm_ref
from ncm_sync.selectors import firmware_inventory as inventory, version_key  # noqa: F401  (re-exported)

__all__ = ["version_key", "resolve_firmware", "FIRMWARE_REF", "inventory", "DEFAULT_TIMEOUT_MINUTES"]

FIRMWARE_REF = "fw:"  # ncm_ref of an item whose group's target was set: "fw:<firmware id>"
DEFAULT_TIMEOUT_MINUTES = 60


def _client(tenant):
    credential = Credential.objects.filter(tenant=tenant, provider="ncm").first()
    return client_for_credential(credential) if credential else None


def resolve_firmware(tenant, groups: list[Group], version: str, *, allow_downgrade: bool = False) -> dict[str, dict]:
    """Group ncm id -> {"firmware": NCM firmware id, "version", "product"} for `version`; ValidationError (400)
    naming the group when its product has no such firmware, or its routers run a newer one (no allow_downgrade)."""
    client = _client(tenant)
    if client is None:
        raise ValidationError({"parameters": ["This tenant has no NCM credential: firmware versions cannot be resolved."]})
    try:
        with client:
            firmwares = client.list("firmwares", version=version, fields="id,product,version,is_deprecated")
    except NcmError as exc:
        raise ValidationError({"parameters": [f"NCM's firmware list could not be read: {exc.message}"]}) from None
    by_product = {ncm_ref(fw.get("product")): fw for fw in firmwares if str(fw.get("version")) == version}
    errors, resolved = [], {}
    for group in groups:
        fw = by_product.get(group.product_ncm_id)
        label = f"group '{group.name}' ({group.product or 'product ' + (group.product_ncm_id or '?')})"
        if fw is None:
            errors.append(f"Firmware {version} does not exist in NCM for {label}.")
            continue
        if not allow_downgrade:
            newer = sorted({
                v for v in Router.objects.filter(group=group, deleted_at__isnull=True).exclude(firmware="")
                .values_list("firmware", flat=True) if version_key(v) > version_key(version)
            }, key=version_key)
            if newer:
                errors.append(f"Firmware {version} is older than what routers of {label} run ({', '.join(newer)}); "
                              "set allow_downgrade to downgrade them.")
                continue
        resolved[group.ncm_id] = {"firmware": str(fw["id"]), "version": version, "product": group.product_ncm_id}
    if errors:
        raise ValidationError({"parameters": errors})
    return resolved
