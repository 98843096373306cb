"""What a job would do, per target, before anything is sent to NCM.

For config pushes: each target's current group and individual configuration (from the mirror), the
configuration after the push, where each resulting value comes from, and the validation errors NCM's rules
predict (ncm_config, the same rules the simulator enforces). Passwords are masked throughout.
"""
from __future__ import annotations

from typing import Any

import ncm_config
from jobs.models import JobKind
from jobs.services import resolve_targets, validate_parameters
from ncm_sync.models import ConfigurationManager, NetDevice, Router
from ncm_sync.services.configuration import refresh_configuration_managers

__all__ = ["job_preview", "config_changes", "OFFLINE_REBOOT_WARNING", "OFFLINE_SPEED_TEST_WARNING"]

OFFLINE_REBOOT_WARNING = (
    "The router is not online: NCM drops reboot requests for offline routers, so none will be sent; "
    "its item will fail (or be skipped, if you choose to skip offline routers)."
)
OFFLINE_SPEED_TEST_WARNING = (
    "The router is not online: NCM cannot run a speed test on an offline router's modems; its item will fail."
)


def _removals(layer: list) -> set[str]:
    return {".".join(map(str, r)) if isinstance(r, (list, tuple)) else str(r) for r in (layer[1] if len(layer) > 1 else [])}


def config_changes(before: Any, after: Any) -> list[dict]:
    """Per setting of one layer, what a push changes: `{path, before, after, kind}` with kind `added`,
    `changed` or `removed` (a value dropped, or a removal NCM will apply)."""
    before, after = ncm_config.normalize(before), ncm_config.normalize(after)
    old, new = ncm_config.flatten(before[0], expand_lists=True), ncm_config.flatten(after[0], expand_lists=True)
    rows = []
    for path in sorted(set(old) | set(new)):
        if path in old and path in new:
            if old[path] != new[path]:
                rows.append({"path": path, "before": old[path], "after": new[path], "kind": "changed"})
        elif path in new:
            rows.append({"path": path, "before": None, "after": new[path], "kind": "added"})
        else:
            rows.append({"path": path, "before": old[path], "after": None, "kind": "removed"})
    listed = {row["path"] for row in rows}
    for path in sorted(_removals(after) - _removals(before) - listed):
        rows.append({"path": path, "before": None, "after": None, "kind": "removed"})
    return rows


def _layer(data: dict | None) -> list:
    return ncm_config.normalize((data or {}).get("configuration") or [{}, []])


def _router_summary(router: Router) -> dict:
    return {"router": router.pk, "name": router.name, "state": router.state, "ncm_id": router.ncm_id}


def job_preview(*, user, tenant, kind: str, router_ids=None, group_ids=None, parameters=None, device_ids=None) -> dict:
    if device_ids:  # devices of any provider (jobs.devices): NCM ones join the routers
        from jobs.devices import preview_devices, split_device_targets

        ncm_routers, devices, extra = split_device_targets(user=user, tenant=tenant, kind=kind, device_ids=device_ids,
                                                           parameters=parameters or {})
        ncm_ids = sorted(set(router_ids or []) | set(ncm_routers))
        result = {"kind": kind, "parameters": extra, "targets": [], "errors": []}
        if ncm_ids or group_ids:
            ncm_params = {k: v for k, v in (parameters or {}).items() if k != "changes"}
            result = job_preview(user=user, tenant=tenant, kind=kind, router_ids=ncm_ids, group_ids=group_ids,
                                 parameters=ncm_params)
            result["parameters"] = {**result["parameters"], **extra}
        result["targets"] += preview_devices(devices, extra)
        return result
    parameters = validate_parameters(kind, parameters)  # a malformed or rejected diff is a 400 here
    routers, groups = resolve_targets(user=user, tenant=tenant, router_ids=router_ids, group_ids=group_ids)
    targets: list[dict] = []
    if kind in (JobKind.REBOOT, JobKind.SPEED_TEST):
        members = list(
            Router.objects.filter(tenant=tenant, group__in=groups, deleted_at__isnull=True).exclude(pk__in=[r.pk for r in routers])
        )
        all_routers = routers + members
        modems: dict[int, list[str]] = {}
        if kind == JobKind.SPEED_TEST:
            for router_id, ncm_id in NetDevice.objects.filter(
                tenant=tenant, router__in=all_routers, deleted_at__isnull=True, mode="wan"
            ).exclude(type="ethernet").values_list("router_id", "ncm_id"):
                modems.setdefault(router_id, []).append(ncm_id)
        for router in all_routers:
            entry = _router_summary(router)
            online = router.state == "online"
            if kind == JobKind.REBOOT:
                if online:
                    entry["action"] = "reboot"
                else:
                    entry["action"] = "skip (offline)" if parameters.get("offline") == "skip" else "fail (offline: not sent)"
                    entry["warning"] = OFFLINE_REBOOT_WARNING
            else:
                entry["modems"] = modems.get(router.pk, [])
                entry["action"] = "speed_test" if entry["modems"] else "skip (no cellular modem)"
                if not online and entry["modems"]:
                    entry["warning"] = OFFLINE_SPEED_TEST_WARNING
            targets.append(entry)
        return {"kind": kind, "parameters": parameters, "targets": targets, "errors": []}

    if kind == JobKind.FIRMWARE_UPGRADE:
        from jobs.firmware import resolve_firmware, version_key

        if routers:
            return {"kind": kind, "parameters": parameters, "targets": [],
                    "errors": ["A firmware upgrade targets groups: name groups, not routers."]}
        resolved = resolve_firmware(tenant, groups, parameters["version"], allow_downgrade=parameters["allow_downgrade"])
        wanted = version_key(parameters["version"])
        for router in Router.objects.filter(tenant=tenant, group__in=groups, deleted_at__isnull=True).select_related("group"):
            entry = _router_summary(router)
            entry.update({"group": router.group_id, "firmware": router.firmware, "target": parameters["version"],
                          "firmware_id": resolved[router.group.ncm_id]["firmware"]})
            current = version_key(router.firmware)
            entry["action"] = ("none (already on it)" if current == wanted else
                               "downgrade" if current > wanted else "upgrade")
            if router.state != "online":
                entry["warning"] = "The router is not online: it upgrades when it next comes online; its item ends unknown after the timeout."
            targets.append(entry)
        return {"kind": kind, "parameters": parameters, "targets": targets, "errors": []}

    diff, mode = parameters["diff"], parameters["mode"]
    errors = ncm_config.validate_diff(diff)
    # The routers' own layers as NCM holds them now (fetched when the mirror's copy is older than a sync interval).
    freshness = refresh_configuration_managers(tenant=tenant, routers=routers)
    managers = {
        cm.router_id: cm for cm in ConfigurationManager.objects.filter(tenant=tenant, router__in=routers, deleted_at__isnull=True)
    }
    for router in routers:
        group_layer = _layer(router.group.data if router.group_id else None)
        manager = managers.get(router.pk)
        current = _layer(manager.data if manager else None)
        after = ncm_config.apply_put(diff, current) if mode == "put" else ncm_config.apply_patch(current, diff)
        merged, origins = ncm_config.merge_layers(group_layer, after)
        targets.append({
            **_router_summary(router),
            "configuration_manager": manager.ncm_id if manager else None,
            "current": {"group": ncm_config.mask_passwords(group_layer), "individual": ncm_config.mask_passwords(current)},
            "after": {"individual": ncm_config.mask_passwords(after), "merged": ncm_config.mask_passwords(merged),
                      "origins": origins},
            "changes": config_changes(ncm_config.mask_passwords(current), ncm_config.mask_passwords(after)),
            "errors": errors,
        })
    for group in groups:
        current = _layer(group.data)
        after = ncm_config.apply_put(diff, current) if mode == "put" else ncm_config.apply_patch(current, diff)
        targets.append({
            "group": group.pk, "name": group.name, "ncm_id": group.ncm_id,
            "current": {"group": ncm_config.mask_passwords(current)},
            "after": {"group": ncm_config.mask_passwords(after)},
            "changes": config_changes(ncm_config.mask_passwords(current), ncm_config.mask_passwords(after)),
            "routers_affected": group.routers.filter(deleted_at__isnull=True).count(),
            "errors": errors,
        })
    result = {"kind": kind, "parameters": {"mode": mode, "diff": ncm_config.mask_passwords(diff)}, "targets": targets,
              "errors": errors}
    if freshness.message:  # the routers' own layers could not be read from NCM now: what they are shown from
        result["notices"] = [freshness.message]
    return result
