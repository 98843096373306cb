"""Mirrored NCM rows for page tests (written directly, as a sync would)."""
from __future__ import annotations

from datetime import timedelta

from django.utils import timezone

from ncm_sync.models import Alert, ConfigurationManager, Group, Location, NetDevice, NetDeviceHealth, NetDeviceMetrics, Router


def _mirror(model, tenant, ncm_id, **fields):
    now = timezone.now()
    return model.objects.create(tenant=tenant, ncm_id=str(ncm_id), first_seen_at=now, last_seen_at=now,
                                content_hash="x", **fields)


def make_fleet(tenant, *, prefix: str = "rtr", base: int = 1000):
    """Four routers: two online (one with poor modem + alert), one offline, one with outdated firmware."""
    group = _mirror(Group, tenant, base, name=f"{prefix}-stores", product="IBR900", firmware="7.24.10",
                    data={"configuration": [{"system": {"system_id": "store-${id}", "timezone": "UTC"},
                                             "wlan": {"radio": {"0": {"bss": {"0": {"ssid": "Store", "wpapsk": "hunter2"}}}}}}, []]})
    routers = []
    specs = [("alpha", "online", "7.24.10"), ("bravo", "online", "7.24.10"), ("charlie", "offline", "7.24.10"),
             ("delta", "online", "7.22.0")]
    for i, (name, state, firmware) in enumerate(specs):
        r = _mirror(Router, tenant, base + i, name=f"{prefix}-{name}", state=state, product="IBR900", firmware=firmware,
                    serial_number=f"SN{base + i}", mac=f"00:30:44:00:{i:02x}:01", group=group,
                    state_updated_at=timezone.now() - timedelta(hours=i))
        modem = _mirror(NetDevice, tenant, base * 10 + i, name="mdm-int1", mode="wan", type="mdm", router=r,
                        carrier=["Verizon", "AT&T", "T-Mobile", "Verizon"][i], connection_state="connected")
        category, score = [("excellent", 90), ("poor", 12), ("fair", 40), ("good", 60)][i]
        _mirror(NetDeviceHealth, tenant, base * 10 + i, net_device=modem, cellular_health_score=score,
                cellular_health_category=category)
        _mirror(NetDeviceMetrics, tenant, base * 10 + i, net_device=modem, rsrp=-80.0 - i * 10, rsrq=-9.5, sinr=12.0 - i,
                signal_strength=score, dbm=-60 - i)
        routers.append(r)
    _mirror(ConfigurationManager, tenant, base, router=routers[0], synched=True,
            data={"configuration": [{"system": {"system_id": "alpha-custom"}}, [["system", "timezone"]]]})
    _mirror(Location, tenant, base, router=routers[0], latitude=41.88, longitude=-87.63, accuracy=10)
    _mirror(Alert, tenant, base, router=routers[1], type="connection_state", ncm_created_at=timezone.now(),
            friendly_info=f"{prefix}-bravo went offline")
    return routers
