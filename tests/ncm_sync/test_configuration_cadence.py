"""Light scheduled syncs (issue 14). A scheduled sync is full every NCM_FULL_SYNC_MINUTES, a requested one always;
between, a scheduled sync lists routers and modem metrics by NCM's "changed after" filters (every change seen,
nothing tombstoned) and leaves configuration managers out: the configuration API, the router page and the
config-push preview fetch a router's manager from NCM when the portal's copy is older than the tenant's sync
interval, and say so (with the copy they show) when NCM cannot be asked. Against ncm_sim."""
from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from accounts.models import Credential
from accounts.roles import Role
from ncm_sync.models import ConfigurationManager, Router, SyncState, SyncTrigger
from ncm_sync.services import request_sync, sync_tenant
from tests.factories import make_user
from tests.fleet import sim_keys, tenant_on
from tests.ncm_sim.helpers import send

pytestmark = pytest.mark.django_db(transaction=True)


def _calls(sim, key: str) -> int:
    with sim.state.lock:
        return sim.state.calls.get(key, 0)


def _cm_listings(sim) -> int:
    return _calls(sim, "GET configuration_managers")


def _scheduled_sync(tenant):
    run, _ = request_sync(tenant=tenant, trigger=SyncTrigger.SCHEDULE, enqueue=False)
    return sync_tenant(tenant_id=tenant.pk, run_id=run.pk)


def _age_copies(tenant, minutes: int) -> None:
    """As if the last complete listing and every on-demand fetch were `minutes` ago."""
    past = timezone.now() - timedelta(minutes=minutes)
    SyncState.objects.filter(tenant=tenant).update(full_sync_at=past)
    ConfigurationManager.objects.filter(tenant=tenant).update(last_seen_at=past)


def _set_system_id(sim, router: Router, value: str) -> None:
    cm_id = ConfigurationManager.objects.get(router=router).ncm_id
    answer = send(sim, "PATCH", f"configuration_managers/{cm_id}/", {"configuration": [{"system": {"system_id": value}}, []]})
    assert answer.status_code in (200, 202), answer.text


def test_light_syncs_see_every_router_change_and_full_ones_the_deletions(sims, settings):
    settings.NCM_FULL_SYNC_MINUTES = 60
    sim = sims.start(routers=30, seed=43, keys=sim_keys("light"))
    tenant = tenant_on(sim)
    assert _scheduled_sync(tenant).status == "succeeded"  # the first: full
    state = SyncState.objects.get(tenant=tenant)
    assert state.full_sync_at and set(state.change_cursors) == {
        "routers.updated_at__gt", "routers.state_updated_at__gt", "net_device_metrics.update_ts__gt"}

    ids = sorted(sim.state.tables["routers"])
    online = [rid for rid in ids if sim.state.tables["routers"][rid]["state"] == "online"]
    sim.update_router(online[0], name="Renamed in NCM")
    sim.update_router(online[1], state="offline")
    sim.delete_router(online[2])
    created = sim.create_router(name="Brand new")
    sim.reset_counters()

    light = _scheduled_sync(tenant)
    assert light.status == "succeeded"
    assert light.resources["routers"]["changes_only"] is True
    assert light.resources["net_device_metrics"]["changes_only"] is True
    assert "configuration_managers" not in light.resources
    assert _calls(sim, "GET routers") == 2  # one page by updated_at, one by state_updated_at
    live = Router.objects.filter(tenant=tenant, deleted_at__isnull=True)
    assert live.get(ncm_id=online[0]).name == "Renamed in NCM"
    assert live.get(ncm_id=online[1]).state == "offline"
    assert live.filter(ncm_id=str(created["id"]), name="Brand new").exists()
    assert live.filter(ncm_id=online[2]).exists()  # a deletion waits for the next full sync
    assert light.resources["routers"]["deleted"] == 0

    assert sync_tenant(tenant_id=tenant.pk).status == "succeeded"  # requested: full, exact
    assert not Router.objects.filter(tenant=tenant, ncm_id=online[2], deleted_at__isnull=True).exists()
    assert live.count() == len(sim.state.tables["routers"]) == 30

    assert "configuration_managers" not in _scheduled_sync(tenant).resources  # light again
    credential = Credential.objects.get(tenant=tenant, provider="ncm")
    credential.save()  # new keys or base URL (maybe another NCM account): the next scheduled sync is full
    run = _scheduled_sync(tenant)
    assert "configuration_managers" in run.resources and not run.resources["routers"]["changes_only"]


def test_a_router_stamped_in_the_future_does_not_hide_later_changes(sims, settings):
    settings.NCM_FULL_SYNC_MINUTES = 60
    sim = sims.start(routers=6, seed=44, keys=sim_keys("clock"))
    tenant = tenant_on(sim)
    ids = sorted(sim.state.tables["routers"])
    sim.update_router(ids[0], name="clock ahead")
    sim.state.tables["routers"][ids[0]]["updated_at"] = (timezone.now() + timedelta(days=1)).isoformat()
    assert sync_tenant(tenant_id=tenant.pk).status == "succeeded"
    cursor = SyncState.objects.get(tenant=tenant).change_cursors["routers.updated_at__gt"]
    assert cursor < timezone.now().isoformat()
    sim.update_router(ids[1], name="renamed after the future stamp")
    light = _scheduled_sync(tenant)
    assert light.resources["routers"]["changes_only"] is True
    assert Router.objects.get(tenant=tenant, ncm_id=ids[1]).name == "renamed after the future stamp"


def test_scheduled_syncs_list_managers_at_the_slower_cadence_requested_ones_always(sims, settings):
    settings.NCM_FULL_SYNC_MINUTES = 60
    sim = sims.start(routers=12, seed=41, keys=sim_keys("cadence"))
    tenant = tenant_on(sim)
    assert _scheduled_sync(tenant).status == "succeeded"  # never listed: lists them
    listed = _cm_listings(sim)
    assert listed >= 1 and ConfigurationManager.objects.filter(tenant=tenant).count() == 12

    run = _scheduled_sync(tenant)  # within the hour: skipped, nothing tombstoned
    assert run.status == "succeeded" and "configuration_managers" not in run.resources
    assert _cm_listings(sim) == listed
    assert ConfigurationManager.objects.filter(tenant=tenant, deleted_at__isnull=True).count() == 12

    assert sync_tenant(tenant_id=tenant.pk).status == "succeeded"  # requested: lists everything
    assert _cm_listings(sim) == listed + 1

    _age_copies(tenant, 61)
    assert _scheduled_sync(tenant).status == "succeeded"  # the hour has passed
    assert _cm_listings(sim) == listed + 2

    settings.NCM_FULL_SYNC_MINUTES = 0  # every sync
    assert "configuration_managers" in _scheduled_sync(tenant).resources


def test_configuration_api_router_page_and_preview_see_ncm_now(sims, settings, client_for, client):
    settings.NCM_FULL_SYNC_MINUTES = 60
    sim = sims.start(routers=4, seed=42, keys=sim_keys("fresh"))
    tenant = tenant_on(sim)
    assert sync_tenant(tenant_id=tenant.pk).status == "succeeded"
    router = Router.objects.filter(tenant=tenant, deleted_at__isnull=True).order_by("pk").first()
    user = make_user(tenant=tenant, role=Role.ADMIN)
    api = client_for(user)
    url = f"/api/v1/routers/{router.pk}/configuration/"

    def system_id(answer) -> str:
        rows = {row["path"]: row["value"] for row in answer.json()["rows"]}
        return rows.get("system.system_id")

    # Fresh copy (listed just now): no call to NCM.
    before = _cm_listings(sim)
    first = api.get(url)
    assert first.status_code == 200 and first.json()["notice"] == "" and _cm_listings(sim) == before

    # Changed in NCM after the copy was taken; a scheduled sync within the hour does not list managers, but the
    # copy is older than the sync interval (15 min): the API asks NCM for this router's manager.
    _set_system_id(sim, router, "changed-in-ncm")
    _age_copies(tenant, 20)
    assert _scheduled_sync(tenant).status == "succeeded"
    answer = api.get(url)
    assert answer.status_code == 200 and system_id(answer) == "changed-in-ncm" and answer.json()["notice"] == ""
    assert _cm_listings(sim) == before + 1
    api.get(url)  # fetched just now: not again
    assert _cm_listings(sim) == before + 1

    # The preview of a config push starts from what NCM holds now.
    _set_system_id(sim, router, "changed-again")
    _age_copies(tenant, 20)
    preview = api.post("/api/v1/jobs/preview/", {
        "tenant": tenant.pk, "kind": "config_push", "routers": [router.pk],
        "parameters": {"mode": "patch", "diff": [{"system": {"timezone": "UTC"}}, []]}}, format="json")
    assert preview.status_code == 200, preview.content
    target, = preview.json()["targets"]
    assert target["current"]["individual"][0]["system"]["system_id"] == "changed-again"
    assert "notices" not in preview.json()

    # NCM down: the copy held is shown, saying so, on the API and on the router page.
    _age_copies(tenant, 20)
    sim.fail_next(20, status=503, endpoint="GET configuration_managers")
    settings.NCM_MAX_RETRIES = 0
    down = api.get(url)
    assert down.status_code == 200 and system_id(down) == "changed-again"
    assert "NCM could not be asked" in down.json()["notice"]
    _age_copies(tenant, 20)
    sim.fail_next(20, status=503, endpoint="GET configuration_managers")
    preview = api.post("/api/v1/jobs/preview/", {
        "tenant": tenant.pk, "kind": "config_push", "routers": [router.pk],
        "parameters": {"mode": "patch", "diff": [{"system": {"timezone": "UTC"}}, []]}}, format="json").json()
    assert preview["targets"][0]["current"]["individual"][0]["system"]["system_id"] == "changed-again"
    assert "NCM could not be asked" in preview["notices"][0]
    client.force_login(user)
    page = client.get(f"/t/{tenant.pk}/routers/{router.pk}/")
    assert page.status_code == 200 and b"NCM could not be asked" in page.content
