"""MSP-wide jobs pages (issue 16): the firmware inventory across the MSP, starting a job canary tenant first,
the two-person rule, and scoping (customers have no such page)."""
from __future__ import annotations

import pytest

from accounts.roles import Role
from jobs.models import Job, OrgJob
from tests.fleet import make_fleet
from tests.ui.test_pages import body, login

pytestmark = pytest.mark.django_db


@pytest.fixture
def fleets(world, monkeypatch):
    from jobs import tasks

    monkeypatch.setattr(tasks.start_job_task, "delay", lambda *a, **k: None)
    return {t.pk: make_fleet(t, prefix=t.slug, base=1000 * (i + 1)) for i, t in enumerate(world.tenants)}


def test_msp_jobs_page_canary_first_with_approval(world, fleets):
    org = world.orgs[0]
    org.job_approval_threshold = 3
    org.save()
    first, second = [t for t in world.tenants if t.organization_id == org.pk]
    creator = login(world.actor(Role.ADMIN, "org", 0).user)
    page = body(creator.get("/msp-jobs/"))
    assert 'id="firmware-inventory"' in page and 'id="msp-job-form"' in page and "7.24.10" in page
    assert first.name in page and world.tenants[2].name not in page.split('id="firmware-inventory"')[0]
    bad = creator.post("/msp-jobs/", {"kind": "reboot"})
    assert bad.status_code == 400 and "Choose at least one tenant" in body(bad)
    response = creator.post("/msp-jobs/", {"kind": "reboot", "tenants": [first.pk, second.pk], "canary": second.pk,
                                           "halt_after_failures": "1", "pause_minutes": "0"})
    org_job = OrgJob.objects.get()
    assert response.status_code == 302 and response.url == f"/msp-jobs/{org_job.pk}/"
    assert org_job.status == "awaiting_approval" and [t["tenant"] for t in org_job.targets] == [second.pk, first.pk]
    assert dict(Job.objects.filter(org_job=org_job).values_list("tenant_id", "org_wave")) == {second.pk: 0, first.pk: 1}
    detail = body(creator.get(response.url))
    assert 'id="approval-note"' in detail and 'id="approve-job"' not in detail
    assert creator.post(f"/msp-jobs/{org_job.pk}/approve/").status_code == 403
    approver = login(world.actor(Role.FULL_ACCESS, "org", 0).user)
    assert 'id="approve-job"' in body(approver.get(response.url))
    assert approver.post(f"/msp-jobs/{org_job.pk}/approve/").status_code == 302
    org_job.refresh_from_db()
    assert org_job.status == "running"
    assert dict(Job.objects.filter(org_job=org_job).values_list("tenant_id", "status")) == {second.pk: "pending", first.pk: "scheduled"}
    assert approver.post(f"/msp-jobs/{org_job.pk}/cancel/").status_code == 302
    # Customers and other organizations see nothing of it.
    customer = login(world.actor(Role.ADMIN, "tenant", 0).user)
    assert customer.get("/msp-jobs/").status_code == 403
    assert customer.get(f"/msp-jobs/{org_job.pk}/").status_code == 404
    outsider = login(world.actor(Role.ADMIN, "org", 1).user)
    assert outsider.get(f"/msp-jobs/{org_job.pk}/").status_code == 404
    assert outsider.post(f"/msp-jobs/{org_job.pk}/cancel/").status_code == 404
    reader = login(world.actor(Role.READ_ONLY, "org", 0).user)
    assert reader.post(f"/msp-jobs/{org_job.pk}/resume/").status_code == 403
