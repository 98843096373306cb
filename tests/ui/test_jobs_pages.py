"""Jobs pages: wizard preview and confirm, job page, cancel/retry, scoping and roles."""
from __future__ import annotations

import pytest

from accounts.models import AuditEvent
from accounts.roles import Role
from jobs.models import Job
from tests.fleet import make_fleet
from tests.ui.test_pages import body, login

pytestmark = pytest.mark.django_db


@pytest.fixture
def fleets(world, monkeypatch):
    from jobs import tasks

    monkeypatch.setattr(tasks.start_job_task, "delay", lambda *a, **k: None)
    return {t.pk: make_fleet(t, prefix=t.slug, base=1000 * (i + 1)) for i, t in enumerate(world.tenants)}


def test_reboot_wizard_preview_then_confirm(world, fleets):
    tenant = world.tenants[0]
    alpha, _, charlie, _ = fleets[tenant.pk]
    client = login(world.actor(Role.FULL_ACCESS, "org", 0).user)
    page = body(client.get(f"/t/{tenant.pk}/jobs/new/", {"state": "offline"}))
    assert f"{tenant.slug}-charlie" in page and f"{tenant.slug}-alpha" not in page.split('id="job-form"')[1]
    preview = client.post(f"/t/{tenant.pk}/jobs/new/", {"kind": "reboot", "routers": [alpha.pk, charlie.pk], "step": "preview"})
    text = body(preview)
    assert preview.status_code == 200 and 'id="job-preview"' in text and "not online" in text
    assert not Job.objects.exists()
    response = client.post(f"/t/{tenant.pk}/jobs/new/", {"kind": "reboot", "routers": [alpha.pk, charlie.pk], "step": "confirm"})
    job = Job.objects.get()
    assert response.status_code == 302 and response.url == f"/t/{tenant.pk}/jobs/{job.pk}/"
    assert sorted(job.target_router_ids) == sorted([alpha.pk, charlie.pk])
    assert AuditEvent.objects.filter(object_type="jobs.job", object_id=str(job.pk), source="ui").exists()
    detail = body(client.get(response.url))
    assert 'id="job-live"' in detail and 'hx-trigger="every 2s"' in detail and 'id="cancel-job"' in detail
    assert client.post(f"/t/{tenant.pk}/jobs/{job.pk}/cancel/").status_code == 302
    job.refresh_from_db()
    assert job.status == "cancelled"
    assert tenant.name in body(client.get(f"/t/{tenant.pk}/jobs/"))


def test_config_push_preview_shows_diff_and_rejects_bad_json(world, fleets):
    tenant = world.tenants[0]
    alpha = fleets[tenant.pk][0]
    client = login(world.actor(Role.ADMIN, "org", 0).user)
    bad = client.post(f"/t/{tenant.pk}/jobs/new/", {"kind": "config_push", "routers": [alpha.pk], "step": "preview", "diff": "[{"})
    assert bad.status_code == 400 and "Not valid JSON" in body(bad)
    ok = client.post(f"/t/{tenant.pk}/jobs/new/", {"kind": "config_push", "routers": [alpha.pk], "step": "preview",
                                                     "mode": "patch", "diff": '[{"system": {"system_id": "new-name"}}, []]'})
    text = body(ok)
    assert ok.status_code == 200 and "system.system_id" in text and "new-name" in text and "alpha-custom" in text


def test_roles_and_scoping_for_jobs(world, fleets):
    tenant, other = world.tenants[0], world.tenants[1]
    viewer = login(world.actor(Role.READ_ONLY, "tenant", 0).user)
    assert viewer.get(f"/t/{tenant.pk}/jobs/new/").status_code == 403
    assert 'id="new-job"' not in body(viewer.get(f"/t/{tenant.pk}/jobs/"))
    diag = login(world.actor(Role.DIAGNOSTIC, "org", 0).user)
    page = body(diag.get(f"/t/{tenant.pk}/jobs/new/"))
    assert 'value="speed_test"' in page and 'value="reboot"' not in page
    # A diagnostic user cannot sneak a reboot through the form.
    bad = diag.post(f"/t/{tenant.pk}/jobs/new/", {"kind": "reboot", "routers": [fleets[tenant.pk][0].pk], "step": "confirm"})
    assert bad.status_code == 403 and not Job.objects.exists()
    # Another tenant's job is a 404 for a customer, even under their own tenant id.
    admin = login(world.actor(Role.ADMIN, "org", 0).user)
    admin.post(f"/t/{other.pk}/jobs/new/", {"kind": "reboot", "routers": [fleets[other.pk][0].pk], "step": "confirm"})
    job = Job.objects.get(tenant=other)
    customer = login(world.actor(Role.ADMIN, "tenant", 0).user)
    assert customer.get(f"/t/{other.pk}/jobs/{job.pk}/").status_code == 404
    assert customer.get(f"/t/{tenant.pk}/jobs/{job.pk}/").status_code == 404
    assert customer.post(f"/t/{other.pk}/jobs/{job.pk}/cancel/").status_code == 404
    assert customer.get(f"/t/{other.pk}/jobs/new/").status_code == 404
    # Routers of another tenant cannot be targeted from one's own tenant.
    response = customer.post(f"/t/{tenant.pk}/jobs/new/", {"kind": "reboot", "routers": [fleets[other.pk][0].pk], "step": "confirm"})
    assert response.status_code == 400 and Job.objects.filter(tenant=tenant).count() == 0


def test_cancel_and_retry_in_the_ui_are_audited_as_ui(world, fleets):
    """Issue 13 item 9: the UI passes its source to the jobs service (no audit records written by the view)."""
    from jobs import services
    from jobs.models import ItemStatus, JobItem

    tenant = world.tenants[0]
    alpha, bravo = fleets[tenant.pk][:2]
    user = world.actor(Role.FULL_ACCESS, "org", 0).user
    client = login(user)
    job = services.job_create(user=user, tenant=tenant, kind="reboot", router_ids=[alpha.pk, bravo.pk])
    assert client.post(f"/t/{tenant.pk}/jobs/{job.pk}/cancel/").status_code == 302
    cancel = AuditEvent.objects.get(object_type="jobs.job", object_id=str(job.pk), changes___details__action="cancel")
    assert cancel.source == "ui"

    JobItem.objects.filter(job=job, router=alpha).update(status=ItemStatus.FAILED, error="NCM said no")
    Job.objects.filter(pk=job.pk).update(finished_at=job.created_at)
    response = client.post(f"/t/{tenant.pk}/jobs/{job.pk}/retry/")
    retry = Job.objects.get(retry_of=job)
    assert response.status_code == 302 and retry.target_router_ids == [alpha.pk]
    created = AuditEvent.objects.get(object_type="jobs.job", object_id=str(retry.pk), action="create")
    assert created.source == "ui"


def test_config_push_preview_has_no_nameless_row(world, fleets):
    """Issue 13 item 11: a router without an individual configuration previews its new settings, named."""
    import re

    tenant = world.tenants[0]
    bravo = fleets[tenant.pk][1]  # no configuration manager: its individual layer is empty
    client = login(world.actor(Role.ADMIN, "org", 0).user)
    page = body(client.post(f"/t/{tenant.pk}/jobs/new/", {
        "kind": "config_push", "routers": [bravo.pk], "step": "preview", "mode": "patch",
        "diff": '[{"system": {"system_id": "b2"}}, []]'}))
    rows = re.findall(r'<tr data-change="(\w+)"><td><code>([^<]*)</code></td><td><code>([^<]*)</code></td><td><code>([^<]*)</code>', page)
    assert rows == [("added", "system.system_id", "—", "b2")], rows


def test_job_page_shows_results_in_words(world, fleets):
    """Issue 13 item 14: results as people read them, never a Python dict."""
    from jobs import services
    from jobs.models import ItemStatus, JobItem

    tenant = world.tenants[0]
    alpha, bravo = fleets[tenant.pk][:2]
    user = world.actor(Role.FULL_ACCESS, "org", 0).user
    job = services.job_create(user=user, tenant=tenant, kind="speed_test", router_ids=[alpha.pk, bravo.pk])
    JobItem.objects.filter(job=job, router=alpha).update(status=ItemStatus.SUCCEEDED, result={"modems": [
        {"net_device": 1, "state": "success", "download_mbps": 58.34, "message": "TCP Download … 58.34 Mbps"}]})
    JobItem.objects.filter(job=job, router=bravo).update(status=ItemStatus.SUCCEEDED, result={"modems": [
        {"net_device": 2, "state": "success", "latency_ms": 35.2, "message": "TCP Latency … 35.2 ms"}]})
    page = body(login(user).get(f"/t/{tenant.pk}/jobs/{job.pk}/"))
    assert "58.3 Mbps down" in page and "latency 35 ms" in page
    assert "{&#x27;" not in page and "{'" not in page
    assert "2 of 2 succeeded" in page


def test_wizard_shows_the_chosen_kinds_parameters_and_one_current_step(world, fleets):
    """Issue 13 item 15: parameters of the chosen kind only; one step highlighted."""
    import re

    tenant = world.tenants[0]
    alpha = fleets[tenant.pk][0]
    client = login(world.actor(Role.ADMIN, "org", 0).user)
    page = body(client.get(f"/t/{tenant.pk}/jobs/new/", {"kind": "speed_test"}))
    blocks = dict(re.findall(r'<div data-kind="(\w+)" (hidden)?', page))
    assert blocks == {"reboot": "hidden", "speed_test": "", "config_push": "hidden", "firmware_upgrade": "hidden"}, blocks
    assert len(re.findall(r'<li data-step="\d" class="current"', page)) == 1
    preview = body(client.post(f"/t/{tenant.pk}/jobs/new/", {"kind": "reboot", "routers": [alpha.pk], "step": "preview"}))
    assert re.findall(r'<li data-step="(\d)" class="current"', preview) == ["4"]
    missing = client.post(f"/t/{tenant.pk}/jobs/new/", {"routers": [alpha.pk], "step": "preview"})
    assert missing.status_code == 400 and "Choose what the job does" in body(missing)


def test_wizard_filter_keeps_chosen_routers(world, fleets):
    """Issue 13 item 15: changing the filter keeps routers chosen under another filter."""
    tenant = world.tenants[0]
    alpha, _, charlie, _ = fleets[tenant.pk]
    client = login(world.actor(Role.ADMIN, "org", 0).user)
    # charlie (offline) was chosen, then the filter changes to online routers only.
    page = body(client.get(f"/t/{tenant.pk}/jobs/new/", {"state": "online", "routers": [charlie.pk, alpha.pk]}))
    form = page.split('id="job-form"')[1]
    assert f'<input type="hidden" name="routers" value="{charlie.pk}" data-kept="1">' in form
    assert f'id="pick-{alpha.pk}" checked' in form and "1 chosen router not shown by this filter stays chosen" in form
    confirm = client.post(f"/t/{tenant.pk}/jobs/new/", {"kind": "reboot", "routers": [charlie.pk, alpha.pk], "state": "online",
                                                          "step": "confirm"})
    assert confirm.status_code == 302
    assert sorted(Job.objects.get().target_router_ids) == sorted([alpha.pk, charlie.pk])


def test_wizard_names_groups_of_one_name_by_account(world, fleets):
    from ncm_sync.models import Account, Group

    from tests.fleet import mirror_row as _mirror

    tenant = world.tenants[0]
    first = Group.objects.get(tenant=tenant)
    east = _mirror(Account, tenant, 77, name="East stores")
    west = _mirror(Account, tenant, 78, name="West stores")
    first.account = east
    first.save()
    _mirror(Group, tenant, 79, name=first.name, account=west)
    page = body(login(world.actor(Role.ADMIN, "org", 0).user).get(f"/t/{tenant.pk}/jobs/new/"))
    assert f"{first.name} (account East stores)" in page and f"{first.name} (account West stores)" in page
    # One name in one account: NCM's id tells them apart.
    _mirror(Group, tenant, 80, name=first.name, account=west)
    page = body(login(world.actor(Role.ADMIN, "org", 0).user).get(f"/t/{tenant.pk}/jobs/new/"))
    assert f"{first.name} (account West stores, NCM id 79)" in page and f"{first.name} (account West stores, NCM id 80)" in page


def test_wizard_schedules_a_job_or_waits_for_a_window(world, fleets):
    """Issue 13 item 15: the wizard can schedule (`scheduled_for`) or wait for a maintenance window, as the API can."""
    from datetime import datetime, time as dtime, timedelta
    from zoneinfo import ZoneInfo

    from jobs.models import MaintenanceWindow

    tenant = world.tenants[0]
    alpha = fleets[tenant.pk][0]
    client = login(world.actor(Role.ADMIN, "org", 0).user)
    zone = ZoneInfo(tenant.timezone)
    at = (datetime.now(zone) + timedelta(days=2)).replace(second=0, microsecond=0)
    base = {"kind": "reboot", "routers": [alpha.pk]}
    preview = body(client.post(f"/t/{tenant.pk}/jobs/new/", {**base, "step": "preview", "when": "at",
                                                               "scheduled_for": at.strftime("%Y-%m-%dT%H:%M")}))
    assert f"at {at:%A %Y-%m-%d %H:%M} ({tenant.timezone})" in preview
    past = client.post(f"/t/{tenant.pk}/jobs/new/", {**base, "step": "confirm", "when": "at", "scheduled_for": "2020-01-01T10:00"})
    assert past.status_code == 400 and "has passed" in body(past) and not Job.objects.exists()
    response = client.post(f"/t/{tenant.pk}/jobs/new/", {**base, "step": "confirm", "when": "at",
                                                           "scheduled_for": at.strftime("%Y-%m-%dT%H:%M")})
    job = Job.objects.get()
    assert response.status_code == 302 and job.status == "scheduled" and job.scheduled_for == at

    no_window = client.post(f"/t/{tenant.pk}/jobs/new/", {**base, "step": "confirm", "when": "window"})
    assert no_window.status_code == 400 and "no enabled maintenance window" in body(no_window)
    MaintenanceWindow.objects.create(tenant=tenant, weekday=(datetime.now(zone) + timedelta(days=3)).weekday(),
                                     start_time=dtime(2, 0), duration_minutes=60)
    assert client.post(f"/t/{tenant.pk}/jobs/new/", {**base, "step": "confirm", "when": "window"}).status_code == 302
    waiting = Job.objects.get(wait_for_window=True)
    assert waiting.status == "scheduled" and waiting.scheduled_for.astimezone(zone).time() == dtime(2, 0)


def test_wizard_speed_test_of_download_upload_and_latency(world, fleets):
    tenant = world.tenants[0]
    alpha = fleets[tenant.pk][0]
    client = login(world.actor(Role.ADMIN, "org", 0).user)
    data = {"kind": "speed_test", "routers": [alpha.pk], "test_type": "all"}
    preview = body(client.post(f"/t/{tenant.pk}/jobs/new/", {**data, "step": "preview"}))
    assert "download, upload and latency (three NCM speed tests)" in preview
    assert client.post(f"/t/{tenant.pk}/jobs/new/", {**data, "step": "confirm"}).status_code == 302
    assert Job.objects.get().parameters["test_types"] == ["TCP Download", "TCP Upload", "TCP Latency"]


def test_wizard_rollout_preset_approval_and_job_page_buttons(world, fleets):
    """Issue 16: the wizard offers waves and says what needs approval; the job page approves, rejects, resumes."""
    tenant = world.tenants[0]
    org = tenant.organization
    org.job_approval_threshold = 2
    org.save()
    routers = fleets[tenant.pk]
    creator = login(world.actor(Role.FULL_ACCESS, "org", 0).user)
    form = body(creator.get(f"/t/{tenant.pk}/jobs/new/"))
    assert "1 device, then 10%, then the rest" in form and 'id="approval-threshold"' in form
    data = {"kind": "reboot", "routers": [r.pk for r in routers], "rollout": "canary", "halt_after_failures": "1",
            "pause_minutes": "0"}
    preview = body(creator.post(f"/t/{tenant.pk}/jobs/new/", {**data, "step": "preview"}))
    assert 'id="approval-warning"' in preview and "Needs approval" in preview and 'id="rollout-plan"' in preview
    bad = creator.post(f"/t/{tenant.pk}/jobs/new/", {**data, "rollout": "custom", "waves": "0", "step": "preview"})
    assert bad.status_code == 400 and "wave size" in body(bad)
    response = creator.post(f"/t/{tenant.pk}/jobs/new/", {**data, "step": "confirm"})
    job = Job.objects.get()
    assert response.status_code == 302 and job.status == "awaiting_approval" and job.rollout["waves"] == [1, "10%"]
    page = body(creator.get(response.url))
    assert 'id="approval-note"' in page and 'id="approve-job"' not in page  # not one's own job
    assert creator.post(f"/t/{tenant.pk}/jobs/{job.pk}/approve/").status_code == 403
    reader = login(world.actor(Role.READ_ONLY, "org", 0).user)
    assert reader.post(f"/t/{tenant.pk}/jobs/{job.pk}/approve/").status_code == 403
    second = login(world.actor(Role.ADMIN, "org", 0).user)
    page = body(second.get(f"/t/{tenant.pk}/jobs/{job.pk}/"))
    assert 'id="approve-job"' in page and 'id="reject-job"' in page
    assert second.post(f"/t/{tenant.pk}/jobs/{job.pk}/approve/").status_code == 302
    job.refresh_from_db()
    assert job.status == "pending" and job.approved_by_id == world.actor(Role.ADMIN, "org", 0).user.pk
    # A halted rollout shows its waves, the reason and Resume.
    from jobs import services

    services.job_start(job.pk)
    from jobs.models import JobItem

    JobItem.objects.filter(job=job, wave=0).update(status="failed", error="boom")
    assert services.rollout_next_wave(job.pk) is False
    page = body(second.get(f"/t/{tenant.pk}/jobs/{job.pk}/"))
    assert 'id="halt-reason"' in page and 'id="job-waves"' in page and 'id="resume-job"' in page
    assert second.post(f"/t/{tenant.pk}/jobs/{job.pk}/resume/").status_code == 302
    job.refresh_from_db()
    assert job.status == "running" and job.current_wave == 1
