"""The provider layer: one object per vendor saying what the portal can do with it.

    provider = provider_for(device.provider)       # "ncm" or "eccloud"
    provider.capabilities                           # job kinds it supports, e.g. {"config_push"}
    provider.limits                                 # its documented call limits
    provider.sync(tenant_id=, credential=)          # list what to mirror and write it -> figures
    provider.read_configuration(device)             # {"effective": {k: v}, "keys": {k: {value, origin, level}}}
    provider.preview_config(device, parameters)     # what a config push would do (sends nothing)
    provider.push_config(device, parameters)        # apply it; returns the vendor-confirmed result
    provider.run_action(device, action, parameters) # reboot, speed test... where the vendor has one

NCM is the first implementation and keeps its existing code paths: its sync is the NCM engine
(ncm_sync.services.sync.TenantSync, run by the per-tenant sync), its configuration the mirror's layers
(ncm_sync.selectors.router_configuration), its writes the job runners (jobs.runners). ecCloud is the second:
its sync, configuration reads and pushes live in this app. See docs/providers.md.
"""
from __future__ import annotations

from accounts.models import Credential
from devices.models import Device, DeviceProvider

__all__ = ["Provider", "NcmProvider", "EcCloudProvider", "Unsupported", "provider_for", "PROVIDERS", "supported_kinds"]


class Unsupported(Exception):
    """The vendor has no such action."""


class Provider:
    name: str = ""
    label: str = ""
    capabilities: frozenset[str] = frozenset()
    limits: dict = {}

    def supports(self, kind: str) -> bool:
        return kind in self.capabilities

    def require(self, kind: str) -> None:
        if not self.supports(kind):
            raise Unsupported(f"{self.label} has no {kind.replace('_', ' ')}: the action {kind!r} is not available "
                              f"for {self.name} devices.")

    def credential(self, device: Device) -> Credential:
        credential = Credential.objects.filter(tenant_id=device.tenant_id, provider=self.name).first()
        if credential is None:
            raise Unsupported(f"The tenant has no {self.label} credential.")
        return credential

    # The interface (every provider answers these).
    def sync(self, *, tenant_id: int, credential) -> dict:
        raise NotImplementedError

    def read_configuration(self, device: Device) -> dict:
        raise NotImplementedError

    def preview_config(self, device: Device, parameters: dict) -> dict:
        raise NotImplementedError

    def push_config(self, device: Device, parameters: dict) -> dict:
        raise NotImplementedError

    def run_action(self, device: Device, action: str, parameters: dict | None = None) -> dict:
        self.require(action)
        raise NotImplementedError


class NcmProvider(Provider):
    name = DeviceProvider.NCM
    label = "Cradlepoint NCM"
    capabilities = frozenset({"reboot", "speed_test", "config_push", "firmware_upgrade"})
    limits = {"requests": 500, "per_seconds": 60, "scope": "API key pair"}

    def sync(self, *, tenant_id: int, credential) -> dict:
        from ncm_sync.client import client_for_credential
        from ncm_sync.services.sync import TenantSync

        with client_for_credential(credential) as client:
            return {name: s.as_dict() for name, s in TenantSync(tenant_id=tenant_id, client=client).run().items()}

    def read_configuration(self, device: Device) -> dict:
        from ncm_sync.selectors import router_configuration
        from ncm_sync.services.configuration import refresh_configuration_managers

        if device.router_id is None:
            return {"effective": {}, "keys": {}}
        # The router's own layer as NCM holds it now when the portal's copy is older than a sync interval.
        refresh_configuration_managers(tenant=device.router.tenant, routers=[device.router])
        config = router_configuration(device.router)
        keys = {row["path"]: {"value": row["value"], "origin": row["layer"],
                              "level": "device" if row["layer"] == "individual" else row["layer"]}
                for row in config["rows"]}
        return {"effective": {k: v["value"] for k, v in keys.items()}, "keys": keys}

    def preview_config(self, device, parameters):
        raise Unsupported("NCM config pushes are previewed by the jobs app (routers/groups targets).")

    def push_config(self, device, parameters):
        raise Unsupported("NCM config pushes run through the jobs app's NCM runner.")


class EcCloudProvider(Provider):
    name = DeviceProvider.ECCLOUD
    label = "IgniteNet ecCloud"
    capabilities = frozenset({"config_push"})  # the public API has no reboot and no speed test
    limits = {"requests": 200, "per_seconds": 10, "scope": "source address (one budget per ecCloud host)",
              "retry": "502/503/429 after >= 60 s, at most 10; 500 once; GET/PUT only"}

    def client(self, device: Device, **kwargs):
        from devices.eccloud import client_for_credential

        return client_for_credential(self.credential(device), **kwargs)

    def sync(self, *, tenant_id: int, credential) -> dict:
        from devices.services.sync import sync_eccloud_credential

        return sync_eccloud_credential(tenant_id=tenant_id, credential=credential)

    def read_configuration(self, device: Device) -> dict:
        from eccloud_config import merge

        with self.client(device) as client:
            current = client.config_changes(device.remote_id)
        keys = merge(current.get("site"), current.get("device"))
        return {"effective": {k: v["value"] for k, v in keys.items()}, "keys": keys,
                "config_suspended": bool(current.get("configSuspended")),
                "unfinished_task_count": current.get("unfinishedTaskCount")}

    def preview_config(self, device: Device, parameters: dict) -> dict:
        from devices.services.config import preview_changes

        with self.client(device) as client:
            current = client.config_changes(device.remote_id)
        return preview_changes(current, (parameters or {}).get("changes"))

    def push_config(self, device: Device, parameters: dict, *, wait: bool = True) -> dict:
        from devices.services.config import push_changes, wait_for_task

        with self.client(device) as client:
            result = push_changes(client, device.remote_id, (parameters or {}).get("changes"))
            if wait:
                result["applied"] = wait_for_task(client, device.remote_id)
        return result


PROVIDERS: dict[str, Provider] = {p.name: p for p in (NcmProvider(), EcCloudProvider())}


def provider_for(name: str) -> Provider:
    try:
        return PROVIDERS[name]
    except KeyError:
        raise Unsupported(f"Unknown provider {name!r}.") from None


def supported_kinds(provider: str) -> frozenset[str]:
    return PROVIDERS[provider].capabilities if provider in PROVIDERS else frozenset()
