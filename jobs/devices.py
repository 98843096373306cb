"""Jobs on `devices` (ids from /api/v1/devices/, any provider) — kept apart from the NCM code paths.

- An NCM device becomes its router (the NCM runners handle it exactly as before).
- Any other provider's device becomes a JobItem with `device`; the provider layer (devices.providers) says
  whether the vendor has the job's kind at all (ecCloud: config_push only) and runs it.
- `config_push` to ecCloud devices takes `parameters: {"changes": {key: "value" or null}}`.
"""
from __future__ import annotations

import logging

from django.core.exceptions import ValidationError

from accounts.roles import Action
from devices.eccloud import EcCloudError, EcCloudRateLimited, EcCloudUnavailable
from devices.models import Device, DeviceProvider
from devices.providers import Unsupported, provider_for
from devices.services.config import PushRefused, PushUnknown
from eccloud_config import validate_changes

logger = logging.getLogger(__name__)

__all__ = ["split_device_targets", "preview_devices", "run_device_item", "DEVICE_PARAMETERS"]

DEVICE_PARAMETERS = ("changes",)


def split_device_targets(*, user, tenant, kind: str, device_ids, parameters: dict) -> tuple[list[int], list[Device], dict]:
    """(router ids for the NCM devices, the other providers' devices, their parameters). 400 naming the problem."""
    if not isinstance(device_ids, (list, tuple)) or not all(isinstance(v, int) and not isinstance(v, bool) for v in device_ids):
        raise ValidationError({"devices": ["A list of ids (integers) is required."]})
    wanted = sorted(set(device_ids))
    devices = list(Device.objects.for_user(user, Action.VIEW).filter(tenant=tenant, pk__in=wanted, deleted_at__isnull=True))
    missing = sorted(set(wanted) - {d.pk for d in devices})
    if missing:
        raise ValidationError({"devices": [f"Unknown device ids for this tenant: {missing[:50]}"]})
    lacking = sorted({d.provider for d in devices if not provider_for(d.provider).supports(kind)})
    if lacking:
        labels = ", ".join(provider_for(p).label for p in lacking)
        raise ValidationError({"devices": [f"{labels} has no {kind.replace('_', ' ')}: the action {kind!r} is not "
                                           f"available for {', '.join(lacking)} devices."]})
    routers = [d.router_id for d in devices if d.provider == DeviceProvider.NCM and d.router_id]
    others = [d for d in devices if d.provider != DeviceProvider.NCM]
    extra = {}
    if others and kind == "config_push":
        changes = (parameters or {}).get("changes")
        errors = validate_changes(changes)
        if errors:
            raise ValidationError({"parameters": errors})
        extra = {"changes": changes}
    return routers, others, extra


def preview_devices(devices: list[Device], parameters: dict) -> list[dict]:
    """Per device: current effective configuration, the planned POST, the result, predicted errors. Reads only."""
    targets = []
    for device in devices:
        entry = {"device": device.pk, "provider": device.provider, "name": device.name, "remote_id": device.remote_id,
                 "status": device.status}
        try:
            entry.update(provider_for(device.provider).preview_config(device, parameters))
        except (Unsupported, EcCloudError) as exc:
            entry.update({"current": None, "result": None, "errors": [getattr(exc, "message", None) or str(exc)]})
        if device.status != "online":
            entry.setdefault("warning", "The device is not online: ecCloud stores the change and its config task "
                                        "waits until the device is back.")
        targets.append(entry)
    return targets


def run_device_item(item) -> tuple[str, str, dict | None]:
    """Send one device item through its provider: (item status, error, result). Never raises.

    Succeeded only when the vendor confirms: the change stored and the device's config task finished."""
    device = item.device
    if device is None or device.deleted_at is not None:
        return "failed", "The device is no longer in the mirror.", None
    provider = provider_for(device.provider)
    try:
        provider.require(item.job.kind)
        result = provider.push_config(device, item.job.parameters)
    except Unsupported as exc:
        return "failed", str(exc), None
    except PushRefused as exc:
        return "failed", str(exc), None
    except PushUnknown as exc:
        return "unknown", f"{exc} Check the device before retrying.", None
    except (EcCloudUnavailable, EcCloudRateLimited) as exc:
        return "failed", f"{exc.message} Nothing was stored (the device was not written).", None
    except EcCloudError as exc:
        return "failed", exc.message, None
    except Exception as exc:  # noqa: BLE001 - recorded on the item
        logger.exception("device item %s failed", item.pk)
        return "failed", f"Internal error ({type(exc).__name__}); see the worker log.", None
    if not result.get("applied", True):
        return "unknown", ("ecCloud stored the change but the device has not applied it (its config task is still "
                           "unfinished: offline?). It applies when the device is back; nothing was sent twice."), result
    return "succeeded", "", result
