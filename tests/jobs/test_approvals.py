"""The two-person rule (issue 16): a job over its organization's `job_approval_threshold` waits, sends nothing,
and starts only when another user holding its action approves it. Against the NCM simulator."""
from __future__ import annotations

from collections import Counter

import pytest

from accounts.models import AuditEvent
from accounts.roles import Role
from jobs import services
from jobs.models import ItemStatus, Job, JobItem, JobStatus
from ncm_sync.models import Router
from tests.factories import make_org, make_tenant, make_user
from tests.fleet import sim_keys
from tests.jobs.test_jobs_sim import drain, reboots_by_router, synced_tenant

pytestmark = pytest.mark.django_db(transaction=True)


def _audited(job, action):
    return [e for e in AuditEvent.objects.filter(object_id=str(job.pk)) if ((e.changes or {}).get("_details") or {}).get("action") == action]


def test_two_person_rule(sims, client_for):
    sim = sims.start(routers=12, seed=61, keys=sim_keys("ap1"))
    org = make_org()
    org.job_approval_threshold = 3
    org.save()
    tenant = synced_tenant(sim, org)
    other_tenant = make_tenant(org)
    creator, approver = make_user(org=org, role=Role.ADMIN), make_user(org=org, role=Role.FULL_ACCESS)
    reader = make_user(org=org, role=Role.READ_ONLY)
    diagnostic = make_user(org=org, role=Role.DIAGNOSTIC)
    outsider = make_user(tenant=other_tenant, role=Role.ADMIN)
    routers = list(Router.objects.filter(tenant=tenant, deleted_at__isnull=True, state="online").order_by("pk")[:5])
    sim.reset_counters()

    # Under the threshold: starts at once.
    small = client_for(creator).post("/api/v1/jobs/", {"tenant": tenant.pk, "kind": "reboot",
                                                       "routers": [r.pk for r in routers[:3]]}, format="json")
    assert small.status_code == 201 and small.json()["status"] == "pending"

    response = client_for(creator).post("/api/v1/jobs/", {"tenant": tenant.pk, "kind": "reboot",
                                                          "routers": [r.pk for r in routers]}, format="json")
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["status"] == "awaiting_approval" and body["device_count"] == 5
    job = Job.objects.get(pk=body["id"])
    # Waiting: nothing is sent, even by a drainer or the sweep.
    assert services.job_start(job.pk) is False
    from jobs.sweep import sweep_jobs

    sweep_jobs(at_startup=True)
    assert Job.objects.get(pk=job.pk).status == JobStatus.AWAITING_APPROVAL
    assert sum(sim.state.calls.values()) == 0

    url = f"/api/v1/jobs/{job.pk}/approve/"
    assert client_for(creator).post(url).status_code == 403  # self-approval
    assert client_for(reader).post(url).status_code == 403  # sees the job, may not operate it
    assert client_for(diagnostic).post(url).status_code == 403  # no reboot right
    assert client_for(outsider).post(url).status_code == 404  # another tenant's admin: not even visible
    assert client_for(reader).post(f"/api/v1/jobs/{job.pk}/reject/").status_code == 403
    assert Job.objects.get(pk=job.pk).status == JobStatus.AWAITING_APPROVAL

    approved = client_for(approver).post(url)
    assert approved.status_code == 200, approved.content
    assert approved.json()["status"] == "pending" and approved.json()["approved_by"] == approver.pk
    assert client_for(approver).post(url).status_code == 400  # approved once
    job = drain(Job.objects.get(pk=job.pk))
    assert job.status == JobStatus.SUCCEEDED
    assert reboots_by_router(sim) == Counter({r.ncm_id: 1 for r in routers})  # (the small job was never drained)
    assert _audited(job, "approve") and _audited(job, "approve")[0].actor_id == approver.pk


def test_reject_ends_the_job_unsent_and_groups_count_their_routers(sims, client_for):
    sim = sims.start(routers=12, seed=62, keys=sim_keys("ap2"))
    org = make_org()
    org.job_approval_threshold = 1
    org.save()
    tenant = synced_tenant(sim, org)
    creator, approver = make_user(org=org, role=Role.ADMIN), make_user(org=org, role=Role.ADMIN)
    group = (Router.objects.filter(tenant=tenant, group__isnull=False).values_list("group", flat=True)
             .order_by("group").first())
    members = Router.objects.filter(tenant=tenant, group_id=group, deleted_at__isnull=True).count()
    assert members > 1
    sim.reset_counters()
    job = services.job_create(user=creator, tenant=tenant, kind="reboot", group_ids=[group])
    assert job.status == JobStatus.AWAITING_APPROVAL and job.device_count == members

    response = client_for(creator).post(f"/api/v1/jobs/{job.pk}/reject/", {"reason": "mine"}, format="json")
    assert response.status_code == 403
    response = client_for(approver).post(f"/api/v1/jobs/{job.pk}/reject/", {"reason": "not during business hours"},
                                         format="json")
    assert response.status_code == 200, response.content
    job.refresh_from_db()
    assert job.status == JobStatus.CANCELLED and "not during business hours" in job.error and job.finished_at
    assert services.job_start(job.pk) is False
    assert not JobItem.objects.filter(job=job).exclude(status=ItemStatus.CANCELLED).exists()
    assert sum(sim.state.calls.values()) == 0
    assert _audited(job, "reject")[0].actor_id == approver.pk
    assert client_for(approver).post(f"/api/v1/jobs/{job.pk}/approve/").status_code == 400


def test_threshold_off_by_default_and_in_the_organization_api(client_for, world):
    admin = world.actor("admin", "org", 0).user
    org = world.orgs[0]
    response = client_for(admin).patch(f"/api/v1/organizations/{org.pk}/", {"job_approval_threshold": 50}, format="json")
    assert response.status_code == 200 and response.json()["job_approval_threshold"] == 50
    reader = world.actor("read_only", "org", 0).user
    assert client_for(reader).patch(f"/api/v1/organizations/{org.pk}/", {"job_approval_threshold": None},
                                    format="json").status_code in (403, 404)
    assert client_for(admin).patch(f"/api/v1/organizations/{org.pk}/", {"job_approval_threshold": -1},
                                   format="json").status_code == 400
