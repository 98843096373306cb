"""GET /api/v1/routers/{id}/configuration/: layers as NCM layers them, passwords masked, scoped."""
from __future__ import annotations

import pytest

import ncm_config
from ncm_sync.models import ConfigurationManager, Group, Router
from tests.fleet import mirror_row as _mirror

pytestmark = pytest.mark.django_db


def test_configuration_layers_and_origins(world, client_for):
    tenant = world.tenants[0]
    group_cfg = [{"system": {"system_id": "store", "timezone": "UTC"},
                  "wlan": {"radio": {"0": {"bss": {"0": {"ssid": "Store", "wpapsk": "hunter2"}}}}}}, []]
    individual_cfg = [{"system": {"system_id": "alpha"}}, [["system", "timezone"]]]
    group = _mirror(Group, tenant, "g1", name="stores", data={"configuration": group_cfg})
    router = _mirror(Router, tenant, "r1", name="alpha", group=group, data={})
    _mirror(ConfigurationManager, tenant, "cm9", router=router, data={"configuration": individual_cfg})
    api = client_for(world.actor("read_only", "tenant", 0).user)

    response = api.get(f"/api/v1/routers/{router.pk}/configuration/")
    assert response.status_code == 200, response.content
    config = response.json()
    assert "hunter2" not in response.content.decode()
    assert config["configuration_manager"] == "cm9"
    assert config["effective"][0] == ncm_config.merge_layers(ncm_config.mask_passwords(group_cfg), individual_cfg)[0][0]
    rows = {row["path"]: row for row in config["rows"]}
    assert rows["system.system_id"] == {"path": "system.system_id", "value": "alpha", "layer": "individual",
                                        "overrides": True, "group_value": "store"}
    assert rows["wlan.radio.0.bss.0.ssid"]["layer"] == "group"
    assert "system.timezone" not in rows and config["removed"] == ["system.timezone"]

    other = client_for(world.actor("admin", "org", 1).user)
    assert other.get(f"/api/v1/routers/{router.pk}/configuration/").status_code == 404
