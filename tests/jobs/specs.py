"""Isolation-test specs for jobs, job items, speed test results and maintenance windows."""
from __future__ import annotations

import datetime

from jobs.models import Job, JobItem, MaintenanceWindow, OrgJob, SpeedTestResult
from ncm_sync.models import Router
from tests.api_specs import Spec, register
from tests.fleet import mirrored

make_router = mirrored(Router, name="rtr", state="online")


def _job(tenant):
    return Job.objects.create(tenant=tenant, kind="reboot", status="succeeded", counts={"total": 0})


def _item(tenant):
    return JobItem.objects.create(job=_job(tenant), tenant=tenant, router=make_router(tenant), status="succeeded")


register(
    "jobs.Job",
    Spec(make=_job, create_payload=lambda t: {"tenant": t.pk, "kind": "reboot", "routers": [make_router(t).pk]}),
)
register("jobs.JobItem", Spec(make=_item))
register("jobs.SpeedTestResult", Spec(make=lambda t: SpeedTestResult.objects.create(tenant=t, state="success", download_mbps=10)))
register(
    "jobs.MaintenanceWindow",
    Spec(
        make=lambda t: MaintenanceWindow.objects.create(tenant=t, weekday=1, start_time=datetime.time(2, 0)),
        create_payload=lambda t: {"tenant": t.pk, "weekday": 6, "start_time": "03:00", "duration_minutes": 60},
        update_payload=lambda: {"duration_minutes": 30},
    ),
)
register(
    "jobs.OrgJob",
    Spec(
        make=lambda t: OrgJob.objects.create(organization=t.organization, kind="reboot", status="succeeded", counts={"total": 0}),
        create_payload=lambda t: {"organization": t.organization_id, "kind": "reboot",
                                  "targets": [{"tenant": t.pk, "routers": [make_router(t).pk]}]},
    ),
)
