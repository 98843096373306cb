"""Staged rollouts (issue 16): items run wave by wave; failed + unknown items halt the job before its next wave,
later waves untouched, until resumed; a soak checks the wave's routers stayed online; a worker killed between
waves resumes where it was. Against the NCM simulator."""
from __future__ import annotations

import time
from collections import Counter

import pytest

from accounts.roles import Role
from jobs import runners, services
from jobs.models import ItemStatus, Job, JobItem, JobStatus
from ncm_sync.models import ConfigurationManager, Router
from tests.factories import make_user
from tests.fleet import sim_keys
from tests.helpers.celery_worker import celery_worker, wait_for
from tests.jobs.test_jobs_sim import drain, operator_user, synced_tenant  # noqa: F401

pytestmark = pytest.mark.django_db(transaction=True)

DIFF = {"mode": "patch", "diff": [{"system": {"system_id": "rolled-out"}}, []]}


def _online(tenant, n):
    routers = list(Router.objects.filter(tenant=tenant, deleted_at__isnull=True, state="online").order_by("pk")[:n])
    assert len(routers) == n
    return routers


def _pushes(sim) -> Counter:
    """Accepted configuration writes per NCM configuration manager id."""
    with sim.state.lock:
        return Counter(w["path"].rstrip("/").rsplit("/", 1)[-1].split("?")[0] for w in sim.state.writes
                       if w["endpoint"].startswith("PATCH configuration_managers")
                       and (w["answered_status"] < 300 or w["applied"]))


def _statuses(job, wave=None):
    items = JobItem.objects.filter(job=job)
    if wave is not None:
        items = items.filter(wave=wave)
    return Counter(items.values_list("status", flat=True))


def test_rollout_halts_in_wave_one_then_resumes(sims, client_for):
    from webhooks.models import WebhookDelivery
    from webhooks.services import webhook_save

    sim = sims.start(routers=16, seed=71, keys=sim_keys("ro1"))
    tenant = synced_tenant(sim)
    admin = make_user(tenant=tenant, role=Role.ADMIN)
    reader = make_user(tenant=tenant, role=Role.READ_ONLY)
    webhook_save(actor=None, url="https://hooks.example.com/in", events=["job.halted"], tenant=tenant)
    routers = _online(tenant, 10)
    managers = dict(ConfigurationManager.objects.filter(router__in=routers).values_list("router_id", "ncm_id"))
    sim.reset_counters()
    # The first push of wave 1 is refused by NCM (its own words land on the item).
    sim.fail_next(1, status=400, endpoint="PATCH configuration_managers")
    response = client_for(admin).post("/api/v1/jobs/", {
        "tenant": tenant.pk, "kind": "config_push", "routers": [r.pk for r in routers], "parameters": DIFF,
        "rollout": {"waves": [2, 3], "halt_after_failures": 1, "pause_minutes": 0},
    }, format="json")
    assert response.status_code == 201, response.content
    job = drain(Job.objects.get(pk=response.json()["id"]))

    assert job.status == JobStatus.HALTED and job.rollout["wave_sizes"] == [2, 3, 5]
    assert "wave 1 of 3" in job.halt_reason and "1 failed or unknown" in job.halt_reason
    assert _statuses(job, 0) == Counter({"failed": 1, "succeeded": 1})
    assert _statuses(job, 1) == Counter({"pending": 3}) and _statuses(job, 2) == Counter({"pending": 5})
    assert sum(_pushes(sim).values()) == 1  # the refused push is not counted as accepted; nothing of waves 2, 3
    assert sim.state.calls["PATCH configuration_managers/{id}"] == 2
    halted = WebhookDelivery.objects.get(event="job.halted")
    assert halted.payload["data"]["job"] == job.pk and halted.payload["data"]["wave"] == 1
    body = client_for(admin).get(f"/api/v1/jobs/{job.pk}/").json()
    assert [w["state"] for w in body["waves"]] == ["ended", "waiting", "waiting"] and body["halt_reason"]
    # A drainer or the sweep leaves a halted job alone.
    assert runners.run_job(job.pk) is None
    from jobs.sweep import sweep_jobs

    sweep_jobs(at_startup=True)
    assert Job.objects.get(pk=job.pk).status == JobStatus.HALTED and sim.state.calls["PATCH configuration_managers/{id}"] == 2

    assert client_for(reader).post(f"/api/v1/jobs/{job.pk}/resume/").status_code == 403
    # Resumed: the failure is accepted, the count starts again; a failure in wave 2 halts it again.
    sim.fail_next(1, status=400, endpoint="PATCH configuration_managers", after=1)
    resumed = client_for(admin).post(f"/api/v1/jobs/{job.pk}/resume/")
    assert resumed.status_code == 200 and resumed.json()["status"] == "running"
    job = drain(Job.objects.get(pk=job.pk))
    assert job.status == JobStatus.HALTED and "wave 2 of 3" in job.halt_reason and "since the last resume" in job.halt_reason
    assert _statuses(job, 1) == Counter({"succeeded": 2, "failed": 1}) and _statuses(job, 2) == Counter({"pending": 5})
    assert client_for(admin).post(f"/api/v1/jobs/{job.pk}/resume/").status_code == 200
    job = drain(Job.objects.get(pk=job.pk))
    assert job.status == JobStatus.PARTIAL and job.counts == {"succeeded": 8, "failed": 2, "total": 10}
    pushes = _pushes(sim)
    assert max(pushes.values()) == 1 and set(pushes) <= set(managers.values())
    assert client_for(admin).post(f"/api/v1/jobs/{job.pk}/resume/").status_code == 400  # not halted
    from accounts.models import AuditEvent

    actions = [((e.changes or {}).get("_details") or {}).get("action") for e in AuditEvent.objects.filter(object_id=str(job.pk))]
    assert actions.count("halted") == 2 and actions.count("resume") == 2


def test_ambiguous_answers_count_as_failures_and_cancel_ends_a_halted_job(sims, operator_user):  # noqa: F811
    sim = sims.start(routers=12, seed=72, keys=sim_keys("ro2"))
    tenant = synced_tenant(sim)
    routers = _online(tenant, 6)
    sim.reset_counters()
    sim.fail_next(1, status=502, endpoint="PATCH configuration_managers", applied=True)  # applied, answer lost
    job = services.job_create(user=operator_user, tenant=tenant, kind="config_push", router_ids=[r.pk for r in routers],
                              parameters=DIFF, rollout={"waves": [1, "50%"], "halt_after_failures": 1})
    job = drain(job)
    assert job.status == JobStatus.HALTED and _statuses(job, 0) == Counter({"unknown": 1})
    assert job.rollout["wave_sizes"] == [1, 3, 2]
    services.job_cancel(job=job, user=operator_user)
    job.refresh_from_db()
    assert job.status == JobStatus.CANCELLED and job.finished_at and job.counts["cancelled"] == 5
    assert sim.state.calls["PATCH configuration_managers/{id}"] == 1


def test_failures_below_the_threshold_do_not_halt(sims, operator_user):  # noqa: F811
    sim = sims.start(routers=12, seed=73, keys=sim_keys("ro3"))
    tenant = synced_tenant(sim)
    routers = _online(tenant, 6)
    sim.fail_next(1, status=400, endpoint="PATCH configuration_managers")
    job = drain(services.job_create(user=operator_user, tenant=tenant, kind="config_push",
                                    router_ids=[r.pk for r in routers], parameters=DIFF,
                                    rollout={"waves": [2, 2], "halt_after_failures": 2}))
    assert job.status == JobStatus.PARTIAL and job.counts == {"succeeded": 5, "failed": 1, "total": 6}


def test_soak_counts_a_router_gone_offline_after_success_as_a_failure(sims, operator_user):  # noqa: F811
    sim = sims.start(routers=12, seed=74, keys=sim_keys("ro4"))
    tenant = synced_tenant(sim)
    routers = _online(tenant, 5)
    job = services.job_create(user=operator_user, tenant=tenant, kind="config_push", router_ids=[r.pk for r in routers],
                              parameters=DIFF, rollout={"waves": [2], "halt_after_failures": 1, "pause_minutes": 0.02})
    services.job_start(job.pk)
    delay = runners.run_job(job.pk)
    job.refresh_from_db()
    assert job.status == JobStatus.RUNNING and job.wave_ended_at and _statuses(job, 0) == Counter({"succeeded": 2})
    assert 0 < delay <= 1.2 and _statuses(job, 1) == Counter({"pending": 3})
    assert runners.run_job(job.pk) > 0  # still soaking: nothing sent
    first = JobItem.objects.filter(job=job, wave=0).select_related("router").first()
    sim.update_router(first.router.ncm_id, state="offline")
    time.sleep(1.3)
    assert runners.run_job(job.pk) is None
    job.refresh_from_db()
    first.refresh_from_db()
    assert job.status == JobStatus.HALTED and first.status == ItemStatus.FAILED and "soak" in first.error
    assert _statuses(job, 1) == Counter({"pending": 3})


def test_rollout_validation_names_the_problem(client_for, world):
    admin = world.actor("admin", "org", 0).user
    tenant = world.tenants[0]
    router = Router.objects.create(tenant=tenant, ncm_id="1", data={}, content_hash="x", name="r1",
                                   first_seen_at=tenant.created_at, last_seen_at=tenant.created_at)
    for rollout, words in [
        ({"waves": []}, "waves"), ({"waves": [0]}, "wave size"), ({"waves": ["150%"]}, "wave size"),
        ({"waves": [1], "halt_after_failures": 0}, "halt_after_failures"), ({"waves": [1], "pause_minutes": -1}, "pause_minutes"),
        ({"waves": [1], "surprise": 1}, "surprise"), ("fast", "object"),
    ]:
        response = client_for(admin).post("/api/v1/jobs/", {"tenant": tenant.pk, "kind": "reboot", "routers": [router.pk],
                                                            "rollout": rollout}, format="json")
        assert response.status_code == 400 and words in str(response.json()["rollout"]), (rollout, response.content)
    assert not Job.objects.exists()


@pytest.mark.slow
@pytest.mark.xdist_group("celery")
def test_worker_killed_between_waves_resumes_where_it_was(sims, operator_user):  # noqa: F811
    sim = sims.start(routers=20, seed=75, keys=sim_keys("ro5"))
    tenant = synced_tenant(sim)
    routers = _online(tenant, 9)
    sim.reset_counters()
    env = {"JOBS_HEARTBEAT_SECONDS": "1", "JOBS_HEARTBEAT_TIMEOUT_SECONDS": "3"}
    with celery_worker(concurrency=2, env=env) as worker:
        job = services.job_create(user=operator_user, tenant=tenant, kind="config_push", router_ids=[r.pk for r in routers],
                                  parameters=DIFF, rollout={"waves": [3, 3], "pause_minutes": 0.1})
        wait_for(lambda: Job.objects.get(pk=job.pk).wave_ended_at, timeout=120, message="wave 1 to end")
        worker.kill()  # between waves, during the soak: its continuation dies with it
    job.refresh_from_db()
    assert job.current_wave == 0 and _statuses(job, 0) == Counter({"succeeded": 3})
    assert _statuses(job, 1) == Counter({"pending": 3}) and sum(_pushes(sim).values()) == 3
    with celery_worker(concurrency=2, env=env) as restarted:  # start-up sweep re-drives the job
        try:
            wait_for(lambda: Job.objects.get(pk=job.pk).finished_at, timeout=180, message="job to finish")
        except AssertionError as exc:
            raise AssertionError(f"{exc}; items {dict(_statuses(job))}\n{restarted.output()[-4000:]}") from None
    job.refresh_from_db()
    assert job.status == JobStatus.SUCCEEDED and job.counts == {"succeeded": 9, "total": 9}
    pushes = _pushes(sim)
    assert len(pushes) == 9 and max(pushes.values()) == 1  # nothing sent twice


def test_reboot_rollout_waits_for_each_waves_confirmations(sims, operator_user):  # noqa: F811
    """A wave of reboots ends only when NCM confirmed them; the next wave then runs; nobody is rebooted twice."""
    from tests.jobs.test_jobs_sim import reboots_by_router

    sim = sims.start(routers=14, seed=76, keys=sim_keys("ro6"))
    tenant = synced_tenant(sim)
    routers = _online(tenant, 6)
    job = drain(services.job_create(user=operator_user, tenant=tenant, kind="reboot", router_ids=[r.pk for r in routers],
                                    rollout={"waves": [2, 2]}))
    assert job.status == JobStatus.SUCCEEDED and job.rollout["wave_sizes"] == [2, 2, 2]
    assert reboots_by_router(sim) == Counter({r.ncm_id: 1 for r in routers})
    first_wave_done = max(JobItem.objects.filter(job=job, wave=0).values_list("finished_at", flat=True))
    assert min(JobItem.objects.filter(job=job, wave=1).values_list("dispatched_at", flat=True)) >= first_wave_done
