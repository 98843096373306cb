"""Jobs end to end against the NCM simulator: no double reboot under faults, cancel/retry, config push,
speed tests, scoping and roles. Real PostgreSQL; real Celery workers for the crash tests."""
from __future__ import annotations

import threading
import time
from collections import Counter
from datetime import datetime, time as dtime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone

import ncm_config
from accounts.roles import Role
from jobs import runners, services
from jobs.models import ItemStatus, Job, JobItem, JobStatus, MaintenanceWindow, SpeedTestResult
from ncm_sync.models import ConfigurationManager, Router
from ncm_sync.services import sync_tenant
from tests.factories import make_org, make_user
from tests.helpers.celery_worker import celery_worker, wait_for
from tests.fleet import sim_keys, tenant_on


def synced_tenant(sim, org=None):
    tenant = tenant_on(sim, org=org)
    run = sync_tenant(tenant_id=tenant.pk)
    assert run.status == "succeeded", run.error
    return tenant


def drain(job: Job, workers: int = 4) -> Job:
    """Run the job the way several Celery drainers would, in threads, until it has finished."""
    services.job_start(job.pk)

    def worker():
        from django.db import connection

        try:
            while (delay := runners.run_job(job.pk, max_seconds=60)) is not None:
                time.sleep(min(delay, 0.5))
        finally:
            connection.close()

    threads = [threading.Thread(target=worker) for _ in range(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    services.job_finish_if_done(job.pk)
    job.refresh_from_db()
    return job


def reboots_by_router(sim) -> Counter:
    with sim.state.lock:
        return Counter(r["router_id"] for r in sim.state.reboots)


@pytest.fixture
def operator_user(db):
    from accounts.models import User

    return User.objects.create_superuser("op", "op@example.com", "operator-password-1")


@pytest.mark.django_db(transaction=True)
def test_reboot_200_routers_under_faults_reboots_none_twice(sims, operator_user):
    sim = sims.start(routers=200, seed=21, keys=sim_keys("j1"))
    tenant = synced_tenant(sim)
    routers = list(Router.objects.filter(tenant=tenant, deleted_at__isnull=True))
    sim.reset_counters()
    sim.set_faults(rate_429=0.1, retry_after=0, rate_5xx=0.1, ambiguous_write_rate=0.1, seed=5)
    job = services.job_create(user=operator_user, tenant=tenant, kind="reboot", router_ids=[r.pk for r in routers])

    job = drain(job)

    counts = reboots_by_router(sim)
    assert counts and max(counts.values()) == 1, "a router was rebooted twice"
    items = {i.router.ncm_id: i for i in JobItem.objects.filter(job=job).select_related("router")}
    assert len(items) == 200
    assert all(i.status in ItemStatus.values and i.status not in ("pending", "dispatched") for i in items.values())
    for ncm_id, item in items.items():
        if item.status == ItemStatus.SUCCEEDED:
            assert counts[ncm_id] == 1
        if item.status == ItemStatus.FAILED:
            assert counts[ncm_id] == 0
    statuses = Counter(i.status for i in items.values())
    assert statuses[ItemStatus.UNKNOWN] > 0, "the faults injected ambiguous outcomes; they must surface as unknown"
    assert job.status in (JobStatus.PARTIAL, JobStatus.SUCCEEDED)
    assert job.counts["total"] == 200 and sum(v for k, v in job.counts.items() if k != "total") == 200


@pytest.mark.django_db(transaction=True)
def test_cancel_then_retry_failed_only(sims, operator_user):
    sim = sims.start(routers=30, seed=22, keys=sim_keys("j2"))
    tenant = synced_tenant(sim)
    routers = list(Router.objects.filter(tenant=tenant, deleted_at__isnull=True, state="online").order_by("pk"))

    # Cancelled before it runs: nothing is sent.
    job = services.job_create(user=operator_user, tenant=tenant, kind="reboot", router_ids=[r.pk for r in routers[:10]])
    services.job_start(job.pk)
    services.job_cancel(job=job, user=operator_user)
    assert runners.run_job(job.pk) is None
    job.refresh_from_db()
    assert job.status == JobStatus.CANCELLED and job.counts.get("cancelled") == 10
    assert reboots_by_router(sim) == Counter()

    # Two routers vanish from NCM: their reboots fail (403), one answer is ambiguous (unknown).
    sim.delete_router(routers[0].ncm_id)
    sim.delete_router(routers[1].ncm_id)
    sim.fail_next(1, status=502, endpoint="POST reboot_activity", applied=True, after=3)
    job = drain(services.job_create(user=operator_user, tenant=tenant, kind="reboot", router_ids=[r.pk for r in routers]))
    statuses = Counter(JobItem.objects.filter(job=job).values_list("status", flat=True))
    assert statuses[ItemStatus.FAILED] == 2 and statuses[ItemStatus.UNKNOWN] == 1, statuses
    assert job.status == JobStatus.PARTIAL
    failed_item = JobItem.objects.filter(job=job, status=ItemStatus.FAILED).first()
    assert failed_item.error  # NCM's own words

    retry = services.job_retry_failed(job=job, user=operator_user)
    assert sorted(retry.target_router_ids) == sorted([routers[0].pk, routers[1].pk]) and retry.retry_of_id == job.pk
    with_unknown = services.job_retry_failed(job=job, user=operator_user, include_unknown=True)
    assert len(with_unknown.target_router_ids) == 3


@pytest.mark.django_db(transaction=True)
def test_config_push_preview_then_push_matches_simulator(sims, operator_user, client_for):
    sim = sims.start(routers=10, seed=23, keys=sim_keys("j3"))
    tenant = synced_tenant(sim)
    router = Router.objects.filter(tenant=tenant, deleted_at__isnull=True, state="online").first()
    manager = ConfigurationManager.objects.get(tenant=tenant, router=router)
    assert manager.ncm_id != router.ncm_id  # never assumed to share the router's id
    diff = [{"system": {"system_id": "pushed-by-portal"}}, []]
    api = client_for(operator_user)
    body = {"tenant": tenant.pk, "kind": "config_push", "routers": [router.pk], "parameters": {"mode": "patch", "diff": diff}}

    sim.reset_counters()
    preview = api.post("/api/v1/jobs/preview/", body, format="json")
    assert preview.status_code == 200, preview.content
    target = preview.json()["targets"][0]
    expected = ncm_config.apply_patch(ncm_config.normalize(manager.data["configuration"]), diff)
    assert target["after"]["individual"] == ncm_config.mask_passwords(expected)
    assert target["after"]["origins"].get("system.system_id") == "individual"
    assert not any(k.startswith(("POST", "PATCH", "PUT")) for k in sim.state.calls), "preview sent a write"

    created = api.post("/api/v1/jobs/", body, format="json")
    assert created.status_code == 201, created.content
    assert [(i["router"], i["status"]) for i in created.json()["items"]] == [(router.pk, "pending")]
    assert created.json()["counts"] == {"pending": 1, "total": 1} and created.json()["status"] == "pending"
    job = drain(Job.objects.get(pk=created.json()["id"]))
    assert job.status == JobStatus.SUCCEEDED, list(JobItem.objects.filter(job=job).values("status", "error"))
    with sim.state.lock:
        stored = sim.state.cm_row(manager.ncm_id)["configuration"]
    assert stored == expected
    detail = api.get(f"/api/v1/jobs/{job.pk}/").json()
    assert detail["items"][0]["status"] == "succeeded" and detail["counts"]["succeeded"] == 1
    assert [entry["message"].split(":")[0] for entry in detail["log"]][-1] == "Finished"


@pytest.mark.django_db(transaction=True)
def test_invalid_diff_is_refused_at_preview_with_ncms_message(sims, operator_user, client_for):
    sim = sims.start(routers=5, seed=24, keys=sim_keys("j4"))
    tenant = synced_tenant(sim)
    router = Router.objects.filter(tenant=tenant, deleted_at__isnull=True).first()
    bad = [{"lan": {"0": {"ip_address": "not-an-ip"}}}, []]
    expected_messages = ncm_config.validate_diff(bad)
    assert expected_messages
    sim.reset_counters()
    response = client_for(operator_user).post(
        "/api/v1/jobs/preview/",
        {"tenant": tenant.pk, "kind": "config_push", "routers": [router.pk], "parameters": {"mode": "patch", "diff": bad}},
        format="json",
    )
    assert response.status_code == 400
    assert any(message in " ".join(response.json()["parameters"]) for message in expected_messages)
    assert sum(sim.state.calls.values()) == 0
    # The simulator (NCM's rules) says the same.
    manager = ConfigurationManager.objects.get(tenant=tenant, router=router)
    import requests

    answer = requests.patch(f"{sim.base_url}/configuration_managers/{manager.ncm_id}/", json={"configuration": bad},
                            headers=dict(sim.keys), timeout=5)
    assert answer.status_code in (400, 409) and expected_messages[0] in answer.text


@pytest.mark.django_db(transaction=True)
def test_job_naming_another_tenants_router_is_refused_and_nothing_sent(sims, client_for):
    sim_a = sims.start(routers=5, seed=25, keys=sim_keys("ja"))
    sim_b = sims.start(routers=5, seed=26, keys=sim_keys("jb"))
    org = make_org()
    tenant_a, tenant_b = synced_tenant(sim_a, org), synced_tenant(sim_b, org)
    admin = make_user(org=org, role=Role.ADMIN)
    foreign = Router.objects.filter(tenant=tenant_b).first()
    sim_a.reset_counters()
    sim_b.reset_counters()
    response = client_for(admin).post("/api/v1/jobs/", {"tenant": tenant_a.pk, "kind": "reboot", "routers": [foreign.pk]}, format="json")
    assert response.status_code == 400 and "routers" in response.json()
    assert not Job.objects.exists()
    assert sum(sim_a.state.calls.values()) + sum(sim_b.state.calls.values()) == 0


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(
    "role,kind,expected",
    [
        ("read_only", "reboot", 403), ("read_only", "speed_test", 403), ("diagnostic", "reboot", 403),
        ("diagnostic", "config_push", 403), ("diagnostic", "speed_test", 201), ("full_access", "reboot", 201),
        ("full_access", "config_push", 201), ("admin", "reboot", 201),
    ],
)
def test_role_checks_for_each_kind(sims, client_for, role, kind, expected):
    sim = sims.start(routers=3, seed=27, keys=sim_keys(f"r-{role}-{kind}"))
    tenant = tenant_on(sim)
    router = Router.objects.create(tenant=tenant, ncm_id="1", data={}, content_hash="x", first_seen_at=timezone.now(),
                                   last_seen_at=timezone.now(), name="r1")
    user = make_user(tenant=tenant, role=role)
    parameters = {"mode": "patch", "diff": [{"system": {"system_id": "x"}}, []]} if kind == "config_push" else {}
    response = client_for(user).post(
        "/api/v1/jobs/", {"tenant": tenant.pk, "kind": kind, "routers": [router.pk], "parameters": parameters}, format="json"
    )
    assert response.status_code == expected, response.content
    assert Job.objects.count() == (1 if expected == 201 else 0)


@pytest.mark.django_db(transaction=True)
def test_speed_test_results_stored_per_modem(sims, operator_user):
    sim = sims.start(routers=12, seed=28, keys=sim_keys("j5"), speed_test_duration_s=0.3)
    tenant = synced_tenant(sim)
    routers = list(Router.objects.filter(tenant=tenant, deleted_at__isnull=True, state="online")[:5])
    job = services.job_create(user=operator_user, tenant=tenant, kind="speed_test", router_ids=[r.pk for r in routers],
                              parameters={"test_type": "TCP Download"})
    services.job_start(job.pk)
    runners.run_speed_test(job.pk)
    test_ids = set(JobItem.objects.filter(job=job).exclude(ncm_ref="").values_list("ncm_ref", flat=True))
    assert len(test_ids) >= 1

    def poll():
        for test_id in test_ids:
            runners.poll_speed_test(job.pk, test_id, 0)
        job.refresh_from_db()
        return job.finished_at

    wait_for(poll, timeout=20, interval=0.3, message="speed test to complete")
    results = SpeedTestResult.objects.filter(job=job)
    assert results.exists() and all(r.download_mbps and r.download_mbps > 0 for r in results if r.state == "success")
    tested = {i.router_id for i in JobItem.objects.filter(job=job, status=ItemStatus.SUCCEEDED)}
    assert tested and tested <= {r.pk for r in routers}


@pytest.mark.django_db
def test_wait_for_window_schedules_in_tenant_time_zone(operator_user, time_machine):
    from tests.factories import make_tenant

    tenant = make_tenant(make_org(), timezone="Europe/Berlin")
    MaintenanceWindow.objects.create(tenant=tenant, weekday=6, start_time=dtime(2, 0), duration_minutes=60)  # Sunday 02:00
    time_machine.move_to(datetime(2026, 11, 25, 12, 0, tzinfo=ZoneInfo("UTC")))  # a Wednesday
    router = Router.objects.create(tenant=tenant, ncm_id="9", data={}, content_hash="x", first_seen_at=timezone.now(),
                                   last_seen_at=timezone.now())
    job = services.job_create(user=operator_user, tenant=tenant, kind="reboot", router_ids=[router.pk], wait_for_window=True)
    assert job.status == JobStatus.SCHEDULED
    assert job.scheduled_for == datetime(2026, 11, 29, 2, 0, tzinfo=ZoneInfo("Europe/Berlin"))
    assert services.start_due_jobs() == 0
    time_machine.move_to(job.scheduled_for + timedelta(minutes=1))
    assert services.start_due_jobs() == 1
    job.refresh_from_db()
    assert job.status == JobStatus.RUNNING


@pytest.mark.slow
@pytest.mark.xdist_group("celery")
@pytest.mark.django_db(transaction=True)
def test_worker_sigkilled_mid_job_then_restarted_reboots_nobody_twice(sims, operator_user):
    sim = sims.start(routers=120, seed=29, keys=sim_keys("j6"))
    tenant = synced_tenant(sim)
    routers = list(Router.objects.filter(tenant=tenant, deleted_at__isnull=True))
    sim.reset_counters()
    sim.set_faults(latency_ms=60)
    env = {"JOBS_DISPATCH_LEASE_SECONDS": "3"}
    with celery_worker(concurrency=2, env=env) as worker:
        job = services.job_create(user=operator_user, tenant=tenant, kind="reboot", router_ids=[r.pk for r in routers])
        def sent():  # items past pending: sent (awaiting NCM's confirmation of the reboot) or settled
            return JobItem.objects.filter(job=job).exclude(status=ItemStatus.PENDING).count()

        wait_for(lambda: sent() >= 10, timeout=180, message="progress")
        killed = worker.kill_children()  # the pool dies mid-item; tasks are re-queued (reject_on_worker_lost)
        assert killed
        wait_for(lambda: sent() >= 40, timeout=180, message="progress after child kill")
        worker.kill()  # now the whole worker
    with celery_worker(concurrency=2, env=env) as restarted:  # a restarted worker resumes the job (start-up reaping)
        try:
            wait_for(lambda: Job.objects.get(pk=job.pk).finished_at, timeout=240, message="job to finish")
        except AssertionError as exc:
            states = Counter(JobItem.objects.filter(job=job).values_list("status", flat=True))
            raise AssertionError(f"{exc}; items {dict(states)}\n{restarted.output()[-4000:]}") from None
    job.refresh_from_db()
    counts = reboots_by_router(sim)
    assert max(counts.values()) == 1, "a router was rebooted twice"
    statuses = Counter(JobItem.objects.filter(job=job).values_list("status", flat=True))
    by_router = dict(JobItem.objects.filter(job=job).values_list("router_id", "status"))
    offline = [r for r in routers if r.state != "online"]
    assert statuses[ItemStatus.PENDING] == 0 and statuses[ItemStatus.DISPATCHED] == 0
    # Offline routers are not sent a reboot (NCM would drop it): they fail (or, claimed by a killed worker, are
    # unknown), and nothing reached them. Online ones succeed, or are unknown where a worker died.
    assert all(counts[r.ncm_id] == 0 and by_router[r.pk] in (ItemStatus.FAILED, ItemStatus.UNKNOWN) for r in offline)
    assert all(by_router[r.pk] in (ItemStatus.SUCCEEDED, ItemStatus.UNKNOWN) for r in routers if r.state == "online")
    assert statuses[ItemStatus.FAILED] >= len(offline) - 10
    assert statuses[ItemStatus.SUCCEEDED] >= 100 - len(offline)
    assert job.status == JobStatus.PARTIAL


@pytest.mark.django_db(transaction=True)
def test_ncm_refusal_lands_on_the_item_word_for_word(sims, operator_user):
    """A push NCM refuses records NCM's own answer on the item (its summary and every per-setting error)."""
    import json

    import requests

    sim = sims.start(routers=6, seed=30, keys=sim_keys("j7"))
    tenant = synced_tenant(sim)
    router = Router.objects.filter(tenant=tenant, deleted_at__isnull=True).first()
    manager = ConfigurationManager.objects.get(tenant=tenant, router=router)
    bad = [{"lan": {"0": {"ip_address": "not-an-ip"}}}, []]
    ncm_answer = requests.patch(f"{sim.base_url}/configuration_managers/{manager.ncm_id}/",
                                json={"configuration": bad}, headers=dict(sim.keys), timeout=5).json()
    # Jobs refuse such a diff before sending; an item that reaches NCM and is refused keeps NCM's words.
    job = services.job_create(user=operator_user, tenant=tenant, kind="config_push", router_ids=[router.pk],
                              parameters={"mode": "patch", "diff": [{"system": {"system_id": "ok"}}, []]})
    Job.objects.filter(pk=job.pk).update(parameters={"mode": "patch", "diff": bad})
    job = drain(Job.objects.get(pk=job.pk))
    item = JobItem.objects.get(job=job)
    assert item.status == ItemStatus.FAILED
    assert item.error == f"{ncm_answer['exception']['message']}: {json.dumps(ncm_answer['errors'])}"
