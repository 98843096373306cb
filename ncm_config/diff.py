"""NCM configuration diffs: validation, PATCH/PUT application, layering, masking.

Everything here follows seed 001 ("Configuration in API V2"):

* A config is a diff ``[updates, removals]``: ``updates`` is a dict tree, ``removals``
  a list of paths (lists of keys / array offsets) into the firmware's *default* config.
* Arrays are written as dicts inside a diff. Keys are either string numerals (the
  element's offset) or, for the arrays listed in :data:`ID_ARRAYS`, the element's
  ``_id_`` UUID -- in which case the element must repeat that ``_id_`` inside itself.
* PATCH merges updates into the stored individual config and leaves everything
  else alone; it cannot delete a key you set earlier. A value given as a JSON list
  replaces the whole array (NCM known issue: "arrays in a PATCH replace the whole
  array"). Removals in a PATCH are appended to the stored removal list (they refer to
  default elements, which only the device holds).
* PUT replaces the individual config with the payload.
* The target config is the individual config layered over the group config.
* Passwords read back as ``"*"``; writing ``"*"`` back keeps the stored secret.

We do not have NCM's per-firmware DTD, so "invalid path" is judged on the top-level
section only, and typed checks exist for the leaves the portal and the ``ncm`` SDK
actually write (LAN/WAN addresses, SSIDs, WPA keys, logging level, ...). Anything
deeper under a known section is accepted, as NCM would for a valid DTD path.
"""
from __future__ import annotations

import copy
import ipaddress
import re
from dataclasses import dataclass
from typing import Any, Callable

MASK = "*"
EMPTY_DIFF: list = [{}, []]

#: Arrays whose elements carry an ``_id_`` UUID (seed 001, firmware 6.1.0 list).
ID_ARRAYS = frozenset(
    """
    asavie.tunnels certmgmt.certs dns.dnsmasq_options gre.tunnels identities.ip
    identities.mac identities.port lan openvpn.tunnels routing.access_list
    routing.bgp.access_list routing.bgp.community_list routing.prefix_list
    routing.route_map routing.tables security.app_sets security.ips.cat_cfg
    security.ips.sig_cfg security.zfw.filter_policies security.zfw.forwardings
    security.zfw.zones split_dns.domain_lists split_dns.servers system.gps.connections
    vpn.tunnels wan.rules wan.rules2
    """.split()
)

#: Other arrays (offset-keyed only). ``*`` stands for an element key.
INDEX_ARRAYS = frozenset(
    """
    vlan vlan.*.ports system.users wlan.radio wlan.radio.*.bss wan.custom_apns
    wan.rules.*.static.dns wan.rules2.*.static.dns lan.*.devices system.sdk.appdata
    """.split()
)

#: Top-level sections of the NCOS config tree (the part of the DTD we model).
TOP_LEVEL = frozenset(
    """
    asavie certmgmt cloud_services dhcp dns ecm ethernet firewall gpio gre hotspot
    identities lan mgmt modem nhrp openvpn overlay power qos routing sdk security
    services snmp split_dns stats system usb vlan vpn wan webfilter wlan zscaler
    """.split()
)

#: Keys whose non-empty values are secrets: read back as "*" (seed 001, "Passwords").
PASSWORD_KEYS = frozenset(
    """
    password wpapsk psk passphrase secret shared_secret pre_shared_key preshared_key
    radius0key radius1key private_key
    """.split()
)

_UUID_RE = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
_NUMERAL_RE = re.compile(r"^(0|[1-9][0-9]*)$")
_MAC_RE = re.compile(r"^[0-9a-fA-F]{2}([:-]?)[0-9a-fA-F]{2}(\1[0-9a-fA-F]{2}){4}$")
_DNS_RE = re.compile(r"^(?=.{1,253}$)([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*\.?$")


def is_uuid(value: Any) -> bool:
    return isinstance(value, str) and bool(_UUID_RE.match(value))


class ConfigDiffError(ValueError):
    """A diff NCM would refuse. ``message`` is NCM's wording; ``errors`` the details."""

    def __init__(self, message: str, errors: list["DiffError"] | None = None):
        super().__init__(message)
        self.message = message
        self.errors = list(errors or [])


@dataclass
class DiffError:
    """One validation problem, in the shape of NCM's 409 ``errors[].configuration``."""

    path: list
    reason: str
    value: Any = None
    message: str = ""
    kind: str = "update"  # "update" | "removal" | "structure" | "missing_id"

    def to_ncm(self) -> dict:
        return {
            "configuration": {
                "message": self.message,
                "reason": self.reason,
                "value": self.value,
                "path": list(self.path),
            }
        }


# --------------------------------------------------------------------------- leaf types
def _string(min_len: int | None = None, max_len: int | None = None) -> Callable[[Any], str | None]:
    def check(v: Any) -> str | None:
        if not isinstance(v, str):
            return "not a string"
        if min_len is not None and len(v) < min_len:
            return f"too short (min length={min_len})"
        if max_len is not None and len(v) > max_len:
            return f"too long (max length={max_len})"
        return None

    return check


def _integer(lo: int | None = None, hi: int | None = None) -> Callable[[Any], str | None]:
    def check(v: Any) -> str | None:
        if isinstance(v, bool) or not isinstance(v, int):
            return "not an integer"
        if hi is not None and v > hi:
            return f"too large (max={hi})"
        if lo is not None and v < lo:
            return f"too small(min={lo})"
        return None

    return check


def _boolean(v: Any) -> str | None:
    return None if isinstance(v, bool) else "not a boolean"


def _option(*choices: str) -> Callable[[Any], str | None]:
    def check(v: Any) -> str | None:
        return None if v in choices else "invalid option"

    return check


def _ipv4(v: Any) -> str | None:
    if not isinstance(v, str):
        return "not a string"
    try:
        ipaddress.IPv4Address(v)
    except ValueError:
        return "invalid ipv4 address"
    return None


def _ip_or_dns(v: Any) -> str | None:
    if not isinstance(v, str):
        return "not a string"
    try:
        ipaddress.ip_address(v)
        return None
    except ValueError:
        return None if _DNS_RE.match(v) and not v.replace(".", "").isdigit() else "invalid ip address or dns name"


def _netmask(v: Any) -> str | None:
    if not isinstance(v, str):
        return "not a string"
    try:
        ipaddress.IPv4Network(f"0.0.0.0/{v}")
    except ValueError:
        return "invalid subnet mask"
    return None


def _mac(v: Any) -> str | None:
    if not isinstance(v, str):
        return "not a string"
    return None if _MAC_RE.match(v) else "invalid mac address"


def _url(v: Any) -> str | None:
    if not isinstance(v, str):
        return "not a string"
    if not (v.startswith("http://") or v.startswith("https://")):
        return 'url must have "http://" or "https://" prefix'
    return None


_WAN_RULE = {
    "ip_mode": _option("dhcp", "static", "pppoe"),
    "static.ip_address": _ipv4,
    "static.netmask": _netmask,
    "static.gateway": _ipv4,
    "ip_override.ip_address": _ipv4,
    "ip_override.netmask": _netmask,
    "ip_override.gateway": _ipv4,
    "modem.apn_mode": _option("auto", "manual"),
    "modem.manual_apn": _string(0, 64),
    "priority": lambda v: None if isinstance(v, (int, float)) and not isinstance(v, bool) else "not a float type",
    "disabled": _boolean,
}

#: Typed leaves, keyed by schema path (``*`` = any array element).
LEAF_TYPES: dict[str, Callable[[Any], str | None]] = {
    "system.system_id": _string(1, 64),
    "system.desc": _string(0, 255),
    "system.asset_id": _string(0, 255),
    "system.timezone": _string(0, 64),
    "system.pci_dss": _boolean,
    "system.ui_activated": _boolean,
    "system.logging.enabled": _boolean,
    "system.logging.level": _option("debug", "info", "notice", "warning", "error", "critical", "alert", "emergency"),
    "system.logging.remote_server": _ip_or_dns,
    "system.gps.enabled": _boolean,
    "system.users.*.username": _string(1, 64),
    "system.users.*.password": _string(0, 255),
    "system.users.*.group": _option("admin", "readonly", "readonlyuser"),
    "lan.*.name": _string(0, 64),
    "lan.*.enabled": _boolean,
    "lan.*.ip_address": _ipv4,
    "lan.*.netmask": _netmask,
    "lan.*.dhcpd.enabled": _boolean,
    "wlan.enabled": _boolean,
    "wlan.radio.*.enabled": _boolean,
    "wlan.radio.*.channel": _integer(0, 196),
    "wlan.radio.*.bss.*.enabled": _boolean,
    "wlan.radio.*.bss.*.ssid": _string(1, 32),
    "wlan.radio.*.bss.*.wpapsk": _string(8, 64),
    "wlan.radio.*.bss.*.hidden": _boolean,
    "firewall.remote_admin.enabled": _boolean,
    "firewall.remote_admin.secure_only": _boolean,
    "firewall.remote_admin.port": _integer(1, 65535),
    "vlan.*.vid": _integer(1, 4094),
    "vlan.*.uid": _string(1, 64),
    "vlan.*.mode": _option("lan", "wan"),
    "vlan.*.ports.*.port": _integer(0, 255),
    "vlan.*.ports.*.mode": _option("tagged", "untagged"),
    "wan.custom_apns.*.apn": _string(1, 64),
    "wan.custom_apns.*.carrier": _string(1, 64),
    "webfilter.proxy.https_filtering": _boolean,
    "dns.force_redir": _boolean,
    "identities.mac.*.mac": _mac,
    "ecm.server_host": _ip_or_dns,
    "ecm.config_version": _integer(0, None),
    "certmgmt.certs.*.name": _string(1, 255),
    "system.ntp.servers.*.server": _ip_or_dns,
    "webfilter.zsis.cloud_url": _url,
}
for _rule in ("wan.rules.*.", "wan.rules2.*."):
    for _k, _v in _WAN_RULE.items():
        LEAF_TYPES[_rule + _k] = _v


# --------------------------------------------------------------------------- helpers
def _fmt_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    return str(value)


def _dotted(path: list) -> str:
    return ".".join(str(p) for p in path)


def normalize(config: Any) -> list:
    """Return a deep copy of *config* as ``[updates, removals]``.

    Accepts a diff (list/tuple of two), a bare update dict, or ``None`` (empty diff).
    """
    if config is None:
        return [{}, []]
    if isinstance(config, dict):
        return [copy.deepcopy(config), []]
    if isinstance(config, (list, tuple)) and len(config) == 2:
        updates = copy.deepcopy(config[0]) if isinstance(config[0], dict) else {}
        removals = [list(r) for r in config[1]] if isinstance(config[1], (list, tuple)) else []
        return [updates, removals]
    raise ConfigDiffError("bad or missing data", [DiffError([], "not a list or dict", config, "configuration: not a list or dict", "structure")])


# --------------------------------------------------------------------------- validation
def diff_errors(diff: Any) -> list[DiffError]:
    """All problems NCM would report for *diff*, structured (empty list if valid)."""
    if not isinstance(diff, (list, tuple)):
        return [DiffError([], "not a list or dict", diff, f"cannot set configuration to {_fmt_value(diff)}: not a list or dict", "structure")]
    if len(diff) != 2:
        return [DiffError([], "bad or missing data", diff, "configuration must be a list of two elements: [updates, removals]", "structure")]
    updates, removals = diff
    errors: list[DiffError] = []
    if not isinstance(updates, dict):
        errors.append(DiffError([], "not a dict", updates, f"cannot set configuration to {_fmt_value(updates)}: not a dict", "structure"))
    else:
        for key, value in updates.items():
            if key not in TOP_LEVEL:
                errors.append(_set_error([key], "invalid path", value))
                continue
            _walk(value, [key], key, errors)
    if not isinstance(removals, (list, tuple)):
        errors.append(DiffError([], "not a list", removals, f"cannot set removals to {_fmt_value(removals)}: not a list", "structure"))
    else:
        for removal in removals:
            errors.extend(_removal_errors(removal))
    return errors


def validate_diff(diff: Any) -> list[str]:
    """Messages (NCM's wording) for every problem in *diff*; ``[]`` when NCM would accept it."""
    return [e.message for e in diff_errors(diff)]


def _set_error(path: list, reason: str, value: Any) -> DiffError:
    shown = value if not isinstance(value, (dict, list)) else value
    return DiffError(list(path), reason, shown, f"cannot set {_dotted(path)} to {_fmt_value(value)}: {reason}")


def _removal_errors(removal: Any) -> list[DiffError]:
    if not isinstance(removal, (list, tuple)) or not removal:
        return [DiffError([], "not a list", removal, f"cannot remove {_fmt_value(removal)}: not a list", "removal")]
    path = list(removal)
    if not isinstance(path[0], str) or path[0] not in TOP_LEVEL:
        return [DiffError(path, "invalid path", None, f"cannot remove {_dotted(path)}: invalid path", "removal")]
    for part in path[1:]:
        if isinstance(part, bool) or not isinstance(part, (str, int)) or (isinstance(part, int) and part < 0):
            return [DiffError(path, "bad array index", part, f"cannot remove {_dotted(path)}: bad array index", "removal")]
    return []


def _walk(value: Any, path: list, schema: str, errors: list[DiffError]) -> None:
    is_id_array = schema in ID_ARRAYS
    is_array = is_id_array or schema in INDEX_ARRAYS
    if is_array:
        if isinstance(value, list) or value is None:
            return  # a whole-array replacement (or reset to default)
        if not isinstance(value, dict):
            errors.append(_set_error(path, "not a list or dict", value))
            return
        if not value:
            errors.append(_set_error(path, "empty dict", value))
            return
        for key, element in value.items():
            elem_path = path + [key]
            if is_id_array and is_uuid(key):
                if not isinstance(element, dict):
                    errors.append(_set_error(elem_path, "not a dict", element))
                    continue
                if "_id_" not in element:
                    # NCM's own (odd) answer when the key is a UUID but _id_ is missing.
                    errors.append(DiffError(elem_path, "missing _id_", element, f"invalid literal for int() with base 10: '{key}'", "missing_id"))
                    continue
                if not is_uuid(element["_id_"]) or element["_id_"] != key:
                    errors.append(_set_error(elem_path + ["_id_"], "invalid id", element["_id_"]))
                    continue
            elif _NUMERAL_RE.match(str(key)):
                if is_id_array and isinstance(element, dict) and "_id_" in element and not is_uuid(element["_id_"]):
                    errors.append(_set_error(elem_path + ["_id_"], "invalid id", element["_id_"]))
                    continue
            else:
                errors.append(_set_error(elem_path, "bad array index", element))
                continue
            if isinstance(element, dict):
                for k, v in element.items():
                    if k == "_id_":
                        continue
                    _walk(v, elem_path + [k], f"{schema}.*.{k}", errors)
            elif element is not None:
                _check_leaf(element, elem_path, f"{schema}.*", errors)
        return
    if isinstance(value, dict):
        for k, v in value.items():
            _walk(v, path + [k], f"{schema}.{k}", errors)
        return
    _check_leaf(value, path, schema, errors)


def _check_leaf(value: Any, path: list, schema: str, errors: list[DiffError]) -> None:
    checker = LEAF_TYPES.get(schema)
    if checker is None or value is None:
        return
    if value == MASK and path and path[-1] in PASSWORD_KEYS:
        return  # "*" means "keep the stored secret"
    reason = checker(value)
    if reason:
        errors.append(_set_error(path, reason, value))


def _raise_if_invalid(diff: Any) -> None:
    errors = diff_errors(diff)
    if errors:
        raise ConfigDiffError(errors[0].message, errors)


# --------------------------------------------------------------------------- application
def _merge(base: dict, updates: dict, keep_masked: bool) -> dict:
    """Deep-merge *updates* into a copy of *base*: dicts merge, anything else replaces."""
    out = dict(base)
    for key, value in updates.items():
        current = out.get(key)
        if isinstance(value, dict) and isinstance(current, dict):
            out[key] = _merge(current, value, keep_masked)
        elif keep_masked and value == MASK and key in PASSWORD_KEYS and key in out:
            continue  # writing "*" back keeps the stored password
        else:
            out[key] = copy.deepcopy(value)
    return out


def _restore_masked(new: Any, old: Any) -> Any:
    if not isinstance(new, dict):
        return new
    for key, value in list(new.items()):
        if value == MASK and key in PASSWORD_KEYS and isinstance(old, dict) and key in old:
            new[key] = old[key]
        elif isinstance(value, dict):
            _restore_masked(value, old.get(key) if isinstance(old, dict) else None)
    return new


def apply_patch(config: Any, diff: Any) -> list:
    """PATCH: merge *diff* into the stored *config* and return the new config.

    Updates are deep-merged (dicts merge, scalars and JSON lists replace); keys not
    mentioned are kept; ``"*"`` for a password keeps the stored secret. Removals are
    appended to the stored removal list (without duplicates). Raises
    :class:`ConfigDiffError` if NCM would refuse the diff.
    """
    _raise_if_invalid(diff)
    updates, removals = normalize(config)
    new_updates = _merge(updates, diff[0], keep_masked=True)
    new_removals = list(removals)
    for removal in diff[1]:
        if list(removal) not in new_removals:
            new_removals.append(list(removal))
    return [new_updates, new_removals]


def apply_put(diff: Any, previous: Any = None) -> list:
    """PUT: the new individual config *is* the diff (anything not given is unset).

    Pass the stored config as *previous* to let ``"*"`` passwords keep their value.
    Raises :class:`ConfigDiffError` if NCM would refuse the diff.
    """
    _raise_if_invalid(diff)
    new = normalize(diff)
    if previous is not None:
        _restore_masked(new[0], normalize(previous)[0])
    return new


def flatten(tree: Any, *, expand_lists: bool = False, _prefix: tuple = ()) -> dict[str, Any]:
    """Dotted path -> value of each setting in a configuration tree (the updates half of a diff).

    The one flattening of configuration used by the sync's mirror, the API, the UI and job previews. Empty
    branches hold no setting, so they yield nothing (a layer that sets nothing is `{}`, never a setting with
    an empty name). With `expand_lists`, lists of objects are walked too (`lan.0.ip_address`) and their
    `_id_` keys skipped, as a diff's per-setting view needs; otherwise a list is one value.
    """
    if isinstance(tree, dict):
        out: dict[str, Any] = {}
        for key, sub in tree.items():
            if expand_lists and key == "_id_":
                continue
            out.update(flatten(sub, expand_lists=expand_lists, _prefix=_prefix + (str(key),)))
        return out
    if expand_lists and isinstance(tree, list) and any(isinstance(v, dict) for v in tree):
        out = {}
        for index, sub in enumerate(tree):
            out.update(flatten(sub, expand_lists=True, _prefix=_prefix + (str(index),)))
        return out
    return {".".join(_prefix): tree} if _prefix else {}


def merge_layers(group_config: Any, individual_config: Any) -> tuple[list, dict[str, str]]:
    """Layer the individual config over the group config (NCM's *target* config).

    Returns ``(merged, origins)``: ``merged`` is a diff ``[updates, removals]``;
    ``origins`` maps each leaf's dotted path (e.g. ``"system.logging.level"``) to
    ``"group"`` or ``"individual"`` -- where the effective value comes from.
    """
    g_upd, g_rem = normalize(group_config)
    i_upd, i_rem = normalize(individual_config)
    merged_upd = _merge(g_upd, i_upd, keep_masked=False)
    merged_rem = list(g_rem) + [r for r in i_rem if r not in g_rem]
    indiv_leaves = {tuple(path.split(".")) for path in flatten(i_upd)}
    origins: dict[str, str] = {}
    for dotted in flatten(merged_upd):
        path = tuple(dotted.split("."))
        from_indiv = any(path[:n] in indiv_leaves for n in range(1, len(path) + 1))
        origins[dotted] = "individual" if from_indiv else "group"
    return [merged_upd, merged_rem], origins


def _mask(node: Any, in_certs: bool) -> Any:
    if isinstance(node, dict):
        out = {}
        for key, value in node.items():
            secret = key in PASSWORD_KEYS or (in_certs and key == "key")
            if secret and isinstance(value, str) and value not in ("", MASK):
                out[key] = MASK
            else:
                out[key] = _mask(value, in_certs or key == "certmgmt")
        return out
    if isinstance(node, list):
        return [_mask(v, in_certs) for v in node]
    return node


def mask_passwords(config: Any) -> Any:
    """Return a copy of *config* with every non-empty password replaced by ``"*"``.

    Works on a diff ``[updates, removals]`` or a bare dict; the shape is kept.
    """
    if isinstance(config, (list, tuple)) and len(config) == 2 and isinstance(config[0], dict):
        return [_mask(config[0], False), copy.deepcopy(list(config[1]))]
    return _mask(config, False)
