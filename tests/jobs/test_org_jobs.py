"""MSP-wide rollouts by tenant (issue 16): one job per tenant, released wave by wave (canary customer first),
halting on failures with later tenants untouched, each tenant's maintenance window respected. Against one NCM
simulator per tenant."""
from __future__ import annotations

from datetime import time as dtime, timedelta

import pytest
from django.utils import timezone

from accounts.roles import Role
from jobs import services
from jobs.models import Job, JobStatus, MaintenanceWindow, OrgJob
from jobs.sweep import sweep_jobs
from ncm_sync.models import Router
from tests.factories import make_org, make_user
from tests.fleet import sim_keys
from tests.jobs.test_jobs_sim import drain, synced_tenant

pytestmark = pytest.mark.django_db(transaction=True)

DIFF = {"mode": "patch", "diff": [{"system": {"system_id": "msp-wide"}}, []]}


def _writes(sim) -> int:
    with sim.state.lock:
        return sum(1 for w in sim.state.writes if w["endpoint"].startswith("PATCH configuration_managers"))


def _online(tenant, n=3):
    return [r.pk for r in Router.objects.filter(tenant=tenant, deleted_at__isnull=True, state="online").order_by("pk")[:n]]


def test_msp_wide_rollout_by_tenant(sims, client_for):
    org = make_org()
    org.job_approval_threshold = 5
    org.save()
    sims_by = [sims.start(routers=10, seed=91 + i, keys=sim_keys(f"msp{i}")) for i in range(3)]
    canary, second, third = tenants = [synced_tenant(sim, org) for sim in sims_by]
    # The third customer only accepts changes in its maintenance window (tomorrow, its time zone).
    tomorrow = (timezone.now() + timedelta(days=1)).astimezone(__import__("zoneinfo").ZoneInfo(third.timezone))
    MaintenanceWindow.objects.create(tenant=third, weekday=tomorrow.weekday(), start_time=dtime(3, 0), duration_minutes=60)
    creator, approver = make_user(org=org, role=Role.ADMIN), make_user(org=org, role=Role.FULL_ACCESS)
    customer = make_user(tenant=canary, role=Role.ADMIN)
    for sim in sims_by:
        sim.reset_counters()
    sims_by[0].fail_next(1, status=400, endpoint="PATCH configuration_managers")  # the canary fails one

    body = {"organization": org.pk, "kind": "config_push", "parameters": DIFF,
            "targets": [{"tenant": t.pk, "routers": _online(t)} for t in tenants],
            "rollout": {"waves": [1], "halt_after_failures": 1, "waves_by": "tenant"}}
    # A tenant-level admin cannot start an MSP-wide job; nor can anyone name another organization's tenant.
    assert client_for(customer).post("/api/v1/org-jobs/", body, format="json").status_code == 403
    other = synced_tenant(sims.start(routers=3, seed=99, keys=sim_keys("msp-x")))
    bad = client_for(creator).post("/api/v1/org-jobs/", {**body, "targets": [{"tenant": other.pk, "routers": _online(other)}]},
                                   format="json")
    assert bad.status_code == 400 and "Not tenants of" in str(bad.json())
    assert client_for(creator).post("/api/v1/org-jobs/", {**body, "rollout": {"waves": [1], "waves_by": "device"}},
                                    format="json").status_code == 400

    response = client_for(creator).post("/api/v1/org-jobs/", body, format="json")
    assert response.status_code == 201, response.content
    data = response.json()
    assert data["status"] == "awaiting_approval" and data["device_count"] == 9  # 9 devices > 5: a second pair of eyes
    org_job = OrgJob.objects.get(pk=data["id"])
    children = {j.tenant_id: j for j in Job.objects.filter(org_job=org_job)}
    assert {j.status for j in children.values()} == {JobStatus.SCHEDULED} and not any(j.scheduled_for for j in children.values())
    sweep_jobs(at_startup=True)
    assert sum(sum(s.state.calls.values()) for s in sims_by) == 0  # held: nothing sent
    # The customer sees its own part as an ordinary job, not the MSP-wide job.
    assert client_for(customer).get(f"/api/v1/org-jobs/{org_job.pk}/").status_code == 404
    assert client_for(customer).get(f"/api/v1/jobs/{children[canary.pk].pk}/").status_code == 200

    assert client_for(creator).post(f"/api/v1/org-jobs/{org_job.pk}/approve/").status_code == 403
    approved = client_for(approver).post(f"/api/v1/org-jobs/{org_job.pk}/approve/")
    assert approved.status_code == 200 and approved.json()["status"] == "running"
    states = {j.tenant_id: j.status for j in Job.objects.filter(org_job=org_job)}
    assert states == {canary.pk: "pending", second.pk: "scheduled", third.pk: "scheduled"}

    drain(Job.objects.get(pk=children[canary.pk].pk))  # wave 1: the canary customer
    org_job.refresh_from_db()
    assert org_job.status == JobStatus.HALTED and "wave 1 of 2" in org_job.halt_reason
    assert _writes(sims_by[1]) == 0 and _writes(sims_by[2]) == 0  # later tenants untouched
    assert Job.objects.get(pk=children[second.pk].pk).scheduled_for is None

    resumed = client_for(approver).post(f"/api/v1/org-jobs/{org_job.pk}/resume/")
    assert resumed.status_code == 200, resumed.content
    second_job, third_job = Job.objects.get(pk=children[second.pk].pk), Job.objects.get(pk=children[third.pk].pk)
    assert second_job.status == JobStatus.PENDING
    # The third tenant's job waits for its window (in the tenant's time zone); its in-flight cap applies as usual.
    assert third_job.status == JobStatus.SCHEDULED and third_job.scheduled_for == services.next_window_start(third, timezone.now())
    drain(second_job)
    assert _writes(sims_by[1]) == 3 and _writes(sims_by[2]) == 0
    org_job.refresh_from_db()
    assert org_job.status == JobStatus.RUNNING and org_job.finished_at is None

    Job.objects.filter(pk=third_job.pk).update(scheduled_for=timezone.now() - timedelta(seconds=1))  # the window came
    drain(Job.objects.get(pk=third_job.pk))
    sweep_jobs()
    org_job.refresh_from_db()
    assert org_job.status == JobStatus.PARTIAL and org_job.finished_at
    assert org_job.counts == {"succeeded": 8, "failed": 1, "total": 9}
    detail = client_for(creator).get(f"/api/v1/org-jobs/{org_job.pk}/").json()
    assert [w["state"] for w in detail["waves"]] == ["ended", "ended"] and len(detail["waves"][1]["jobs"]) == 2


def test_org_job_reject_and_cancel(sims, client_for):
    org = make_org()
    org.job_approval_threshold = 1
    org.save()
    sim = sims.start(routers=8, seed=95, keys=sim_keys("msp5"))
    tenant = synced_tenant(sim, org)
    creator, approver = make_user(org=org, role=Role.ADMIN), make_user(org=org, role=Role.ADMIN)
    body = {"organization": org.pk, "kind": "reboot", "targets": [{"tenant": tenant.pk, "routers": _online(tenant)}]}
    first = client_for(creator).post("/api/v1/org-jobs/", body, format="json").json()
    rejected = client_for(approver).post(f"/api/v1/org-jobs/{first['id']}/reject/", {"reason": "no"}, format="json")
    assert rejected.status_code == 200 and rejected.json()["status"] == "cancelled"
    assert Job.objects.get(org_job_id=first["id"]).status == JobStatus.CANCELLED
    org.job_approval_threshold = None
    org.save()
    second = client_for(creator).post("/api/v1/org-jobs/", body, format="json").json()
    assert second["status"] == "running"
    cancelled = client_for(creator).post(f"/api/v1/org-jobs/{second['id']}/cancel/")
    assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled" and cancelled.json()["finished_at"]
    assert sum(sim.state.calls.get(k, 0) for k in sim.state.calls if k.startswith("POST")) == 0


def test_jobs_endpoint_takes_an_organization_instead_of_a_tenant(sims, client_for):
    """POST /api/v1/jobs/ with `organization` instead of `tenant` creates the MSP-wide job (the body and answer of
    /org-jobs/, Location there), by the same rules: a customer's admin cannot, nor can a bad target."""
    org = make_org()
    org.job_approval_threshold = 1
    org.save()
    sim = sims.start(routers=6, seed=96, keys=sim_keys("msp6"))
    tenant = synced_tenant(sim, org)
    creator = make_user(org=org, role=Role.ADMIN)
    customer = make_user(tenant=tenant, role=Role.ADMIN)
    body = {"organization": org.pk, "kind": "reboot", "targets": [{"tenant": tenant.pk, "routers": _online(tenant, 2)}],
            "rollout": {"waves": [1], "waves_by": "tenant"}}

    assert client_for(customer).post("/api/v1/jobs/", body, format="json").status_code == 403
    bad = client_for(creator).post("/api/v1/jobs/", {**body, "targets": "all"}, format="json")
    assert bad.status_code == 400 and "targets" in bad.json()
    answer = client_for(creator).post("/api/v1/jobs/", body, format="json")
    assert answer.status_code == 201, answer.content
    created = answer.json()
    assert created["organization"] == org.pk and created["status"] == "awaiting_approval"
    assert answer["Location"].endswith(f"/api/v1/org-jobs/{created['id']}/")
    assert OrgJob.objects.get(pk=created["id"]).created_by == creator
    assert client_for(creator).get(f"/api/v1/org-jobs/{created['id']}/").json()["device_count"] == 2
    # A tenant's job is unchanged: `tenant` (with or without `organization`) keeps the tenant job's body.
    tenant_job = client_for(creator).post("/api/v1/jobs/", {"tenant": tenant.pk, "kind": "reboot",
                                                             "routers": _online(tenant, 1)}, format="json")
    assert tenant_job.status_code == 201 and tenant_job.json()["tenant"] == tenant.pk
