"""Isolation/escalation specs for sites and devices: a mixed tenant (an NCM router projected as a device, and
an ecCloud site with a device)."""
from __future__ import annotations

from django.utils import timezone

from devices.models import Device, Site
from devices.services.sync import project_ncm_routers
from ncm_sync.models import Router
from tests.api_specs import Spec, register
from tests.factories import unique
from tests.fleet import mirror_row


def _site(tenant) -> Site:
    now = timezone.now()
    rid = unique("28147497671")
    return Site.objects.create(tenant=tenant, provider="eccloud", remote_id=rid, name=f"site {rid}",
                               data={"id": rid}, first_seen_at=now, last_seen_at=now)


def _device(tenant) -> Device:
    """An ecCloud device beside an NCM router in the same tenant; returns the ecCloud one."""
    mirror_row(Router, tenant, name=unique("rtr-"), state="online")
    project_ncm_routers(tenant_id=tenant.pk)
    site = _site(tenant)
    now = timezone.now()
    rid = unique("28147497672")
    return Device.objects.create(
        tenant=tenant, provider="eccloud", remote_id=rid, name=f"AP {rid}", serial=rid[-7:], mac="00:1f:00:00:00:01",
        status="online", site=site, site_remote_id=site.remote_id, last_contact=now,
        vendor={"id": rid, "status_id": "STATUS_ONLINE"}, first_seen_at=now, last_seen_at=now)


register("devices.Site", Spec(make=_site))
register("devices.Device", Spec(make=_device))
