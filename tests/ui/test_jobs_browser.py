"""Browser tests of the job wizard (issue 13 items 4 and 15): a person signs in to the tenant's jobs page and from
there only clicks, types and picks (no `goto` after the first page), against simulator data, Celery eager."""
from __future__ import annotations

import pytest

from tests.ui.test_browser import PASSWORD, browser, page, pytestmark, shot, sim_world  # noqa: F401  (fixtures)


@pytest.fixture
def eager():
    from portal.celery import app

    app.conf.task_always_eager = True
    yield
    app.conf.task_always_eager = False


def open_jobs_page(pg, base: str, tenant, username: str = "msp-tech") -> None:
    """The one `goto`: the sign-in page, which leads to the tenant's jobs page."""
    pg.goto(f"{base}/login/?next=/t/{tenant.pk}/jobs/")
    pg.fill("#id_username", username)
    pg.fill("#id_password", PASSWORD)
    pg.click("main button[type=submit]")
    pg.wait_for_selector("#new-job")


def shots(pg, name: str) -> None:
    """Screenshots at the issue's sizes (test-artifacts/screenshots/<name>-1440.png, -390.png)."""
    for width, height in ((1440, 900), (390, 844)):
        pg.set_viewport_size({"width": width, "height": height})
        shot(pg, f"{name}-{width}")
    pg.set_viewport_size({"width": 1280, "height": 900})


def current_steps(pg) -> list[str]:
    return pg.eval_on_selector_all("#wizard-steps li.current", "els => els.map(e => e.dataset.step)")


def visible_parameters(pg) -> list[str]:
    return pg.eval_on_selector_all("#job-form [data-kind]", "els => els.filter(e => !e.hidden).map(e => e.dataset.kind)")


def wait_for_filter(pg, router_pk: int, shown: bool) -> None:
    state = "attached" if shown else "detached"
    pg.wait_for_selector(f"#pick-{router_pk}", state=state)


def _routers(tenant):
    from ncm_sync.models import Router

    live = Router.objects.filter(tenant=tenant, deleted_at__isnull=True).order_by("name")
    return list(live.filter(state="online")[:1]), list(live.filter(state="offline")[:1])


def _reboot_online_and_offline(pg, base, tenant, *, skip_offline: bool):
    (online,), (offline,) = _routers(tenant)
    open_jobs_page(pg, base, tenant)
    pg.click("#new-job")
    pg.wait_for_selector("#job-form")
    # The offline router under one filter, the online one under another: both stay chosen.
    pg.select_option("#f-state", "offline")
    wait_for_filter(pg, online.pk, shown=False)
    pg.check(f"#pick-{offline.pk}")
    pg.select_option("#f-state", "online")
    wait_for_filter(pg, offline.pk, shown=False)
    pg.check(f"#pick-{online.pk}")
    pg.check("#job-form input[name=kind][value=reboot]")
    assert visible_parameters(pg) == ["reboot"]
    if skip_offline:
        pg.check("#offline-skip")
    pg.click("#preview-job")
    pg.wait_for_selector("#job-preview")
    # The preview says which target is offline and what will happen to it.
    assert pg.locator("#offline-warning").is_visible()
    warned = pg.locator(f"#preview-targets tr[data-router='{offline.pk}']")
    assert warned.get_attribute("data-warning") == "1" and "NCM drops reboot requests" in warned.inner_text()
    assert pg.locator(f"#preview-targets tr[data-router='{online.pk}']").get_attribute("data-warning") is None
    pg.click("#confirm-job")
    pg.wait_for_selector("#job-live")
    pg.wait_for_function("['succeeded','partial','failed'].includes(document.querySelector('#job-live').dataset.status)",
                         timeout=60000)
    rows = {r.get_attribute("data-status"): r.inner_text() for r in pg.locator("#job-items tbody tr").all()}
    return online, offline, rows


def test_reboot_wizard_offline_router_fails_saying_why(page, live_server, sim_world, eager):
    online, offline, rows = _reboot_online_and_offline(page, live_server.url, sim_world["bakery"], skip_offline=False)
    shots(page, "job-finished")
    assert page.get_attribute("#job-live", "data-status") == "partial"
    assert set(rows) == {"succeeded", "failed"}
    assert online.name in rows["succeeded"] and "Rebooted: NCM reported the reboot" in rows["succeeded"]
    assert offline.name in rows["failed"] and "offline" in rows["failed"] and "NCM drops reboot requests" in rows["failed"]
    assert "1 of 2 succeeded, 1 failed" in page.inner_text("#job-counts")
    with sim_world["fleet"].servers[0].state.lock:
        sent = [r["router_id"] for r in sim_world["fleet"].servers[0].state.reboots]
    assert sent == [online.ncm_id]  # nothing was sent to the offline router


def test_reboot_wizard_can_skip_offline_routers(page, live_server, sim_world, eager):
    online, offline, rows = _reboot_online_and_offline(page, live_server.url, sim_world["bakery"], skip_offline=True)
    assert page.get_attribute("#job-live", "data-status") == "succeeded"
    assert set(rows) == {"succeeded", "skipped"} and offline.name in rows["skipped"] and "Skipped" in rows["skipped"]


def test_wizard_steps_parameters_filters_groups_and_schedule(page, live_server, sim_world, eager):
    from datetime import datetime, timedelta
    from zoneinfo import ZoneInfo

    from jobs.models import Job
    from ncm_sync.models import Account, Group
    from tests.fleet import mirror_row as _mirror

    base, bakery = live_server.url, sim_world["bakery"]
    # Two groups of one name, in two accounts.
    first = Group.objects.filter(tenant=bakery, deleted_at__isnull=True).select_related("account").first()
    other_account = Account.objects.filter(tenant=bakery).exclude(pk=first.account_id).first()
    twin = _mirror(Group, bakery, "twin-1", name=first.name, account=other_account)
    (online,), (offline,) = _routers(bakery)

    open_jobs_page(page, base, bakery)
    page.click("#new-job")
    page.wait_for_selector("#job-form")
    assert current_steps(page) == ["1"] and visible_parameters(page) == [""]
    options = page.eval_on_selector_all("#f-group option", "os => os.map(o => o.textContent)")
    assert len(options) == len(set(options)), options  # every group named unambiguously
    twins = [o for o in options if o.startswith(f"{first.name} (account ")]
    assert len(twins) >= 2 and any(first.account.name in o for o in twins) and any(other_account.name in o for o in twins)
    assert page.locator(f"#group-{twin.pk}").count() == 1

    page.check(f"#pick-{offline.pk}")
    assert current_steps(page) == ["2"]
    # A filter that hides the chosen router keeps it chosen; back to any state, it is still ticked.
    page.select_option("#f-state", "online")
    wait_for_filter(page, offline.pk, shown=False)
    assert "stays chosen" in page.inner_text("#kept-selection")
    assert current_steps(page) == ["2"]
    page.select_option("#f-state", "")
    wait_for_filter(page, offline.pk, shown=True)
    assert page.is_checked(f"#pick-{offline.pk}")

    # Only the chosen kind's parameters.
    page.check("#job-form input[name=kind][value=speed_test]")
    assert visible_parameters(page) == ["speed_test"] and current_steps(page) == ["3"]
    page.check("#job-form input[name=kind][value=config_push]")
    assert visible_parameters(page) == ["config_push"] and page.locator("#p-diff").is_visible()
    assert not page.locator("#p-test").is_visible()
    page.check("#job-form input[name=kind][value=reboot]")
    assert visible_parameters(page) == ["reboot"]
    shots(page, "job-wizard")

    # Scheduled for a time in the tenant's time zone.
    zone = ZoneInfo(bakery.timezone)
    at = (datetime.now(zone) + timedelta(days=1)).replace(hour=22, minute=30, second=0, microsecond=0)
    page.fill("#scheduled-for", at.strftime("%Y-%m-%dT%H:%M"))
    assert page.is_checked("#when-at")
    page.click("#preview-job")
    page.wait_for_selector("#job-preview")
    assert current_steps(page) == ["4"]
    assert f"{at:%Y-%m-%d %H:%M}" in page.inner_text("#job-starts")
    page.click("#confirm-job")
    page.wait_for_selector("#job-live[data-status=scheduled]")
    job = Job.objects.get(tenant=bakery)
    assert job.status == "scheduled" and job.scheduled_for == at and job.target_router_ids == [offline.pk]
    shots(page, "job-scheduled")


def test_a_job_whose_start_task_was_lost_is_finished_by_the_sweep_and_the_page_follows(
        page, live_server, sim_world, eager, settings, monkeypatch):
    """Issue 13 item 1, as a person sees it: the start task of a job never runs (lost, or failed on the
    database); the job page says it is pending, then the sweep (beat, every minute) starts it, and the open
    page follows it to its end without a reload."""
    from jobs import tasks
    from jobs.models import Job
    from jobs.sweep import sweep_jobs

    monkeypatch.setattr(tasks.start_job_task, "delay", lambda *a, **k: None)  # the start task is lost
    settings.JOBS_START_GRACE_SECONDS = 0
    tenant = sim_world["bakery"]
    (online,), _ = _routers(tenant)
    open_jobs_page(page, live_server.url, tenant)
    page.click("#new-job")
    page.wait_for_selector("#job-form")
    page.check(f"#pick-{online.pk}")
    page.check("#job-form input[name=kind][value=reboot]")
    page.click("#preview-job")
    page.wait_for_selector("#job-preview")
    page.click("#confirm-job")
    page.wait_for_selector("#job-live")
    assert page.get_attribute("#job-live", "data-status") == "pending"
    job = Job.objects.get()
    assert job.status == "pending"
    done = sweep_jobs()  # what beat runs every minute
    assert job.pk in done["stranded"]
    page.wait_for_function("['succeeded','partial','failed'].includes(document.querySelector('#job-live').dataset.status)",
                           timeout=60000)
    assert page.get_attribute("#job-live", "data-status") == "succeeded"
    assert "Started by the sweep" in page.inner_text("main")


def test_wizard_pushes_config_to_access_points_from_the_dashboard(page, live_server, sim_world, eager):
    """Issue 15, as a person does it: from the tenant's dashboard to the wizard, pick two IgniteNet access points
    (reboot and speed test are disabled, saying why), type the changes as rows, preview, confirm; the job page
    shows both access points succeeded and the ecCloud simulator holds the new configuration."""
    from accounts.services import credential_save
    from devices.models import Device
    from eccloud_config import merge
    from eccloud_sim.testing import eccloud_server
    from jobs.models import Job
    from ncm_sync.services.runs import sync_tenant

    bakery, override = sim_world["bakery"], "radio/global/bandSteering"
    with eccloud_server(sites=1, devices_per_site=3, seed=7, api_key="tsecret-eccloud-browser-0123456789") as ecsim:
        for remote_id in list(ecsim.cloud.devices)[:2]:
            ecsim.cloud.update_device(remote_id, status_id="STATUS_ONLINE")
            ecsim.cloud.touch_config(remote_id, {override: {"value": "1", "origin": "site-device"}})
        credential_save(tenant=bakery, provider="eccloud", base_url=ecsim.base_url,
                        secrets_in={"api_key": "tsecret-eccloud-browser-0123456789"})
        assert sync_tenant(tenant_id=bakery.pk).status == "succeeded"
        points = list(Device.objects.filter(tenant=bakery, provider="eccloud", status="online").order_by("pk"))
        assert len(points) == 2

        # The one goto: sign in, landing on the tenant's dashboard.
        page.goto(f"{live_server.url}/login/?next=/t/{bakery.pk}/")
        page.fill("#id_username", "msp-tech")
        page.fill("#id_password", PASSWORD)
        page.click("main button[type=submit]")
        page.click("#dashboard-new-job")
        page.wait_for_selector("#pick-devices")
        for point in points:
            page.check(f"#pick-device-{point.pk}")
        assert "2 access points chosen" in page.inner_text("#selected-count")
        for kind in ("reboot", "speed_test", "firmware_upgrade"):
            assert page.is_disabled(f"#job-form input[name=kind][value={kind}]")
        assert "IgniteNet ecCloud has no reboot" in page.inner_text("#kind-reasons")
        page.check("#job-form input[name=kind][value=config_push]")
        assert visible_parameters(page) == ["config_push"]
        assert page.locator("#eccloud-changes").is_visible() and not page.locator("#p-diff").is_visible()
        page.fill("#change-key-1", "radio/r5/channel")
        page.fill("#change-value-1", "161")
        page.fill("#change-key-2", override)
        page.select_option("#change-op-2", "remove")
        page.click("#add-change-row")
        page.fill("#change-key-4", "hotspot/landingURL")
        page.fill("#change-value-4", "https://portal.example")
        shots(page, "job-wizard-eccloud")
        page.click("#preview-job")
        page.wait_for_selector("#device-preview")
        for point in points:
            changed = page.inner_text(f"#device-preview details[data-device='{point.pk}'] table")
            assert "radio/r5/channel" in changed and "161" in changed and override in changed
            assert "hotspot/landingURL" in changed
        assert ecsim.writes() == []
        shots(page, "job-preview-eccloud")
        page.click("#confirm-job")
        page.wait_for_selector("#job-live")
        page.wait_for_function("['succeeded','partial','failed'].includes(document.querySelector('#job-live').dataset.status)",
                               timeout=60000)
        assert page.get_attribute("#job-live", "data-status") == "succeeded"
        rows = page.inner_text("#job-items")
        assert all(point.name in rows for point in points) and "the device applied them" in rows
        job = Job.objects.get(tenant=bakery)
        assert job.parameters == {"changes": {"radio/r5/channel": "161", override: None,
                                              "hotspot/landingURL": "https://portal.example"}}
        for point in points:
            current = ecsim.cloud.config_changes(point.remote_id)
            config = {k: v["value"] for k, v in merge(current["site"], current["device"]).items()}
            assert config["radio/r5/channel"] == "161" and config[override] == "0"
            assert config["hotspot/landingURL"] == "https://portal.example"
