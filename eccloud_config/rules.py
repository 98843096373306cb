"""The ecCloud merge table and the ``config-changes`` planning rules (see ``__init__``)."""
from __future__ import annotations

import re

ORIGIN_DEVICE = "device"            # defined in the device config only
ORIGIN_SITE_DEVICE = "site-device"  # the device overrides the site's value
ORIGIN_SITE = "site"                # originates from the site configuration
ORIGINS = (ORIGIN_DEVICE, ORIGIN_SITE_DEVICE, ORIGIN_SITE)

# "IDs < 1000000000 are reserved for device level entities, and IDs > 1000000000 are used for site level entities."
SITE_ENTITY_MIN_ID = 1_000_000_000

KEY_RE = re.compile(r"^[A-Za-z0-9_-]+(/[A-Za-z0-9_.:-]+){0,8}$")
MAX_CHANGES = 500
MAX_VALUE = 4096


class ConfigChangeError(ValueError):
    """A change the rules refuse (the message names the key)."""


def _value(entry) -> str | None:
    if isinstance(entry, dict):
        value = entry.get("value")
        return value if value is None or isinstance(value, str) else str(value)
    return None


def _origin(entry) -> str:
    return entry.get("origin") if isinstance(entry, dict) and entry.get("origin") in ORIGINS else ORIGIN_DEVICE


def merge(site: dict | None, device: dict | None) -> dict[str, dict]:
    """Every key of the merged configuration: ``{key: {"value", "origin", "level"}}``.

    The article's table, row by row (``level`` says which configuration the value comes from):

    ===========  ===========  ===========  ===============
    site key     device key   origin       result
    ===========  ===========  ===========  ===============
    undefined    defined      device       device value
    defined      defined      site-device  device value
    defined      defined      site         site value (the device's copy is stale)
    defined      undefined    (site)       site value
    ===========  ===========  ===========  ===============

    Outside the table: a device key marked ``device`` that the site also defines keeps the device's value
    (the merger "only cares about the merge behavior you've specified"); a device key marked ``site`` or
    ``site-device`` whose site key no longer exists: ``site`` is dropped (nothing to originate from),
    ``site-device`` keeps the device's value.
    """
    site = site or {}
    device = device or {}
    out: dict[str, dict] = {}
    for key in sorted(set(site) | set(device)):
        in_site, in_device = key in site, key in device
        if in_site and not in_device:
            out[key] = {"value": _value(site[key]), "origin": ORIGIN_SITE, "level": "site"}
            continue
        origin = _origin(device[key])
        if in_site and origin == ORIGIN_SITE:
            out[key] = {"value": _value(site[key]), "origin": ORIGIN_SITE, "level": "site"}
        elif not in_site and origin == ORIGIN_SITE:
            continue
        else:
            out[key] = {"value": _value(device[key]), "origin": origin, "level": "device"}
    return out


def effective(site: dict | None, device: dict | None) -> dict[str, str | None]:
    return {key: entry["value"] for key, entry in merge(site, device).items()}


def entity_of(key: str) -> str | None:
    """``wireless/1000000584/broadcastSSID`` -> ``wireless/1000000584``; ``radio/global/bandSteering`` -> None."""
    parts = key.split("/")
    for index, part in enumerate(parts[1:], start=1):
        if part.isdigit():
            return "/".join(parts[: index + 1])
    return None


def is_site_entity(entity: str) -> bool:
    return int(entity.rsplit("/", 1)[1]) > SITE_ENTITY_MIN_ID


def _entity_keys(config: dict, entity: str) -> list[str]:
    prefix = entity + "/"
    return sorted(k for k in config if k.startswith(prefix))


def validate_changes(changes) -> list[str]:
    """The portal's form of a change set: ``{key: "string value" or None}``. Messages name the key."""
    if not isinstance(changes, dict) or not changes:
        return ["changes: give an object {key: \"value\"} with at least one key (null removes a device override)."]
    if len(changes) > MAX_CHANGES:
        return [f"changes: at most {MAX_CHANGES} keys in one push."]
    errors = []
    for key, value in changes.items():
        if not isinstance(key, str) or not KEY_RE.match(key):
            errors.append(f"changes: {str(key)[:80]!r} is not an ecCloud configuration key (such as radio/r5/enable).")
        elif value is not None and not isinstance(value, str):
            errors.append(f"changes.{key}: ecCloud configuration values are strings (\"1\", not 1); null removes the override.")
        elif isinstance(value, str) and len(value) > MAX_VALUE:
            errors.append(f"changes.{key}: the value is longer than {MAX_VALUE} characters.")
    return errors


def plan_changes(site: dict | None, device: dict | None, defaults: dict | None, changes: dict) -> dict:
    """The ``changes`` object to POST to ``/device/{id}/config-changes`` for the portal's ``{key: value|None}``.

    - A plain key the site defines is overridden as ``site-device``; one it does not, as ``device``.
    - A key inside an entity (``root/<numeric id>/...``) the site defines overrides the *whole* entity: every
      key of the site's entity is copied to the device as ``site-device`` with its current effective value,
      then the change applies ("you should not override the subnodes of an entity - only override the whole
      thing").
    - A new entity (neither level has it) is completed from ``defaults[root]`` (``{property: value}``) as
      ``device`` keys; its id must be a device-level id (< 1000000000).
    - ``None`` removes the device-level override: a site key gets back ``{"value": site value, "origin": "site"}``
      (a whole site entity reverts), a device-only key is deleted (``null``).

    Raises :class:`ConfigChangeError` naming the key when a change cannot be planned.
    """
    errors = validate_changes(changes)
    if errors:
        raise ConfigChangeError("; ".join(errors))
    site = site or {}
    device = device or {}
    defaults = defaults or {}
    merged = merge(site, device)
    out: dict[str, dict | None] = {}
    expanded: set[str] = set()
    for key, value in changes.items():
        entity = entity_of(key)
        if entity is not None and entity not in expanded:
            expanded.add(entity)
            site_keys = _entity_keys(site, entity)
            device_keys = _entity_keys(device, entity)
            if value is None:
                pass  # handled per key below
            elif site_keys:
                for k in site_keys:  # override the whole inherited entity
                    out[k] = {"value": merged.get(k, {}).get("value") or _value(site[k]) or "", "origin": ORIGIN_SITE_DEVICE}
            elif not device_keys:
                root, ident = entity.split("/")[0], int(entity.rsplit("/", 1)[1])
                if ident >= SITE_ENTITY_MIN_ID:
                    raise ConfigChangeError(
                        f"changes.{key}: a new device-level entity needs an id below {SITE_ENTITY_MIN_ID} "
                        "(larger ids are site-level entities)."
                    )
                template = defaults.get(root)
                if not isinstance(template, dict) or not template:
                    raise ConfigChangeError(
                        f"changes.{key}: {entity} is a new entity and ecCloud gives no defaults for {root!r} to complete it."
                    )
                for prop, default in sorted(template.items()):
                    out[f"{entity}/{prop}"] = {"value": _value({"value": default}) or "", "origin": ORIGIN_DEVICE}
        if value is None:
            if entity is not None and _entity_keys(site, entity):
                for k in _entity_keys(device, entity):  # the whole entity follows the site again
                    out[k] = {"value": _value(site[k]), "origin": ORIGIN_SITE} if k in site else None
                for k in _entity_keys(site, entity):
                    out.setdefault(k, {"value": _value(site[k]), "origin": ORIGIN_SITE})
            elif key in site:
                out[key] = {"value": _value(site[key]), "origin": ORIGIN_SITE}
            elif key in device:
                out[key] = None
            continue
        if entity is not None:
            in_site_entity = bool(_entity_keys(site, entity))
            origin = ORIGIN_SITE_DEVICE if in_site_entity else _origin(device.get(key) or next(
                (device[k] for k in _entity_keys(device, entity)), {"origin": ORIGIN_DEVICE}))
            if origin == ORIGIN_SITE:
                origin = ORIGIN_SITE_DEVICE
        else:
            origin = ORIGIN_SITE_DEVICE if key in site else ORIGIN_DEVICE
        out[key] = {"value": value, "origin": origin}
    return out


def apply_changes(device: dict | None, changes: dict) -> dict:
    """The device configuration after ecCloud stores a POSTed ``changes`` object (``null`` deletes a key)."""
    new = {k: dict(v) for k, v in (device or {}).items()}
    for key, entry in changes.items():
        if entry is None:
            new.pop(key, None)
        else:
            new[key] = {"value": entry["value"], "origin": entry.get("origin") or ORIGIN_DEVICE}
    return new
