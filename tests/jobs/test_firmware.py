"""Firmware upgrades through NCM groups (issue 16), against the NCM simulator: versions resolved per product from
/firmwares/, refused with 400 naming the problem, one group PATCH each, items settled from NCM's routers and
alerts; the firmware inventory per tenant and across the MSP."""
from __future__ import annotations

from collections import Counter

import pytest

from accounts.roles import Role
from jobs import services
from jobs.models import ItemStatus, Job, JobItem, JobStatus
from ncm_sync.models import Group, Router
from tests.factories import make_org, make_user
from tests.fleet import sim_keys
from tests.jobs.test_jobs_sim import drain, synced_tenant

pytestmark = pytest.mark.django_db(transaction=True)

LATEST = "7.25.0"


def _two_groups(tenant):
    groups = sorted(Group.objects.filter(tenant=tenant, deleted_at__isnull=True),
                    key=lambda g: -g.routers.filter(deleted_at__isnull=True).exclude(firmware=LATEST).count())
    chosen = groups[:2]
    assert len(chosen) == 2 and all(g.routers.exclude(firmware=LATEST).exists() for g in chosen)
    return chosen


def test_firmware_upgrade_across_two_groups_with_seeded_failures(sims, client_for):
    sim = sims.start(routers=80, seed=81, keys=sim_keys("fw1"), upgrade_failure_rate=0.0)
    org = make_org()
    tenant = synced_tenant(sim, org)
    admin, reader = make_user(org=org, role=Role.ADMIN), make_user(org=org, role=Role.READ_ONLY)
    groups = _two_groups(tenant)
    members = list(Router.objects.filter(group__in=groups, deleted_at__isnull=True).order_by("pk"))
    failing = []
    for group in groups:  # one online router per group that needs the upgrade fails it (NCM's alert says why)
        router = next(r for r in members if r.group_id == group.pk and r.state == "online" and r.firmware != LATEST)
        failing.append(router)
        sim.state.failing_upgrades.add(router.ncm_id)
    api = client_for(admin)

    def post(**body):
        return api.post("/api/v1/jobs/", {"tenant": tenant.pk, "kind": "firmware_upgrade", **body}, format="json")

    # Refusals name the problem; nothing is written to NCM.
    sim.reset_counters()
    missing = post(groups=[g.pk for g in groups], parameters={"version": "9.9.9"})
    assert missing.status_code == 400 and "9.9.9 does not exist" in str(missing.json()) and groups[0].name in str(missing.json())
    older = post(groups=[g.pk for g in groups], parameters={"version": "7.23.40"})
    assert older.status_code == 400 and "older than" in str(older.json()) and "allow_downgrade" in str(older.json())
    named = post(routers=[members[0].pk], parameters={"version": LATEST})
    assert named.status_code == 400 and "targets groups" in str(named.json()["routers"])
    assert post(groups=[groups[0].pk], parameters={}).status_code == 400
    assert client_for(reader).post("/api/v1/jobs/", {"tenant": tenant.pk, "kind": "firmware_upgrade", "groups": [groups[0].pk],
                                                     "parameters": {"version": LATEST}}, format="json").status_code == 403
    assert not Job.objects.exists() and not any(k.startswith(("PATCH", "POST", "PUT")) for k in sim.state.calls)

    preview = api.post("/api/v1/jobs/preview/", {"tenant": tenant.pk, "kind": "firmware_upgrade",
                                                 "groups": [g.pk for g in groups], "parameters": {"version": LATEST}},
                       format="json")
    assert preview.status_code == 200 and len(preview.json()["targets"]) == len(members)

    inventory = api.get(f"/api/v1/routers/firmware-inventory/?tenant={tenant.pk}").json()
    assert {g.pk for g in groups} <= {row["group"] for row in inventory["groups_behind"]}
    assert sum(row["routers"] for row in inventory["versions"]) == Router.objects.filter(tenant=tenant, deleted_at__isnull=True).count()

    response = post(groups=[g.pk for g in groups], parameters={"version": LATEST, "timeout_minutes": 0.05})
    assert response.status_code == 201, response.content
    job = drain(Job.objects.get(pk=response.json()["id"]))

    # One PATCH of each group's target firmware (never one per router, never twice).
    assert sim.state.calls["PATCH groups/{id}"] == 2
    for group in groups:
        row = sim.state.tables["groups"][group.ncm_id]
        assert sim.state.tables["firmwares"][row["target_firmware"].rstrip("/").rsplit("/", 1)[-1]]["version"] == LATEST
    items = {i.router_id: i for i in JobItem.objects.filter(job=job)}
    assert set(items) == {r.pk for r in members}
    for router in members:
        item = items[router.pk]
        actual = sim.state.tables["routers"][router.ncm_id]["actual_firmware"].rstrip("/").rsplit("/", 1)[-1]
        if router in failing:
            assert item.status == ItemStatus.FAILED and "failed: install_timeout" in item.error, item.error
        elif router.state == "online" or router.firmware == LATEST:
            assert item.status == ItemStatus.SUCCEEDED, (router.state, router.firmware, item.error)
            assert sim.state.tables["firmwares"][actual]["version"] == LATEST
        else:  # offline and behind: it upgrades when back online; the job does not wait past its timeout
            assert item.status == ItemStatus.UNKNOWN and "not online" in item.error, item.error
    statuses = Counter(items[r.pk].status for r in members)
    assert statuses[ItemStatus.FAILED] == 2 and statuses[ItemStatus.SUCCEEDED] > 2
    assert job.status == JobStatus.PARTIAL

    # Retrying the failed items retries their groups (NCM upgrades through groups).
    retry = services.job_retry_failed(job=job, user=admin)
    assert retry.kind == "firmware_upgrade" and sorted(retry.target_group_ids) == sorted(g.pk for g in groups)


def test_firmware_rollout_waves_take_whole_groups(sims):
    sim = sims.start(routers=80, seed=82, keys=sim_keys("fw2"), upgrade_failure_rate=0.0)
    org = make_org()
    tenant = synced_tenant(sim, org)
    admin = make_user(org=org, role=Role.ADMIN)
    groups = _two_groups(tenant)
    job = services.job_create(user=admin, tenant=tenant, kind="firmware_upgrade", group_ids=[g.pk for g in groups],
                              parameters={"version": LATEST, "timeout_minutes": 0.05}, rollout={"waves": [1]})
    services.job_start(job.pk)
    job.refresh_from_db()
    first = Router.objects.filter(group=groups[0] if groups[0].pk < groups[1].pk else groups[1], deleted_at__isnull=True)
    assert job.rollout["wave_sizes"] == [first.count(), JobItem.objects.filter(job=job).count() - first.count()]
    assert set(JobItem.objects.filter(job=job, wave=0).values_list("router_id", flat=True)) == set(first.values_list("pk", flat=True))


def test_firmware_inventory_across_the_msp(sims, client_for):
    org = make_org()
    sim_a, sim_b = sims.start(routers=15, seed=83, keys=sim_keys("fw3")), sims.start(routers=15, seed=84, keys=sim_keys("fw4"))
    tenant_a, tenant_b = synced_tenant(sim_a, org), synced_tenant(sim_b, org)
    admin = make_user(org=org, role=Role.ADMIN)
    customer = make_user(tenant=tenant_a, role=Role.READ_ONLY)
    everything = client_for(admin).get("/api/v1/routers/firmware-inventory/").json()
    assert sum(r["routers"] for r in everything["versions"]) == Router.objects.filter(deleted_at__isnull=True).count()
    assert any(r["tenants"] == 2 for r in everything["versions"]) or len(everything["versions"]) > 1
    own = client_for(customer).get("/api/v1/routers/firmware-inventory/").json()
    assert sum(r["routers"] for r in own["versions"]) == Router.objects.filter(tenant=tenant_a, deleted_at__isnull=True).count()
    assert {row["tenant"] for row in own["groups_behind"]} <= {tenant_a.pk}
    assert client_for(customer).get(f"/api/v1/routers/firmware-inventory/?tenant={tenant_b.pk}").status_code in (200, 400)
    leaked = client_for(customer).get(f"/api/v1/routers/firmware-inventory/?tenant={tenant_b.pk}")
    if leaked.status_code == 200:
        assert leaked.json() == {"versions": [], "groups_behind": []}
