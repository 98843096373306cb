"""ncm_config: NCM's configuration-diff rules (seed 001, "Configuration in API V2")."""
from __future__ import annotations

import pytest

from ncm_config import (ConfigDiffError, apply_patch, apply_put, diff_errors, mask_passwords, merge_layers,
                        validate_diff)

LAN0 = "00000000-0d93-319d-8220-4a1fb0372b51"


def test_valid_diffs():
    assert validate_diff([{}, []]) == []
    assert validate_diff([{"system": {"gps": {"enabled": True}}}, []]) == []
    assert validate_diff([{"lan": {LAN0: {"_id_": LAN0, "ip_address": "192.168.30.1", "name": "LAN0"}}}, []]) == []
    assert validate_diff([{"vlan": {"2": {"mode": "lan", "ports": [{"mode": "tagged", "port": 4}], "uid": "aleph", "vid": 3}}},
                          [["vlan", 1, "ports", 3], ["lan", "00000001-0d93-319d-8220-4a1fb0372b51"]]]) == []
    assert validate_diff([{"wan": {"rules2": {"0": {"ip_override": {"ip_address": "10.0.0.2"}}}}}, []]) == []


def test_invalid_path_in_updates_and_removals():
    assert validate_diff([{"foo": "bar"}, [["baz", 6]]]) == [
        "cannot set foo to bar: invalid path", "cannot remove baz.6: invalid path"]


@pytest.mark.parametrize("diff, reason", [
    ([{"lan": {}}, []], "empty dict"),
    ([{"lan": {LAN0: "x"}}, []], "not a dict"),
    ([{"lan": {LAN0: {"_id_": "nope"}}}, []], "invalid id"),
    ([{"lan": {"primary": {"name": "x"}}}, []], "bad array index"),
    ([{"lan": {LAN0: {"_id_": LAN0, "ip_address": "1.2.3"}}}, []], "invalid ipv4 address"),
    ([{"lan": {LAN0: {"_id_": LAN0, "netmask": "255.0.255.0"}}}, []], "invalid subnet mask"),
    ([{"system": {"gps": {"enabled": "yes"}}}, []], "not a boolean"),
    ([{"system": {"logging": {"level": "loud"}}}, []], "invalid option"),
    ([{"firewall": {"remote_admin": {"port": 70000}}}, []], "too large (max=65535)"),
    ([{"firewall": {"remote_admin": {"port": 0}}}, []], "too small(min=1)"),
    ([{"firewall": {"remote_admin": {"port": "22"}}}, []], "not an integer"),
    ([{"wlan": {"radio": {"0": {"bss": {"0": {"ssid": "x" * 33}}}}}}, []], "too long (max length=32)"),
    ([{"wlan": {"radio": {"0": {"bss": {"0": {"wpapsk": "short"}}}}}}, []], "too short (min length=8)"),
    ([{"system": {"system_id": 5}}, []], "not a string"),
    ([{"identities": {"mac": {"0": {"mac": "zz:00"}}}}, []], "invalid mac address"),
    ([{"lan": 5}, []], "not a list or dict"),
    ([{"system": {}}, [[ "lan", -1]]], "bad array index"),
    ("nope", "not a list or dict"),
    ([[], []], "not a dict"),
])
def test_error_catalog(diff, reason):
    errors = diff_errors(diff)
    assert errors and errors[0].reason == reason
    assert reason in validate_diff(diff)[0]


def test_uuid_key_without_id_gives_ncm_odd_error():
    [err] = diff_errors([{"lan": {LAN0: {"ip_address": "192.168.30.1"}}}, []])
    assert err.kind == "missing_id"
    assert err.message == f"invalid literal for int() with base 10: '{LAN0}'"


def test_apply_patch_merges_like_the_seed_example():
    config = [{"a": 1, "system": {"logging": {"level": "debug"}, "desc": "keep"}}, []]
    new = apply_patch(config, [{"system": {"logging": {"level": "info"}, "gps": {"enabled": True}}}, [["lan", 1]]])
    assert new == [{"a": 1, "system": {"logging": {"level": "info"}, "desc": "keep", "gps": {"enabled": True}}}, [["lan", 1]]]
    assert config[0]["system"]["logging"]["level"] == "debug"  # input untouched
    assert apply_patch(new, [{}, []]) == new  # an empty PATCH does nothing
    lists = apply_patch([{"lan": {"0": {"devices": [1, 2]}}}, []], [{"lan": {"0": {"devices": [3]}}}, []])
    assert lists[0]["lan"]["0"]["devices"] == [3]  # arrays given as lists replace the whole array


def test_apply_put_replaces_and_rejects_invalid():
    assert apply_put([{"system": {"gps": {"enabled": True}}}, []]) == [{"system": {"gps": {"enabled": True}}}, []]
    with pytest.raises(ConfigDiffError) as exc:
        apply_put([{"foo": "bar"}, []])
    assert exc.value.message == "cannot set foo to bar: invalid path" and exc.value.errors[0].path == ["foo"]
    with pytest.raises(ConfigDiffError):
        apply_patch([{}, []], [{"lan": {LAN0: {}}}, []])


def test_masked_password_written_back_keeps_secret():
    stored = [{"system": {"users": {"0": {"password": "s3cret!"}}}}, []]
    assert apply_patch(stored, [{"system": {"users": {"0": {"password": "*"}}}}, []]) == stored
    assert apply_put(mask_passwords(stored), previous=stored) == stored
    assert apply_patch(stored, [{"system": {"users": {"0": {"password": "new"}}}}, []])[0]["system"]["users"]["0"]["password"] == "new"


def test_merge_layers_matches_seed_layering_example():
    group = [{"a": {"b": 1, "c": 2}}, []]
    indie = [{"a": {"b": 3, "d": 4}}, []]
    merged, origins = merge_layers(group, indie)
    assert merged == [{"a": {"b": 3, "c": 2, "d": 4}}, []]
    assert origins == {"a.b": "individual", "a.c": "group", "a.d": "individual"}
    assert merge_layers(group, [{}, []])[0] == group  # indie cleared
    assert merge_layers(None, indie)[0] == indie       # removed from group
    assert merge_layers([{"x": {"y": 1}}, [["lan", 1]]], [{"x": 5}, [["lan", 1], ["vlan", 0]]]) == (
        [{"x": 5}, [["lan", 1], ["vlan", 0]]], {"x": "individual"})


def test_mask_passwords():
    cfg = [{"wlan": {"radio": {"0": {"bss": {"0": {"wpapsk": "2secret4Usorry", "ssid": "s"}}}}},
            "system": {"users": {"0": {"password": ""}}},
            "certmgmt": {"certs": {LAN0: {"_id_": LAN0, "key": "private", "name": "n"}}}}, [["lan", 1]]]
    masked = mask_passwords(cfg)
    assert masked[0]["wlan"]["radio"]["0"]["bss"]["0"] == {"wpapsk": "*", "ssid": "s"}
    assert masked[0]["system"]["users"]["0"]["password"] == ""  # default (empty) is not masked
    assert masked[0]["certmgmt"]["certs"][LAN0]["key"] == "*"
    assert masked[1] == [["lan", 1]] and cfg[0]["wlan"]["radio"]["0"]["bss"]["0"]["wpapsk"] == "2secret4Usorry"
    assert mask_passwords({"password": "x"}) == {"password": "*"}


def test_flatten_is_the_one_dotted_view_of_a_layer():
    """Sync, API, UI and previews share it: no setting with an empty name, lists expanded only on demand."""
    from ncm_config import flatten

    assert flatten({}) == {} and flatten({"system": {}}) == {}
    layer = {"system": {"system_id": "a", "logging": {"level": "info"}}, "lan": [{"_id_": "00000000-1", "ip": "10.0.0.1"}]}
    assert flatten(layer) == {"system.system_id": "a", "system.logging.level": "info", "lan": layer["lan"]}
    assert flatten(layer, expand_lists=True) == {"system.system_id": "a", "system.logging.level": "info", "lan.0.ip": "10.0.0.1"}
