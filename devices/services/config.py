"""ecCloud configuration pushes: the article's config-changes flow, and tracking the device's config task.

`push_changes(client, device_remote_id, changes)`:
1. GET config-changes (timestamp, site, device, defaults). `configSuspended` -> `PushRefused` (reported, not retried).
2. Plan the POST with `eccloud_config.plan_changes` (origins, whole entities, defaults for new entities).
   Nothing to change -> succeeded without a write.
3. POST {timestamp, changes}. `serverSideChanged: true` (our timestamp was stale) -> read again, plan again and
   re-apply, at most MAX_REAPPLY times. A guest key (403) -> `PushRefused`; nothing is sent twice.
4. An answer lost after sending (`EcCloudAmbiguousWrite`) is never re-sent: the device is read back; if every
   planned key is there the push succeeded (confirmed by ecCloud), else `PushUnknown`.
`wait_for_task(client, id)` then polls `unfinishedTaskCount` until the device applied the change.
"""
from __future__ import annotations

import time

from django.conf import settings

from devices.eccloud import EcCloudAmbiguousWrite, EcCloudError, EcCloudForbidden, EcCloudRejected
from eccloud_config import ConfigChangeError, effective, merge, plan_changes

__all__ = ["PushRefused", "PushUnknown", "push_changes", "preview_changes", "wait_for_task", "MAX_REAPPLY"]

MAX_REAPPLY = 3


class PushRefused(Exception):
    """The push cannot be done (suspended config, guest key, a change the rules refuse): nothing was stored."""


class PushUnknown(Exception):
    """The POST was sent and its answer lost, and reading back does not show it: outcome unknown."""


def _stored(device_config: dict, plan: dict) -> bool:
    for key, entry in plan.items():
        have = device_config.get(key)
        if entry is None:
            if have is not None:
                return False
        elif not isinstance(have, dict) or have.get("value") != entry["value"] or have.get("origin") != entry["origin"]:
            return False
    return True


def preview_changes(current: dict, changes: dict) -> dict:
    """What a push would do, from a config-changes answer: current, planned POST, result, predicted errors."""
    site, device, defaults = current.get("site") or {}, current.get("device") or {}, current.get("defaults") or {}
    before = effective(site, device)
    errors = []
    if current.get("configSuspended"):
        errors.append("The device's configuration is suspended in ecCloud (configSuspended): a push is refused.")
    try:
        plan = plan_changes(site, device, defaults, changes)
    except ConfigChangeError as exc:
        return {"current": before, "post": None, "result": None, "changed": {}, "errors": errors + [str(exc)]}
    after_device = {k: dict(v) for k, v in device.items()}
    for key, entry in plan.items():
        if entry is None:
            after_device.pop(key, None)
        else:
            after_device[key] = dict(entry)
    after = effective(site, after_device)
    changed = {k: {"from": before.get(k), "to": after.get(k)} for k in sorted(set(before) | set(after))
               if before.get(k) != after.get(k)}
    return {"current": before, "post": plan, "result": after, "keys": merge(site, after_device),
            "changed": changed, "errors": errors}


def push_changes(client, device_id: str, changes: dict) -> dict:
    """Apply `changes` ({key: str|None}) to one ecCloud device. Returns {"timestamp", "post", "written", "attempts"}."""
    attempts = 0
    while True:
        current = client.config_changes(device_id)
        if current.get("configSuspended"):
            raise PushRefused("The device's configuration is suspended in ecCloud (configSuspended): not sent.")
        try:
            plan = plan_changes(current.get("site"), current.get("device"), current.get("defaults"), changes)
        except ConfigChangeError as exc:
            raise PushRefused(str(exc)) from None
        if _stored(current.get("device") or {}, plan):
            return {"timestamp": current["timestamp"], "post": plan, "written": False, "attempts": attempts,
                    "unfinishedTaskCount": current.get("unfinishedTaskCount")}
        attempts += 1
        try:
            answer = client.post_config_changes(device_id, current["timestamp"], plan)
        except EcCloudForbidden as exc:
            raise PushRefused(f"The ecCloud API key may not change configuration (a guest, read-only key?): "
                              f"{exc.message}. Nothing was sent again.") from None
        except EcCloudRejected as exc:
            raise PushRefused(f"ecCloud refused the change ({exc.status}): {exc.message}") from None
        except EcCloudAmbiguousWrite as exc:
            try:
                after = client.config_changes(device_id)
            except EcCloudError:
                raise PushUnknown(f"{exc.message} Reading the device back failed too; the change was not sent again.") from None
            if _stored(after.get("device") or {}, plan):
                return {"timestamp": after["timestamp"], "post": plan, "written": True, "attempts": attempts,
                        "confirmed_by_read": True, "unfinishedTaskCount": after.get("unfinishedTaskCount")}
            raise PushUnknown(f"{exc.message} The change is not visible on the device; it was not sent again.") from None
        if answer.get("serverSideChanged"):
            if attempts >= MAX_REAPPLY:
                raise PushRefused(f"The device's configuration kept changing in ecCloud (serverSideChanged {attempts} "
                                  "times); not applied.")
            continue  # read again and re-apply on the new configuration
        return {"timestamp": answer.get("timestamp"), "post": plan, "written": True, "attempts": attempts,
                "unfinishedTaskCount": answer.get("unfinishedTaskCount")}


def wait_for_task(client, device_id: str, *, timeout: float | None = None, poll: float | None = None) -> bool:
    """Poll until the device has no unfinished config task. True when applied, False on timeout."""
    timeout = settings.ECCLOUD_TASK_TIMEOUT_SECONDS if timeout is None else timeout
    poll = settings.ECCLOUD_TASK_POLL_SECONDS if poll is None else poll
    deadline = time.monotonic() + timeout
    while True:
        current = client.config_changes(device_id)
        if not current.get("unfinishedTaskCount"):
            return True
        if time.monotonic() + poll > deadline:
            return False
        time.sleep(poll)
