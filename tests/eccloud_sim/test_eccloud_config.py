"""The article's merge table, every row, and the config-changes planning rules (pure: no Django)."""
import pytest

from eccloud_config import ConfigChangeError, apply_changes, effective, entity_of, merge, plan_changes, validate_changes

S = "site"


def site(**kv):
    return {k.replace("__", "/"): {"value": v, "origin": S} for k, v in kv.items()}


def test_row_undefined_site_defined_device_origin_device():
    assert merge({}, {"radio/r5/channel": {"value": "36", "origin": "device"}}) == {
        "radio/r5/channel": {"value": "36", "origin": "device", "level": "device"}}


def test_row_defined_both_origin_site_device_takes_device_value():
    out = merge(site(hotspot__landingURL="https://site"),
                {"hotspot/landingURL": {"value": "https://dev", "origin": "site-device"}})
    assert out["hotspot/landingURL"] == {"value": "https://dev", "origin": "site-device", "level": "device"}


def test_row_defined_both_origin_site_takes_site_value_stale_copy():
    out = merge(site(radio__r5__enable="1"), {"radio/r5/enable": {"value": "0", "origin": "site"}})
    assert out["radio/r5/enable"] == {"value": "1", "origin": "site", "level": "site"}


def test_row_defined_site_undefined_device_takes_site_value():
    assert merge(site(locale__deviceLang="auto"), {}) == {
        "locale/deviceLang": {"value": "auto", "origin": "site", "level": "site"}}


def test_outside_the_table():
    # A device key marked `site` whose site key is gone has nothing to originate from.
    assert merge({}, {"a/b": {"value": "x", "origin": "site"}}) == {}
    # A device key marked `device` that the site also defines keeps the device's value.
    assert effective(site(a__b="s"), {"a/b": {"value": "d", "origin": "device"}}) == {"a/b": "d"}


def test_entity_of():
    assert entity_of("wireless/1000000584/broadcastSSID") == "wireless/1000000584"
    assert entity_of("radio/global/bandSteering") is None
    assert entity_of("users/12/name") == "users/12"


def test_plain_keys_get_the_right_origin_and_null_reverts():
    s = site(hotspot__landingURL="https://site")
    d = {"radio/r5/channel": {"value": "36", "origin": "device"}}
    plan = plan_changes(s, d, {}, {"hotspot/landingURL": "https://x", "radio/r5/channel": "40", "new/key": "1"})
    assert plan == {"hotspot/landingURL": {"value": "https://x", "origin": "site-device"},
                    "radio/r5/channel": {"value": "40", "origin": "device"},
                    "new/key": {"value": "1", "origin": "device"}}
    revert = plan_changes(s, apply_changes(d, plan), {}, {"hotspot/landingURL": None, "radio/r5/channel": None})
    assert revert == {"hotspot/landingURL": {"value": "https://site", "origin": "site"}, "radio/r5/channel": None}


def test_a_site_entity_is_overridden_whole():
    e = "wireless/1000000584"
    s = {f"{e}/ssid": {"value": "Guest", "origin": S}, f"{e}/key": {"value": "pw", "origin": S}}
    plan = plan_changes(s, {}, {}, {f"{e}/ssid": "Lobby"})
    assert plan == {f"{e}/ssid": {"value": "Lobby", "origin": "site-device"},
                    f"{e}/key": {"value": "pw", "origin": "site-device"}}
    after = apply_changes({}, plan)
    assert effective(s, after) == {f"{e}/ssid": "Lobby", f"{e}/key": "pw"}
    # removing the override reverts the whole entity to the site
    back = plan_changes(s, after, {}, {f"{e}/ssid": None})
    assert back == {f"{e}/ssid": {"value": "Guest", "origin": "site"}, f"{e}/key": {"value": "pw", "origin": "site"}}


def test_a_new_entity_completes_from_defaults():
    plan = plan_changes({}, {}, {"wireless": {"ssid": "IgniteNet", "enable": "1"}}, {"wireless/5/ssid": "Staff"})
    assert plan == {"wireless/5/enable": {"value": "1", "origin": "device"},
                    "wireless/5/ssid": {"value": "Staff", "origin": "device"}}
    with pytest.raises(ConfigChangeError, match="no defaults"):
        plan_changes({}, {}, {}, {"vpn/7/name": "x"})
    with pytest.raises(ConfigChangeError, match="below 1000000000"):
        plan_changes({}, {}, {"wireless": {"ssid": ""}}, {"wireless/1000000999/ssid": "x"})


def test_validation_names_the_key():
    assert validate_changes({"radio/r5/enable": 1})[0].startswith("changes.radio/r5/enable")
    assert validate_changes({}) and validate_changes([]) and validate_changes({"bad key": "1"})
    assert validate_changes({"radio/r5/enable": "1", "x/y": None}) == []
