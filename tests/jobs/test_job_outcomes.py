"""Honest outcomes (issue 13): a reboot succeeds only when NCM shows it happened, offline targets are named in the
preview and fail (or are skipped) saying why, a config push refreshes the mirror, previews list real settings, and
results read as people read them. Against the NCM simulator (never a mock)."""
from __future__ import annotations

from collections import Counter

import pytest

from jobs import runners, services
from jobs.models import ItemStatus, Job, JobItem, JobLogEntry, JobStatus
from ncm_sync.models import ConfigurationManager, Router
from tests.jobs.test_jobs_sim import drain, operator_user, reboots_by_router, synced_tenant  # noqa: F401
from tests.fleet import sim_keys

pytestmark = pytest.mark.django_db(transaction=True)


def _online_offline(tenant, n_online=2, n_offline=2):
    live = Router.objects.filter(tenant=tenant, deleted_at__isnull=True).order_by("pk")
    online, offline = list(live.filter(state="online")[:n_online]), list(live.filter(state="offline")[:n_offline])
    assert len(online) == n_online and len(offline) == n_offline
    return online, offline


#
# 4. Reboots: succeeded only on NCM's evidence; offline targets fail (or are skipped), saying why.
#
def test_reboot_succeeds_only_when_ncm_shows_it_and_offline_routers_fail_unsent(sims, operator_user):
    sim = sims.start(routers=20, seed=31, keys=sim_keys("o1"))
    tenant = synced_tenant(sim)
    online, offline = _online_offline(tenant)
    job = drain(services.job_create(user=operator_user, tenant=tenant, kind="reboot",
                                    router_ids=[r.pk for r in online + offline]))

    items = {i.router_id: i for i in JobItem.objects.filter(job=job)}
    sent = reboots_by_router(sim)
    for router in online:
        item = items[router.pk]
        assert item.status == ItemStatus.SUCCEEDED and sent[router.ncm_id] == 1
        assert item.result["confirmed_by"] == "reboot_status_change alert"  # NCM showed it, not just a 201
        assert item.result["message"] == "Device has rebooted."
    for router in offline:
        item = items[router.pk]
        assert item.status == ItemStatus.FAILED and sent[router.ncm_id] == 0  # nothing sent: NCM would drop it
        assert "offline" in item.error and "NCM drops reboot requests" in item.error
    assert job.status == JobStatus.PARTIAL and job.counts["succeeded"] == 2 and job.counts["failed"] == 2


def test_reboot_can_skip_offline_routers(sims, operator_user):
    sim = sims.start(routers=20, seed=31, keys=sim_keys("o2"))
    tenant = synced_tenant(sim)
    online, offline = _online_offline(tenant, 1, 2)
    job = drain(services.job_create(user=operator_user, tenant=tenant, kind="reboot", parameters={"offline": "skip"},
                                    router_ids=[r.pk for r in online + offline]))
    statuses = {i.router_id: (i.status, i.error) for i in JobItem.objects.filter(job=job)}
    assert statuses[online[0].pk][0] == ItemStatus.SUCCEEDED
    for router in offline:
        status, error = statuses[router.pk]
        assert status == ItemStatus.SKIPPED and "offline" in error and "Nothing was sent" in error
    assert reboots_by_router(sim) == Counter({online[0].ncm_id: 1})
    assert job.status == JobStatus.SUCCEEDED
    with pytest.raises(Exception, match="offline must be"):
        services.job_create(user=operator_user, tenant=tenant, kind="reboot", parameters={"offline": "maybe"},
                            router_ids=[online[0].pk])


def test_accepted_reboot_without_evidence_is_never_succeeded(sims, operator_user, settings, monkeypatch):
    """NCM answers 201 even when the command is lost: without a reboot alert or restarted uptime the item ends
    `unknown`, or `failed` when the router is offline by then (NCM dropped it)."""
    sim = sims.start(routers=20, seed=31, keys=sim_keys("o3"), reboot_s=3600)  # the routers never report back
    tenant = synced_tenant(sim)
    online, _ = _online_offline(tenant, 2, 0)
    monkeypatch.setattr(runners, "CONFIRM_INLINE_SECONDS", 0)
    settings.JOBS_REBOOT_CONFIRM_SECONDS = 3600
    job = services.job_create(user=operator_user, tenant=tenant, kind="reboot", router_ids=[r.pk for r in online])
    services.job_start(job.pk)
    assert runners.run_job(job.pk) is not None  # accepted, now waiting for NCM's evidence
    items = list(JobItem.objects.filter(job=job))
    assert {i.status for i in items} == {ItemStatus.DISPATCHED}
    assert all(i.ncm_ref.startswith(runners.REBOOT_REF) for i in items)
    assert runners.reap_stale_items(job.pk) == 0  # awaiting NCM, not a lost worker

    sim.update_router(online[1].ncm_id, state="offline")
    settings.JOBS_REBOOT_CONFIRM_SECONDS = 0.001
    assert runners.run_job(job.pk) is None
    items = {i.router_id: i for i in JobItem.objects.filter(job=job)}
    assert items[online[0].pk].status == ItemStatus.UNKNOWN and "showed no reboot" in items[online[0].pk].error
    assert items[online[1].pk].status == ItemStatus.FAILED and "NCM drops reboot requests" in items[online[1].pk].error
    job.refresh_from_db()
    assert job.status == JobStatus.FAILED and job.counts.get("succeeded", 0) == 0


def test_sweep_redrives_reboots_awaiting_confirmation(sims, operator_user, settings, monkeypatch):
    """A drainer that dies while reboots await NCM's evidence: the minute sweep sends another to confirm them."""
    from jobs import tasks

    sim = sims.start(routers=20, seed=31, keys=sim_keys("o3b"), reboot_s=3600)
    tenant = synced_tenant(sim)
    online, _ = _online_offline(tenant, 1, 0)
    monkeypatch.setattr(runners, "CONFIRM_INLINE_SECONDS", 0)
    job = services.job_create(user=operator_user, tenant=tenant, kind="reboot", router_ids=[online[0].pk])
    services.job_start(job.pk)
    assert runners.run_job(job.pk) is not None  # the drainer would reschedule itself; say it died instead
    redriven = []
    monkeypatch.setattr(tasks.run_job_task, "delay", lambda job_id: redriven.append(job_id))
    runners.resume_stalled_jobs()
    assert redriven == [job.pk]
    assert JobItem.objects.get(job=job).status == ItemStatus.DISPATCHED  # not reaped: NCM's to confirm


def test_drainer_dying_with_the_confirmation_turn_does_not_strand_the_job(sims, operator_user, monkeypatch):
    """A drainer killed while checking NCM holds the job's confirmation turn until it expires: the others keep
    coming back (never give up) and take over."""
    import time

    from django.core.cache import cache

    sim = sims.start(routers=20, seed=31, keys=sim_keys("o3c"), reboot_s=0.2)
    tenant = synced_tenant(sim)
    online, _ = _online_offline(tenant, 1, 0)
    monkeypatch.setattr(runners, "CONFIRM_INLINE_SECONDS", 0)
    job = services.job_create(user=operator_user, tenant=tenant, kind="reboot", router_ids=[online[0].pk])
    services.job_start(job.pk)
    cache.set(f"jobs:confirm:{job.pk}", "a-dead-drainer", 30)
    assert runners.run_job(job.pk) == runners.CONFIRM_RETRY_SECONDS  # sent; checking is the dead one's turn
    assert JobItem.objects.get(job=job).status == ItemStatus.DISPATCHED
    cache.delete(f"jobs:confirm:{job.pk}")  # its turn expires
    time.sleep(0.4)
    assert runners.run_job(job.pk) is None
    assert JobItem.objects.get(job=job).status == ItemStatus.SUCCEEDED


def test_reboot_confirmed_by_uptime_when_ncm_raises_no_alert(sims, operator_user, monkeypatch):
    """Accounts without reboot alerts configured: the router's links' uptime restarting is the evidence."""
    import time

    sim = sims.start(routers=20, seed=31, keys=sim_keys("o4"), reboot_s=0.2)
    tenant = synced_tenant(sim)
    online, _ = _online_offline(tenant, 1, 0)
    sim.state.reboot_alerts = False  # NCM without the reboot alert rule raises none, however fast the router returns
    monkeypatch.setattr(runners, "CONFIRM_INLINE_SECONDS", 0)
    job = services.job_create(user=operator_user, tenant=tenant, kind="reboot", router_ids=[online[0].pk])
    services.job_start(job.pk)
    runners.run_job(job.pk)
    time.sleep(0.5)  # the router is back (reboot_s=0.2): its links' uptime restarted
    assert runners.run_job(job.pk) is None
    item = JobItem.objects.get(job=job)
    assert item.status == ItemStatus.SUCCEEDED and item.result["confirmed_by"] == "uptime", item.result


#
# 5. Speed-test preview warns about offline targets.
#
def test_speed_test_preview_warns_about_offline_routers(sims, operator_user, client_for):
    sim = sims.start(routers=20, seed=32, keys=sim_keys("o5"))
    tenant = synced_tenant(sim)
    online, offline = _online_offline(tenant, 1, 1)
    sim.reset_counters()
    response = client_for(operator_user).post("/api/v1/jobs/preview/", {
        "tenant": tenant.pk, "kind": "speed_test", "routers": [online[0].pk, offline[0].pk]}, format="json")
    assert response.status_code == 200, response.content
    targets = {t["router"]: t for t in response.json()["targets"]}
    assert "warning" not in targets[online[0].pk]
    assert "not online" in targets[offline[0].pk]["warning"] and "speed test" in targets[offline[0].pk]["warning"]
    assert sum(sim.state.calls.values()) == 0


#
# 8. A finished config push refreshes the mirror: the router page shows the pushed configuration at once.
#
def test_config_push_refreshes_the_mirrored_configuration_when_it_finishes(sims, operator_user, client_for):
    sim = sims.start(routers=10, seed=33, keys=sim_keys("o6"))
    tenant = synced_tenant(sim)
    router = Router.objects.filter(tenant=tenant, deleted_at__isnull=True, state="online").first()
    api = client_for(operator_user)
    before = api.get(f"/api/v1/routers/{router.pk}/configuration/").json()
    assert "pushed-by-portal" not in str(before)
    job = drain(services.job_create(user=operator_user, tenant=tenant, kind="config_push", router_ids=[router.pk],
                                    parameters={"mode": "patch", "diff": [{"system": {"system_id": "pushed-by-portal"}}, []]}))
    assert job.status == JobStatus.SUCCEEDED
    manager = ConfigurationManager.objects.get(tenant=tenant, router=router)
    assert manager.data["configuration"][0]["system"]["system_id"] == "pushed-by-portal"  # no sync in between
    after = api.get(f"/api/v1/routers/{router.pk}/configuration/").json()
    assert after["individual"][0]["system"]["system_id"] == "pushed-by-portal", after


def test_router_page_shows_a_push_to_a_router_without_configuration_at_once(sims, operator_user):
    """The issue's case: a router with no group and no individual configuration. After the push (no sync since)
    its page shows the pushed setting, not "Neither the group nor the router sets any configuration"."""
    from tests.ui.test_pages import body, login

    sim = sims.start(routers=20, seed=38, keys=sim_keys("o6b"))
    tenant = synced_tenant(sim)
    bare = [m.router for m in ConfigurationManager.objects.filter(tenant=tenant, router__state="online", router__group__isnull=True)
            .select_related("router") if not (m.data.get("configuration") or [{}])[0]]
    assert bare, "seed 38 has online routers without group or individual configuration"
    router, page_url = bare[0], f"/t/{tenant.pk}/routers/{bare[0].pk}/"
    client = login(operator_user)
    assert "Neither the group nor the router sets any configuration" in body(client.get(page_url))
    job = drain(services.job_create(user=operator_user, tenant=tenant, kind="config_push", router_ids=[router.pk],
                                    parameters={"mode": "patch", "diff": [{"system": {"system_id": "first-setting"}}, []]}))
    assert job.status == JobStatus.SUCCEEDED
    page = body(client.get(page_url))
    assert "Neither the group nor the router sets any configuration" not in page and "first-setting" in page


def test_group_config_push_refreshes_the_mirrored_group(sims, operator_user):
    from ncm_sync.models import Group

    sim = sims.start(routers=10, seed=33, keys=sim_keys("o7"))
    tenant = synced_tenant(sim)
    group = Group.objects.filter(tenant=tenant, deleted_at__isnull=True).first()
    job = drain(services.job_create(user=operator_user, tenant=tenant, kind="config_push", group_ids=[group.pk],
                                    parameters={"mode": "patch", "diff": [{"system": {"logging": {"level": "debug"}}}, []]}))
    assert job.status == JobStatus.SUCCEEDED
    group.refresh_from_db()
    assert group.data["configuration"][0]["system"]["logging"]["level"] == "debug"


#
# 11. The config-push preview lists settings, never a row with an empty name.
#
def test_config_push_preview_changes_name_every_setting(sims, operator_user, client_for):
    sim = sims.start(routers=20, seed=34, keys=sim_keys("o8"))
    tenant = synced_tenant(sim)
    empty = [m for m in ConfigurationManager.objects.filter(tenant=tenant, deleted_at__isnull=True, router__isnull=False)
             if not (m.data.get("configuration") or [{}])[0]]
    assert empty, "the fleet has routers without an individual configuration"
    router = empty[0].router
    response = client_for(operator_user).post("/api/v1/jobs/preview/", {
        "tenant": tenant.pk, "kind": "config_push", "routers": [router.pk],
        "parameters": {"mode": "patch", "diff": [{"system": {"system_id": "x1"}}, [["system", "logging"]]]}}, format="json")
    assert response.status_code == 200, response.content
    changes = sorted(response.json()["targets"][0]["changes"], key=lambda c: c["path"])
    assert all(c["path"] for c in changes)
    assert changes == [
        {"path": "system.logging", "before": None, "after": None, "kind": "removed"},
        {"path": "system.system_id", "before": None, "after": "x1", "kind": "added"},
    ]


#
# 14. Results as people read them; the log says "Finished: succeeded — 2 of 2 succeeded".
#
def test_results_read_as_people_read_them(sims, operator_user, client_for):
    sim = sims.start(routers=12, seed=35, keys=sim_keys("o9"), speed_test_duration_s=0.3)
    tenant = synced_tenant(sim)
    online, offline = _online_offline(tenant, 2, 1)
    job = drain(services.job_create(user=operator_user, tenant=tenant, kind="reboot", router_ids=[r.pk for r in online]))
    assert job.status == JobStatus.SUCCEEDED
    assert list(JobLogEntry.objects.filter(job=job).values_list("message", flat=True))[-1] == \
        "Finished: succeeded — 2 of 2 succeeded"
    api = client_for(operator_user)
    detail = api.get(f"/api/v1/jobs/{job.pk}/").json()
    assert {i["summary"] for i in detail["items"]} == {"Rebooted: NCM reported the reboot (“Device has rebooted.”)."}

    from tests.helpers.celery_worker import wait_for

    job = services.job_create(user=operator_user, tenant=tenant, kind="speed_test",
                              router_ids=[online[0].pk, offline[0].pk], parameters={"test_type": "TCP Upload"})
    services.job_start(job.pk)
    runners.run_speed_test(job.pk)
    refs = set(JobItem.objects.filter(job=job).exclude(ncm_ref="").values_list("ncm_ref", flat=True))

    def finished():
        for ref in refs:
            runners.poll_speed_test(job.pk, ref, 0)
        return Job.objects.get(pk=job.pk).finished_at

    wait_for(finished, timeout=20, interval=0.3, message="speed test to finish")
    items = {i["router"]: i for i in api.get(f"/api/v1/jobs/{job.pk}/").json()["items"]}
    good, bad = items[online[0].pk], items[offline[0].pk]
    assert good["status"] == "succeeded" and good["summary"].endswith("Mbps up") and "{" not in good["summary"]
    assert bad["status"] == "failed" and "device offline" in bad["summary"]  # NCM's own words
    log = list(JobLogEntry.objects.filter(job=job).values_list("message", flat=True))
    assert log[-1] == "Finished: partially succeeded — 1 of 2 succeeded, 1 failed"


def test_speed_test_of_all_three_types_shows_down_up_and_latency(sims, operator_user, client_for):
    """NCM runs one test type per speed_test job: a job asking for download, upload and latency starts one of
    each and the router's result shows all three figures."""
    from jobs.models import SpeedTestResult
    from tests.helpers.celery_worker import wait_for

    sim = sims.start(routers=12, seed=35, keys=sim_keys("o10"), speed_test_duration_s=0.3)
    tenant = synced_tenant(sim)
    online, offline = _online_offline(tenant, 1, 1)
    job = services.job_create(user=operator_user, tenant=tenant, kind="speed_test", router_ids=[online[0].pk, offline[0].pk],
                              parameters={"test_types": ["TCP Download", "TCP Upload", "TCP Latency"]})
    services.job_start(job.pk)
    sim.reset_counters()
    runners.run_speed_test(job.pk)
    posted = [w["body"]["config"]["test_type"] for w in sim.state.writes if w["endpoint"] == "POST speed_test"]
    assert posted and posted == ["TCP Download", "TCP Upload", "TCP Latency"] * (len(posted) // 3)  # per account
    refs = {ref for value in JobItem.objects.filter(job=job).values_list("ncm_ref", flat=True) for ref in value.split(",")}
    assert len(refs) == len(posted) and all(len(v.split(",")) == 3 for v in JobItem.objects.filter(job=job).values_list("ncm_ref", flat=True))

    def finished():
        for ref in refs:
            runners.poll_speed_test(job.pk, ref, 0)
        return Job.objects.get(pk=job.pk).finished_at

    wait_for(finished, timeout=20, interval=0.3, message="the three speed tests to finish")
    items = {i["router"]: i for i in client_for(operator_user).get(f"/api/v1/jobs/{job.pk}/").json()["items"]}
    good, bad = items[online[0].pk], items[offline[0].pk]
    assert good["status"] == "succeeded", good
    assert "Mbps down · " in good["summary"] and " Mbps up · latency " in good["summary"] and good["summary"].endswith(" ms")
    assert bad["status"] == "failed" and "device offline" in bad["summary"]
    types = sorted(SpeedTestResult.objects.filter(job=job, router=online[0]).values_list("test_type", flat=True))
    assert set(types) == {"TCP Download", "TCP Latency", "TCP Upload"} and len(types) % 3 == 0  # per modem
    with pytest.raises(Exception, match="test_types must list"):
        services.job_create(user=operator_user, tenant=tenant, kind="speed_test", router_ids=[online[0].pk],
                            parameters={"test_types": ["TCP Download", "TCP Download"]})
